"""Turn the freshly unshared tool server into a sandbox (stdlib only; runs inside).

The tool server starts as PID 1 of new PID/mount/UTS/IPC namespaces (``unshare --fork``),
still seeing the host's mounts. ``enter`` then builds the session's filesystem view on the
overlay root the runtime mounted, pivots into it and drops privileges. It must run before
the tool server starts any thread: capabilities and no_new_privs are per thread and are
inherited only by threads and children created afterwards.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys

from . import seccomp
from . import syscalls as sc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# What a root shell in a session needs (the tools run the user's commands as root:
# package managers chown, switch users and set file capabilities; servers bind ports
# below 1024): Docker's default set minus NET_RAW (packet sockets), MKNOD (device nodes),
# SYS_CHROOT (no tool or package step needs chroot, and it is a classic step of escapes)
# and AUDIT_WRITE (the kernel refuses audit messages from a user namespace anyway; in the
# host's it would write into the host's audit log).
KEEP_CAPABILITIES = frozenset(
    {
        0,  # CHOWN
        1,  # DAC_OVERRIDE
        3,  # FOWNER
        4,  # FSETID
        5,  # KILL
        6,  # SETGID
        7,  # SETUID
        8,  # SETPCAP
        10,  # NET_BIND_SERVICE
        31,  # SETFCAP
    }
)

# Device nodes a session gets (bind-mounted from the host's /dev).
_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
# /proc entries that reveal or change host kernel state; mounted read-only or masked.
_PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus", "fs")
# Docker's masked paths, plus cmdline (the host's boot arguments) and kallsyms.
_PROC_MASKED_FILES = (
    "cmdline",
    "kcore",
    "keys",
    "timer_list",
    "timer_stats",
    "sched_debug",
    "latency_stats",
    "kallsyms",
)
_PROC_MASKED_DIRS = ("acpi", "asound", "scsi")
# /sys entries masked as Docker does: firmware tables (ACPI, DMI: serial numbers) and
# powercap (RAPL energy counters, a side channel).
_SYS_MASKED_DIRS = ("firmware", "devices/virtual/powercap")

_SAFE = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC

#: Where the tool server's code and interpreter appear in every session, read-only: fixed
#: paths, so nothing of the host's layout (a checkout, its venv) shows inside.
FIXED_ROOT = "/.agentbay"
FIXED_CODE = FIXED_ROOT + "/inside"
FIXED_PYTHON = FIXED_ROOT + "/python"


def host_pid() -> int:
    """This process's PID as the host sees it (the inherited /proc is the host's)."""
    return int(os.readlink("/proc/self"))


def enter(
    root: str,
    hide: list[str],
    hostname: str,
    runtime: dict[str, str | None] | None = None,
) -> None:
    """Build the sandbox's mounts under ``root``, pivot into it and drop privileges.

    ``root`` is the session's overlay: ``"."``, the working directory, when the runtime
    mounted it in the host namespace (root mode), else (rootless) the path where
    ``mount_rootless_root`` mounted it. ``hide`` are host paths to cover
    with an empty read-only tmpfs (the runtime's data dir, whose other sessions' upper dirs
    are otherwise readable through the lower layer). ``runtime`` names the host
    directories of the tool server's code and interpreter (``code``, ``python``: None on an
    image's own interpreter): they appear read-only at ``FIXED_CODE`` and ``FIXED_PYTHON``
    (see ``mount_runtime``).
    """
    # unshare already made the copy private; repeat it so nothing we mount can ever
    # propagate back to the host, whatever the unshare defaults are.
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    if not os.path.isabs(root):
        _own_working_directory()
    _mount_proc(root)
    _mount_dev(root)
    _mount_sys(root)
    _copy_dangling_config(root)
    if runtime:
        mount_runtime(root, str(runtime["code"]), runtime.get("python"))
    for path in hide:
        target = root + path
        if os.path.isdir(target):
            sc.mount("tmpfs", target, "tmpfs", sc.MS_RDONLY | _SAFE, "size=4k,mode=755")
    # pivot_root(".", ".") stacks the old root under the new one; detaching it leaves the
    # overlay as the only view of a filesystem this namespace has.
    os.chdir(root)
    sc.pivot_root(".", ".")
    sc.umount2(".", sc.MNT_DETACH)
    os.chdir("/")
    sc.sethostname(hostname)
    drop_privileges()


def _own_working_directory() -> None:
    """Stack a copy of the working directory's mount tree, made in this namespace, on it
    and move into the copy.

    As root, the tool server starts in the session's root, the namespace's copy of a mount
    the runtime made in the host's: a locked mount (a user namespace may not take apart
    what a more privileged one put together), and pivot_root refuses a locked new root.
    """
    tree = sc.open_tree_clone(".")
    try:
        sc.move_mount(tree, ".")
        os.fchdir(tree)
    finally:
        os.close(tree)


def mount_runtime(root: str, code: str, python: str | None) -> None:
    """Show the tool server's code (the host directory ``code``, the package ``inside``)
    and interpreter (its installation prefix ``python``; None when the session runs on an
    image's own) read-only at ``FIXED_CODE`` and ``FIXED_PYTHON`` under ``root``.

    A small read-only tmpfs at ``FIXED_ROOT`` holds the mount points, and each directory
    is an overlay of the host's one over an empty layer (a read-only overlay needs two):
    a bind mount would show the host path in the session's mountinfo, an overlay shows
    only the descriptors it was given (``mount_overlay``). The session's own layer gets
    just the empty directory ``FIXED_ROOT``.
    """
    base = root + FIXED_ROOT
    os.makedirs(base, mode=0o755, exist_ok=True)
    sc.mount("tmpfs", base, "tmpfs", _SAFE, "size=16k,mode=755")
    for name in ("inside", "python", ".empty"):
        os.mkdir(f"{base}/{name}", 0o755)
    read_only = sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV
    mount_overlay(root + FIXED_CODE, [code, f"{base}/.empty"], flags=read_only)
    if python is not None:
        mount_overlay(root + FIXED_PYTHON, [python, f"{base}/.empty"], flags=read_only)
    sc.mount(None, base, None, sc.MS_REMOUNT | sc.MS_RDONLY | _SAFE)


def mount_rootless_root(root: str, top: dict[str, Any], overlays: list[dict[str, Any]]) -> int:
    """Rootless (root of a user namespace of its own): mount the session's root at
    ``root`` and each system directory's overlay on it.

    ``top`` is the overlay of the root (``lower``: its layers, topmost first: an image's
    layers and root filesystem, or the skeleton of the host's top level ``layers`` laid
    out; ``upper``, ``work``); each of ``overlays`` one of a host system directory (``target``,
    ``lower``, ``upper``, ``work``, ``private``). A directory whose overlay the kernel
    refuses (a host submount below it, which the session's namespace may not uncover: a
    container's bind-mounted /etc/hosts, Docker's mounts in /var/lib/docker, a build's
    /proc under /var/tmp) is shown read-only instead, submounts and all, each directory of
    its ``private`` (``tmp`` of ``/var``) covered by an empty one of the session's writable
    layer; ``/run`` (the host's sockets) is never shown. Returns a
    descriptor of a copy of this tree taken before any sandbox mount (``/proc``, ``/dev``,
    the tool server's code) exists: the runtime's view of the session's files, as the host
    overlay mount is in root mode.
    """
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    mount_overlay(root, list(top["lower"]), top["upper"], top["work"], extra=("userxattr",))
    for overlay in overlays:
        target, lower = overlay["target"], overlay["lower"]
        try:
            mount_overlay(target, [lower], overlay["upper"], overlay["work"], extra=("userxattr",))
        except OSError as exc:
            print(f"toolserver: {lower} is read-only in this session: {exc}", file=sys.stderr)
            _bind_read_only(lower, target)
            for name in overlay.get("private", ()):
                own = f"{overlay['upper']}/{name}"
                os.makedirs(own, exist_ok=True)
                os.chmod(own, 0o1777)
                sc.mount(own, f"{target}/{name}", None, sc.MS_BIND)
    return sc.open_tree_clone(root)


def _bind_read_only(source: str, target: str) -> None:
    """Show ``source`` at ``target`` read-only, its submounts too. A bind without them is
    refused inside a user namespace when ``source`` has submounts of a more privileged
    namespace (they would uncover what lies beneath), so the copy takes them all, each
    made read-only, without setuid or devices."""
    tree = sc.open_tree_clone(source, recursive=True)
    try:
        attributes = sc.MOUNT_ATTR_RDONLY | sc.MOUNT_ATTR_NOSUID | sc.MOUNT_ATTR_NODEV
        sc.mount_setattr(tree, attributes, recursive=True)
        sc.move_mount(tree, target)
    finally:
        os.close(tree)


def mount_overlay(
    target: str,
    lower: list[str],
    upper: str | None = None,
    work: str | None = None,
    *,
    flags: int = sc.MS_NOSUID | sc.MS_NODEV,
    extra: tuple[str, ...] = (),
) -> None:
    """Mount an overlay of the directories ``lower`` (topmost first), writable into
    ``upper`` (with ``work``) when given, at ``target`` (volatile where the kernel has it).

    Each layer is named by a descriptor of this process (``/proc/self/fd/N``), not by its
    path: the options are what ``/proc/self/mountinfo`` shows inside the session, and
    must not reveal the host's paths (the data dir, a checkout).
    """
    fds: list[int] = []

    def named(path: str) -> str:
        fds.append(os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
        return f"/proc/self/fd/{fds[-1]}"

    try:
        options = ["lowerdir=" + ":".join(named(path) for path in lower)]
        if upper is not None and work is not None:
            options += [f"upperdir={named(upper)}", f"workdir={named(work)}"]
        text = ",".join([*options, *extra])
        if upper is None:
            sc.mount("overlay", target, "overlay", flags, text)
            return
        try:
            # volatile: no syncs to disk, since the layer is deleted with the session.
            sc.mount("overlay", target, "overlay", flags, text + ",volatile")
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            sc.mount("overlay", target, "overlay", flags, text)  # kernel < 5.10
    finally:
        for fd in fds:
            os.close(fd)


def _copy_dangling_config(root: str) -> None:
    """Give the session a real copy of host config files that link into tmpfs mounts.

    With systemd-resolved, /etc/resolv.conf links to /run/..., a tmpfs the overlay does
    not show: the session would have no DNS. The copy lands in the session's own layer.
    """
    for path in ("/etc/resolv.conf", "/etc/hosts"):
        inside = root + path
        if not os.path.islink(inside):
            continue
        target = os.readlink(inside)
        base = root if target.startswith("/") else os.path.dirname(inside)
        if os.path.exists(os.path.normpath(os.path.join(base, target.lstrip("/")))):
            continue
        try:
            with open(path, "rb") as handle:  # the host's view, through its tmpfs mounts
                content = handle.read()
        except OSError:
            continue
        try:
            os.unlink(inside)
            with open(inside, "wb") as handle:
                handle.write(content)
        except OSError as exc:  # rootless: the host's /etc is not the session's to change
            print(f"toolserver: cannot copy {path} into the session: {exc}", file=sys.stderr)


def _mount_proc(root: str) -> None:
    proc = root + "/proc"
    os.makedirs(proc, exist_ok=True)
    sc.mount("proc", proc, "proc", _SAFE)
    for name in _PROC_READ_ONLY:
        path = f"{proc}/{name}"
        if os.path.exists(path):
            sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
            sc.mount(None, path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | _SAFE)
    for name in _PROC_MASKED_FILES:
        path = f"{proc}/{name}"
        if os.path.exists(path):
            sc.mount("/dev/null", path, None, sc.MS_BIND)
    for name in _PROC_MASKED_DIRS:
        path = f"{proc}/{name}"
        if os.path.isdir(path):
            sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY | _SAFE, "size=4k")


def _mount_dev(root: str) -> None:
    dev = root + "/dev"
    os.makedirs(dev, exist_ok=True)
    sc.mount("tmpfs", dev, "tmpfs", sc.MS_NOSUID | sc.MS_NOEXEC, "size=64k,mode=755")
    for name in _DEVICES:
        if os.path.exists(f"/dev/{name}"):
            # A bind mount needs an existing file to cover.
            os.close(os.open(f"{dev}/{name}", os.O_CREAT | os.O_WRONLY, 0o666))
            sc.mount(f"/dev/{name}", f"{dev}/{name}", None, sc.MS_BIND)
    os.mkdir(f"{dev}/pts", 0o755)
    devpts = "newinstance,ptmxmode=0666,mode=620"
    try:
        sc.mount("devpts", f"{dev}/pts", "devpts", sc.MS_NOSUID | sc.MS_NOEXEC, devpts + ",gid=5")
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        # A user namespace without subordinate ids has no group 5 (tty).
        sc.mount("devpts", f"{dev}/pts", "devpts", sc.MS_NOSUID | sc.MS_NOEXEC, devpts)
    os.symlink("pts/ptmx", f"{dev}/ptmx")
    os.mkdir(f"{dev}/shm", 0o1777)
    sc.mount("shm", f"{dev}/shm", "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, "mode=1777,size=64m")
    os.mkdir(f"{dev}/mqueue", 0o755)
    try:
        sc.mount("mqueue", f"{dev}/mqueue", "mqueue", _SAFE)
    except OSError:
        os.rmdir(f"{dev}/mqueue")  # kernels without POSIX message queues
    for link, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        os.symlink(target, f"{dev}/{link}")


def _mount_sys(root: str) -> None:
    sys_dir = root + "/sys"
    if not os.path.isdir(sys_dir):
        return
    try:
        # A fresh sysfs, read-only: no cgroupfs or other host submounts come with it.
        sc.mount("sysfs", sys_dir, "sysfs", sc.MS_RDONLY | _SAFE)
    except OSError:
        sc.mount("tmpfs", sys_dir, "tmpfs", sc.MS_RDONLY | _SAFE, "size=4k")
        return
    for name in _SYS_MASKED_DIRS:
        path = f"{sys_dir}/{name}"
        if os.path.isdir(path):
            sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY | _SAFE, "size=4k")


def drop_privileges() -> None:
    """Keep only ``KEEP_CAPABILITIES`` for this thread and everything it starts later, and
    bind them to the session's seccomp filter (``seccomp.py``)."""
    with open("/proc/sys/kernel/cap_last_cap") as handle:
        last_cap = int(handle.read())
    for cap in range(last_cap + 1):
        if cap not in KEEP_CAPABILITIES:
            sc.prctl(sc.PR_CAPBSET_DROP, cap)
    with contextlib.suppress(OSError):  # kernels before 4.3 have no ambient set
        sc.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_CLEAR_ALL)
    keep = 0
    for cap in KEEP_CAPABILITIES:
        keep |= 1 << cap
    # Inheritable stays empty: root's capabilities after execve are then exactly the
    # bounding set, i.e. KEEP_CAPABILITIES.
    sc.capset(keep, keep, 0)
    sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    # After no_new_privs, which a filter installed without CAP_SYS_ADMIN requires.
    seccomp.install()
    # Not dumpable: processes of the session cannot ptrace the tool server or open its
    # /proc/1/fd (its channel to the runtime) without CAP_SYS_PTRACE, which they lack.
    sc.prctl(sc.PR_SET_DUMPABLE, 0)
