"""Mount a host directory into a running session (a context's live directory).

A short helper process (this module run as a program: ``setns`` of a mount namespace needs
a single-threaded process) joins the session's user namespace, makes a mount namespace of
its own there (so it may clone the host directory as a detached mount, root or rootless),
marks the clone ``nosuid,nodev`` (and read-only when asked: the session has no
CAP_SYS_ADMIN and its seccomp filter refuses mount calls, so it cannot undo it), joins the
session's mount namespace and attaches the clone at the target, resolved inside the
session's root without magic links (a link the session made leads nowhere but its own
files).
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

from agentbay_local.sandbox.inside import syscalls
from agentbay_local.sandbox.session_files import (
    RESOLVE_BENEATH,
    RESOLVE_IN_ROOT,
    RESOLVE_NO_MAGICLINKS,
    RESOLVE_NO_SYMLINKS,
    openat2,
)

#: How long the helper may take.
MOUNT_TIMEOUT_S = 10.0
_CLONE_NEWNS = 0x00020000
_SYS_MOVE_MOUNT = 429
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
_MOVE_MOUNT_T_EMPTY_PATH = 0x40


def mount_into_session(pid: int, live: Path, below: str, target: str, *, read_only: bool) -> None:
    """Mount the folder ``below`` of the host directory ``live`` (resolved without links)
    at ``target`` (an existing folder of the session whose tool server is ``pid``, resolved
    as the session resolves it); ``OSError`` saying why when it cannot."""
    source = f"{live}//{below.strip('/')}"
    mode = "ro" if read_only else "rw"
    run = subprocess.run(
        [sys.executable, "-m", __name__, str(pid), source, target, mode],
        capture_output=True,
        text=True,
        timeout=MOUNT_TIMEOUT_S,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    if run.returncode != 0:
        raise OSError(f"cannot mount {target} in the session: {run.stderr.strip()[-300:]}")


def _open_tree_clone_fd(folder: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    flags = 1 | 0x1000 | os.O_CLOEXEC  # OPEN_TREE_CLONE | AT_EMPTY_PATH
    fd = libc.syscall(428, ctypes.c_int(folder), b"", ctypes.c_uint(flags))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"open_tree: {os.strerror(err)}")
    return int(fd)


def _move_mount_to_fd(tree: int, target_fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    result = libc.syscall(
        _SYS_MOVE_MOUNT,
        ctypes.c_int(tree),
        b"",
        ctypes.c_int(target_fd),
        b"",
        ctypes.c_uint(_MOVE_MOUNT_F_EMPTY_PATH | _MOVE_MOUNT_T_EMPTY_PATH),
    )
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"move_mount: {os.strerror(err)}")


def _main(pid: int, source: str, target: str, read_only: bool) -> None:
    user = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    mnt = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    if os.readlink("/proc/self/ns/user") != os.readlink(f"/proc/{pid}/ns/user"):
        syscalls.setns(user, syscalls.CLONE_NEWUSER)
    syscalls.unshare(_CLONE_NEWNS)
    # ``source`` is the runtime's own path (a context's live directory, then the mount's
    # SourcePath in it, which sessions write to): the part below the live directory is
    # resolved without following any link, so a link a session planted there cannot lead
    # the mount anywhere else on the host.
    live, _, below = source.partition("//")
    live_fd = os.open(live, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    folder_fd = openat2(
        live_fd,
        below or ".",
        os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC,
        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    )
    tree = _open_tree_clone_fd(folder_fd)
    attributes = syscalls.MOUNT_ATTR_NOSUID | syscalls.MOUNT_ATTR_NODEV
    if read_only:
        attributes |= syscalls.MOUNT_ATTR_RDONLY
    syscalls.mount_setattr(tree, attributes)
    syscalls.setns(mnt, _CLONE_NEWNS)
    root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    folder = openat2(
        root,
        target.lstrip("/") or ".",
        os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
    _move_mount_to_fd(tree, folder)


if __name__ == "__main__":
    _main(int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "ro")
