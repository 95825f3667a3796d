"""User namespaces: every isolated session has its own, so its root is nobody on the host.

Rootless (the runtime is not root), a session's tool server is root in its namespace (the
runtime's user mapped to 0), with the capabilities of root over that namespace only:
enough to build its mount, PID, UTS and IPC namespaces and mount overlayfs
(``userxattr``), never more than the runtime's user has on the host. Where ``/etc/subuid``
and ``/etc/subgid`` give the user subordinate ids (and the setuid ``newuidmap``/``newgidmap``
of the uidmap package exist), ids 1..N of the session map onto them, so files and
processes of the session can belong to other users (``chown``, ``setpriv``); otherwise the
mapping is the one id. The host's own root (uid 0) is not mapped in the session, so the
host's system files are read-only there, whatever the session's root does.

As root, a session's ids 0-65535 are host ids nobody else uses (``root_mode_ids``): a
process that leaves the sandbox is an unprivileged stranger on the host. The host's ``/``
is then shown to the session through an idmapped mount (``idmapped_root``) whose owners are
shifted the same way, so the image's files belong to the session's root as they would in
a machine of its own, and its writes (copied up into its layer) are stored with the
shifted ids.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from agentbay.contract import get_logger
from agentbay_local.sandbox.host_programs import SANDBOX_PATH, unshare_binary
from agentbay_local.sandbox.inside import syscalls

log = get_logger("agentbay.local.sandbox")

#: How long removing a session's files as its namespace root may take.
REMOVE_TIMEOUT_S = 60.0
#: How long setting a hostname through nsenter may take.
NSENTER_TIMEOUT_S = 10.0


def rootless() -> bool:
    """True when sandboxes need their own user namespace (the runtime is not root)."""
    return os.geteuid() != 0


@dataclass(frozen=True)
class IdRange:
    """Subordinate ids of the user: ``count`` ids from ``start`` (``/etc/subuid`` syntax)."""

    start: int
    count: int


#: Host ids of a root-mode session's ids 0-65535 when ``/etc/subuid`` and ``/etc/subgid``
#: reserve no range for root: above what useradd hands out (SUB_UID_MAX, 600100000) and
#: systemd-nspawn's container ranges (up to 1879048191), below systemd's foreign range
#: (2147352576 on): ids no user or container of the host owns.
ROOT_MODE_IDS = IdRange(1879048192, 65536)
#: Ids a session has (its root and the system users an image's packages create).
SESSION_ID_COUNT = 65536
#: How long creating a user namespace (a short-lived ``unshare``) may take.
NAMESPACE_TIMEOUT_S = 10.0


@cache
def root_mode_ids() -> IdRange:
    """The host ids of a root-mode session's ids 0-65535: the range an administrator
    reserved for root in both ``/etc/subuid`` and ``/etc/subgid``, else ``ROOT_MODE_IDS``."""
    uids, gids = _own_range("/etc/subuid"), _own_range("/etc/subgid")
    if uids is not None and uids == gids and uids.count >= SESSION_ID_COUNT:
        return IdRange(uids.start, SESSION_ID_COUNT)
    return ROOT_MODE_IDS


def new_user_namespace(ids: IdRange) -> int:
    """A descriptor of a new user namespace whose ids 0..count-1 are the host's ``ids``.

    Root only: the runtime writes the maps itself (util-linux maps ranges only through
    ``newuidmap``, which wants an ``/etc/subuid`` entry). A short-lived ``unshare --user``
    holds the namespace while the maps are written; the descriptor keeps it afterwards.
    """
    unshare = unshare_binary()
    if unshare is None:
        raise RuntimeError("the util-linux 'unshare' program is not installed")
    holder = subprocess.Popen(
        [unshare, "--user", "--", "cat"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={"PATH": SANDBOX_PATH, "LANG": "C.UTF-8"},
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        # cat echoing a byte means unshare(2) is done: the namespace exists.
        holder.stdin.write(b"x")
        holder.stdin.flush()
        if holder.stdout.read(1) != b"x":
            raise RuntimeError("cannot create a user namespace: unshare --user failed")
        mapping = f"0 {ids.start} {ids.count}\n"
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{holder.pid}/{name}", "w") as handle:
                handle.write(mapping)
        return os.open(f"/proc/{holder.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        holder.stdin.close()
        holder.stdout.close()
        try:
            holder.wait(NAMESPACE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()


def idmapped_root(ids: IdRange, path: Path = Path("/")) -> int:
    """A descriptor of a detached, read-only view of the directory ``path`` (the host's
    ``/``, or an image's root filesystem; its filesystem only, no submounts) whose owners
    are shifted into ``ids``: uid 0 on disk is ``ids.start`` there, and so the root of a
    session mapped onto ``ids``."""
    namespace = new_user_namespace(ids)
    try:
        tree = syscalls.open_tree_clone(str(path), recursive=False)
        try:
            attributes = syscalls.MOUNT_ATTR_IDMAP | syscalls.MOUNT_ATTR_RDONLY
            syscalls.mount_setattr(tree, attributes | syscalls.MOUNT_ATTR_NOSUID, namespace)
        except OSError as exc:
            os.close(tree)
            raise RuntimeError(
                f"root-mode sessions need an idmapped view of {path} "
                f"(Linux 5.12+ and a filesystem that allows it: ext4, xfs, btrfs): {exc}"
            ) from exc
        return tree
    finally:
        os.close(namespace)


def _own_range(path: str) -> IdRange | None:
    """The first range ``path`` (``/etc/subuid`` or ``/etc/subgid``) grants this user."""
    uid = os.getuid()
    names = {str(uid)}
    with contextlib.suppress(KeyError):
        names.add(pwd.getpwuid(uid).pw_name)
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.strip().split(":")
        if len(fields) != 3 or fields[0] not in names:
            continue
        if fields[1].isdigit() and fields[2].isdigit() and int(fields[2]) > 0:
            return IdRange(int(fields[1]), int(fields[2]))
    return None


def _setuid_helper(name: str) -> bool:
    path = shutil.which(name) or f"/usr/bin/{name}"
    with contextlib.suppress(OSError):
        info = os.stat(path)
        return bool(info.st_mode & 0o4000) and info.st_uid == 0 and os.access(path, os.X_OK)
    return False


@dataclass(frozen=True)
class IdMapping:
    """How a session's ids map onto the host: the user as root, plus subordinate ranges."""

    uids: IdRange | None
    gids: IdRange | None

    def unshare_args(self) -> list[str]:
        """``unshare`` options that create the user namespace with this mapping."""
        args = ["--user", "--map-root-user"]
        if self.uids is not None and self.gids is not None:
            # util-linux runs newuidmap/newgidmap for these: ids 1.. of the session.
            args += [
                f"--map-users={self.uids.start},1,{self.uids.count}",
                f"--map-groups={self.gids.start},1,{self.gids.count}",
            ]
        return args

    def describe(self) -> str:
        """One line for humans: what the session's ids are on the host."""
        if self.uids is None or self.gids is None:
            return f"the session's root is uid {os.getuid()}, no other ids (no /etc/subuid range)"
        return (
            f"the session's root is uid {os.getuid()}, its ids 1-{self.uids.count} are "
            f"uids {self.uids.start}-{self.uids.start + self.uids.count - 1}"
        )


@cache
def id_mapping() -> IdMapping:
    """This user's mapping: subordinate ranges where both files and helpers allow them."""
    uids, gids = _own_range("/etc/subuid"), _own_range("/etc/subgid")
    if (
        uids is None
        or gids is None
        or not (_setuid_helper("newuidmap") and _setuid_helper("newgidmap"))
    ):
        return IdMapping(None, None)
    return IdMapping(uids, gids)


def missing_id_mapping() -> str | None:
    """Why sessions get only one id (no ``chown`` to other users in them), and
    how to give them more; None when subordinate ids are mapped."""
    if id_mapping().uids is not None:
        return None
    user = pwd.getpwuid(os.getuid()).pw_name if _has_passwd_entry() else str(os.getuid())
    if _own_range("/etc/subuid") is None or _own_range("/etc/subgid") is None:
        return (
            f"sessions have a single user id: /etc/subuid and /etc/subgid give {user} no "
            f"subordinate ids (as root: usermod --add-subuids 100000-165535 "
            f"--add-subgids 100000-165535 {user})"
        )
    return (
        "sessions have a single user id: newuidmap/newgidmap (setuid root) are missing "
        "(install the uidmap package: apt-get install uidmap)"
    )


def _has_passwd_entry() -> bool:
    try:
        pwd.getpwuid(os.getuid())
    except KeyError:
        return False
    return True


def set_hostname(pid: int, hostname: str) -> None:
    """Set the hostname of the sandbox whose PID 1 is ``pid`` (host PID), rootless.

    A multi-threaded process can never join a user namespace, and without joining it the
    runtime's user has no right to set the sandbox's hostname: a short ``nsenter`` does it,
    keeping its ids (entering the namespace gives it the capabilities there): by default
    nsenter would drop its groups, which a namespace without a group mapping by newgidmap
    (no uidmap package) refuses.
    """
    try:
        result = subprocess.run(
            [
                "nsenter",
                "--preserve-credentials",
                "-t",
                str(pid),
                "--user",
                "--uts",
                "--",
                "hostname",
                hostname,
            ],
            capture_output=True,
            timeout=NSENTER_TIMEOUT_S,
            env={"PATH": SANDBOX_PATH, "LANG": "C.UTF-8"},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OSError(f"cannot set the session's hostname: {exc}") from exc
    if result.returncode != 0:
        error = result.stderr.decode(errors="replace").strip()
        raise OSError(f"cannot set the session's hostname: {error or result.returncode}")


def remover_argv() -> list[str]:
    """The command that deletes the directory appended to it as root of a new user
    namespace with the sessions' mapping (empty without util-linux ``unshare``)."""
    unshare = unshare_binary()
    if unshare is None:
        return []
    return [unshare, *id_mapping().unshare_args(), "--", "rm", "-rf", "--"]


def remove_as_namespace_root(directory: Path) -> None:
    """Delete what the runtime's user cannot: files a session left under ``directory``
    owned by its subordinate ids, or in directories without permissions for the owner.

    Runs ``rm`` as root of a fresh user namespace with the sessions' mapping, which owns
    exactly those files (and nothing else of the host).
    """
    argv = remover_argv()
    if not argv or not directory.exists():
        return
    argv.append(str(directory))
    try:
        result = subprocess.run(
            argv,
            capture_output=True,
            timeout=REMOVE_TIMEOUT_S,
            env={"PATH": SANDBOX_PATH, "LANG": "C.UTF-8"},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("cannot delete %s: %s", directory, exc)
        return
    if result.returncode != 0:
        log.warning("cannot delete %s: %s", directory, result.stderr.decode(errors="replace"))
