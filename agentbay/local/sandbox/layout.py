"""Session directories and overlay mounts on the host.

``<data_dir>/sessions/<id>/`` holds ``upper/`` and ``work/`` (the overlay's writable
layer), ``root/`` (the merged view, mounted in the HOST mount namespace so the runtime can
read and write session files directly), ``home/`` (the working directory of unisolated
sessions) and ``toolserver.log`` (the tool server's stderr).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import stat
import sys
from pathlib import Path, PurePosixPath

from agentbay.local.sandbox.inside import syscalls

log = logging.getLogger("agentbay.local.sandbox")

#: Host directories every session gets empty and its own: scratch space, users' homes and
#: mount points hold the host's data (build trees, keys, sockets), not its operating system.
PRIVATE_DIRS = ("tmp", "var/tmp", "root", "home", "mnt", "media", "srv")
#: The top-level entries of a Linux system (FHS). Any other one (/work, /data, ...) is the
#: host's own data and does not exist inside sessions.
SYSTEM_ENTRIES = frozenset(
    [
        "bin",
        "boot",
        "dev",
        "etc",
        "home",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "media",
        "mnt",
        "opt",
        "proc",
        "root",
        "run",
        "sbin",
        "srv",
        "sys",
        "tmp",
        "usr",
        "var",
    ]
)


def tool_server_paths() -> list[Path]:
    """Host paths the tool server runs from: shown read-only inside sessions, whatever the
    hiding above covers (an interpreter under /root, the package under /work, ...)."""
    paths = [
        Path(__file__).resolve().parent / "inside",  # the tool server's code
        Path(os.path.realpath(sys.base_prefix)),  # its interpreter's stdlib
        Path(os.path.realpath(sys.executable)).parent,  # and the interpreter
    ]
    unique: list[Path] = []
    for path in sorted(set(paths), key=lambda item: len(item.parts)):
        if not any(path == kept or kept in path.parents for kept in unique):
            unique.append(path)
    return unique


def check_data_dir(data_dir: Path) -> None:
    """Refuse data dirs that overlay options or the sandbox's hiding cannot handle."""
    text = str(data_dir)
    if any(char in text for char in ",:\\\n"):
        raise ValueError(f"the data dir path must not contain ',', ':' or '\\\\': {text!r}")
    for needed in tool_server_paths():
        if needed == data_dir or data_dir in needed.parents:
            # The data dir is hidden inside sessions; the tool server would vanish with it.
            raise ValueError(f"the data dir {text} must not contain {needed}")


def mount_overlay(session_dir: Path) -> Path:
    """Mount the session's copy-on-write view of ``/`` at ``session_dir/root``."""
    upper, work, root = session_dir / "upper", session_dir / "work", session_dir / "root"
    for directory in (upper, work, root):
        directory.mkdir(parents=True, exist_ok=True)
    _hide_host_data(upper)
    options = f"lowerdir=/,upperdir={upper},workdir={work}"
    flags = syscalls.MS_NOSUID | syscalls.MS_NODEV
    try:
        # volatile: no syncs to disk, since the layer is deleted with the session anyway.
        syscalls.mount("overlay", root, "overlay", flags, options + ",volatile")
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        syscalls.mount("overlay", root, "overlay", flags, options)  # kernel < 5.10
    return root


def _hide_host_data(upper: Path) -> None:
    """Keep the host's data out of the session's view of ``/``: set up its upper layer so the
    private directories start empty (overlay "opaque" directories) and top-level entries
    outside the system's are gone (overlay whiteouts). Writes stay in the session's layer.
    """
    for name in PRIVATE_DIRS:
        host = Path("/") / name
        if not host.is_dir() or host.is_symlink():
            continue
        inside, original = upper, Path("/")
        for part in PurePosixPath(name).parts:
            inside, original = inside / part, original / part
            if not inside.exists():
                inside.mkdir()
                # A directory of the upper layer lends its owner and mode to the merged view.
                _copy_owner_and_mode(original, inside)
        try:
            os.setxattr(inside, "trusted.overlay.opaque", b"y")
        except OSError as exc:
            log.warning("session %s sees the host's /%s: %s", upper.parent.name, name, exc)
    for name in os.listdir("/"):
        if name not in SYSTEM_ENTRIES:
            try:
                os.mknod(upper / name, stat.S_IFCHR, os.makedev(0, 0))  # a whiteout
            except OSError as exc:
                log.warning("session %s sees the host's /%s: %s", upper.parent.name, name, exc)


def _copy_owner_and_mode(source: Path, target: Path) -> None:
    info = source.stat()
    os.chown(target, info.st_uid, info.st_gid)
    os.chmod(target, stat.S_IMODE(info.st_mode))


def unmount_tree(directory: Path) -> None:
    """Detach every mount at or below ``directory`` (deepest first)."""
    prefix = str(directory).rstrip("/") + "/"
    targets = [
        target
        for target in mounted_paths()
        if target == str(directory) or target.startswith(prefix)
    ]
    for target in sorted(targets, key=len, reverse=True):
        with contextlib.suppress(OSError):
            syscalls.umount2(target, syscalls.MNT_DETACH)


def mounted_paths() -> list[str]:
    """Mount points of this mount namespace (octal escapes decoded)."""
    paths = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            raw = line.split()[4]
            paths.append(raw.encode().decode("unicode_escape") if "\\" in raw else raw)
    return paths


def remove_session_dir(session_dir: Path) -> None:
    """Unmount what is still mounted below the session dir, then delete it."""
    unmount_tree(session_dir)

    def report(
        _function: object, path: str, exc_info: tuple[object, BaseException, object]
    ) -> None:
        log.warning("cannot delete %s: %s", path, exc_info[1])

    if session_dir.exists():
        shutil.rmtree(session_dir, onerror=report)
