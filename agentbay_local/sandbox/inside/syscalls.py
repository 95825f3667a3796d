"""Thin ctypes wrappers for the Linux system calls a sandbox needs (stdlib only).

Used on both sides: the runtime mounts and unmounts session overlays with them, and the
in-sandbox tool server uses them to build its mount namespace, pivot into it and drop
capabilities. Python 3.11 exposes none of these, hence ctypes.
"""

from __future__ import annotations

import ctypes
import os
import re

# mount(2) flags (linux/mount.h)
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

CLONE_NEWUTS = 0x04000000
CLONE_NEWUSER = 0x10000000

# prctl(2) options (linux/prctl.h)
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _bytes(value: str | os.PathLike[str] | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def mount(
    source: str | None,
    target: str | os.PathLike[str],
    fstype: str | None,
    flags: int = 0,
    data: str | None = None,
) -> None:
    """mount(2); raises OSError naming the target."""
    result = _libc.mount(
        _bytes(source), _bytes(target), _bytes(fstype), ctypes.c_ulong(flags), _bytes(data)
    )
    _check(result, f"mount {fstype or 'bind'} on {os.fspath(target)}")


def umount2(target: str | os.PathLike[str], flags: int = 0) -> None:
    """umount2(2)."""
    _check(_libc.umount2(_bytes(target), ctypes.c_int(flags)), f"umount {os.fspath(target)}")


#: How /proc/self/mountinfo writes a space, tab, newline or backslash of a path.
_OCTAL_ESCAPE = re.compile(rb"\\([0-7]{3})")


def mount_points() -> list[str]:
    """The mount points of this mount namespace, as paths (a data dir or checkout path with a
    space in it is written ``\\040`` in /proc/self/mountinfo: decoded here)."""
    with open("/proc/self/mountinfo", "rb") as handle:
        return [
            os.fsdecode(_OCTAL_ESCAPE.sub(lambda match: bytes([int(match[1], 8)]), line.split()[4]))
            for line in handle
        ]


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2)."""
    _check(_libc.pivot_root(_bytes(new_root), _bytes(put_old)), "pivot_root")


#: open_tree(2): the same number on every architecture (a syscall of Linux 5.2+).
_SYS_OPEN_TREE = 428
_OPEN_TREE_CLONE = 1
_AT_RECURSIVE = 0x8000


def open_tree_clone(path: str, *, recursive: bool = True) -> int:
    """A descriptor (close-on-exec) of a detached copy of the mount tree at ``path``, its
    submounts included unless ``recursive`` is False: later mounts below ``path`` do not
    show in it."""
    flags = _OPEN_TREE_CLONE | (_AT_RECURSIVE if recursive else 0) | os.O_CLOEXEC
    fd = _libc.syscall(_SYS_OPEN_TREE, ctypes.c_int(-100), _bytes(path), ctypes.c_uint(flags))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"open_tree {path}: {os.strerror(err)}")
    return int(fd)


def unshare(flags: int) -> None:
    """unshare(2): move this process into new namespaces of the ``CLONE_NEW*`` kinds."""
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


#: move_mount(2) (Linux 5.2+), one number on every architecture.
_SYS_MOVE_MOUNT = 429
_MOVE_MOUNT_F_EMPTY_PATH = 0x4


def move_mount(fd: int, target: str) -> None:
    """Attach the detached mount tree ``fd`` (from ``open_tree_clone``) at ``target``."""
    result = _libc.syscall(
        _SYS_MOVE_MOUNT,
        ctypes.c_int(fd),
        b"",
        ctypes.c_int(-100),
        _bytes(target),
        ctypes.c_uint(_MOVE_MOUNT_F_EMPTY_PATH),
    )
    _check(result, f"move_mount to {target}")


#: mount_setattr(2) (Linux 5.12+), one number on every architecture.
_SYS_MOUNT_SETATTR = 442
_AT_EMPTY_PATH = 0x1000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_IDMAP = 0x100000


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def mount_setattr(fd: int, attr_set: int, userns_fd: int = 0, *, recursive: bool = False) -> None:
    """mount_setattr(2) on the detached mount ``fd``: set ``attr_set`` (``MOUNT_ATTR_*``),
    on its submounts too when ``recursive``; with ``MOUNT_ATTR_IDMAP``, map its ids through
    the user namespace ``userns_fd``."""
    attr = _MountAttr(attr_set, 0, 0, userns_fd)
    result = _libc.syscall(
        _SYS_MOUNT_SETATTR,
        ctypes.c_int(fd),
        b"",
        ctypes.c_uint(_AT_EMPTY_PATH | (_AT_RECURSIVE if recursive else 0)),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    _check(result, "mount_setattr")


def setns(fd: int, nstype: int) -> None:
    """setns(2): move the calling thread into the namespace ``fd`` refers to."""
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def sethostname(name: str) -> None:
    """sethostname(2) in the caller's UTS namespace."""
    raw = name.encode()
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname")


def prctl(option: int, arg2: int = 0, arg3: int = 0) -> None:
    """prctl(2) for the integer-argument options used here."""
    result = _libc.prctl(
        ctypes.c_int(option),
        ctypes.c_ulong(arg2),
        ctypes.c_ulong(arg3),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
    )
    _check(result, f"prctl({option})")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set this thread's capability sets (bit masks, capability number = bit index).

    Capabilities are per thread: call it before any other thread exists, so every later
    thread (and every child spawned from one) inherits the reduced sets.
    """
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for index in range(2):
        shift = 32 * index
        data[index].effective = (effective >> shift) & 0xFFFFFFFF
        data[index].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[index].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def capget() -> tuple[int, int, int]:
    """This thread's (effective, permitted, inheritable) capability masks."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capget(ctypes.byref(header), data), "capget")
    masks = [0, 0, 0]
    for index in range(2):
        shift = 32 * index
        masks[0] |= data[index].effective << shift
        masks[1] |= data[index].permitted << shift
        masks[2] |= data[index].inheritable << shift
    return masks[0], masks[1], masks[2]


def syncfs(path: str | os.PathLike[str]) -> None:
    """syncfs(2): write the filesystem holding ``path`` to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        _check(_libc.syncfs(fd), f"syncfs {os.fsdecode(path)}")
    finally:
        os.close(fd)


# inotify(7) (sys/inotify.h): the events get_file_change reports, and the flags it needs.
IN_MODIFY = 0x00000002
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000
IN_ISDIR = 0x40000000


def inotify_init() -> int:
    """A non-blocking, close-on-exec inotify descriptor."""
    fd = int(_libc.inotify_init1(ctypes.c_int(os.O_NONBLOCK | os.O_CLOEXEC)))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"inotify_init1: {os.strerror(err)}")
    return fd


def inotify_add_watch(fd: int, path: str, mask: int) -> int:
    """Watch ``path`` on ``fd``; answer the watch descriptor."""
    wd = int(_libc.inotify_add_watch(ctypes.c_int(fd), os.fsencode(path), ctypes.c_uint32(mask)))
    if wd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"inotify_add_watch: {os.strerror(err)}", path)
    return wd


def inotify_rm_watch(fd: int, wd: int) -> None:
    """Stop a watch (an already removed one is fine)."""
    _libc.inotify_rm_watch(ctypes.c_int(fd), ctypes.c_int(wd))
