"""A session's disk limit: its writable layer on a filesystem of its own, of a fixed size.

Root only (loop devices). Each limited session gets ``<session dir>/disk.img``, a sparse
file holding an ext4 filesystem of exactly the limit, loop-mounted at the directory its
writable layer lives in. A session that writes past it gets ``ENOSPC`` inside, and the
host's disk grows by at most the limit (the file can never grow past its size). It needs
nothing of the host's filesystem: no project quotas, no special mount options.

The filesystem is made once per size (``mkfs.ext4`` into a template under the data dir)
and copied sparsely for each sandbox (a few MiB of metadata), so a pooled sandbox pays a
copy and a mount. The loop device is set to clear itself: unmounting the filesystem (at
release, by the watchdog or by the next start's cleanup) frees it, and deleting the
session directory frees the file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import struct
import subprocess
import threading
from pathlib import Path

from agentbay_local.sandbox.inside import syscalls

_LOOP_CTL_GET_FREE = 0x4C82
_LOOP_CONFIGURE = 0x4C0A  # Linux 5.8+: attach and configure in one call
_LOOP_SET_FD = 0x4C00
_LOOP_SET_STATUS64 = 0x4C04
_LOOP_CLR_FD = 0x4C01
_LO_FLAGS_AUTOCLEAR = 4
#: struct loop_info64: 5 x u64, 4 x u32, file name 64, crypt name 64, key 32, 2 x u64 init.
_LOOP_INFO64 = struct.Struct("=5Q4I64s64s32s2Q")
#: struct loop_config: fd, block_size, loop_info64, 8 x u64 reserved.
_LOOP_CONFIG = struct.Struct(f"=2I{_LOOP_INFO64.size}s8Q")
#: mkfs.ext4 for a throwaway filesystem: no journal (the layer dies with the session), no
#: reserved blocks (the whole limit is the session's), lazy inode tables (fast mkfs).
_MKFS_OPTIONS = (
    "-q",
    "-F",
    "-O",
    "^has_journal",
    "-m",
    "0",
    "-E",
    "lazy_itable_init=1,lazy_journal_init=1,nodiscard",
)
_template_lock = threading.Lock()


class DiskError(RuntimeError):
    """The session's disk could not be made (no loop devices, no mkfs.ext4, ...)."""


def problem() -> str | None:
    """Why disk limits cannot work here, or None (checked without changing anything)."""
    if os.geteuid() != 0:
        return "per-session disks need root (loop devices)"
    if not os.path.exists("/dev/loop-control"):
        return "the kernel offers no loop devices (/dev/loop-control is missing)"
    if shutil.which("mkfs.ext4") is None:
        return "mkfs.ext4 is not installed (Debian package e2fsprogs)"
    return None


def template(directory: Path, size_bytes: int) -> Path:
    """The empty filesystem image of ``size_bytes`` under ``directory`` (made once)."""
    path = directory / f"ext4-{size_bytes}.img"
    with _template_lock:
        if path.exists():
            return path
        directory.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(f".{os.getpid()}.tmp")
        with open(scratch, "wb") as handle:
            handle.truncate(size_bytes)
        try:
            subprocess.run(
                ["mkfs.ext4", *_MKFS_OPTIONS, str(scratch)],
                check=True,
                capture_output=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            scratch.unlink(missing_ok=True)
            detail = getattr(exc, "stderr", b"") or b""
            raise DiskError(f"mkfs.ext4 failed: {exc} {detail.decode(errors='replace')}") from exc
        os.replace(scratch, path)
        return path


def mount(image_template: Path, session_dir: Path, target: Path) -> None:
    """Give the session its own copy of the template, mounted at ``target``."""
    image = session_dir / "disk.img"
    make_image(image_template, image)
    mount_image(image, target)


def make_image(image_template: Path, image: Path) -> None:
    """A new filesystem image at ``image``: a sparse copy of the template."""
    _sparse_copy(image_template, image)


def mount_image(image: Path, target: Path) -> None:
    """Mount the filesystem image ``image`` at ``target`` (``nosuid,nodev``) through a
    loop device that goes when the filesystem is unmounted."""
    target.mkdir(parents=True, exist_ok=True)
    with open(image, "r+b") as backing:
        device, loop = _attach(backing.fileno())
    try:
        syscalls.mount(device, target, "ext4", syscalls.MS_NOSUID | syscalls.MS_NODEV)
    except OSError as exc:
        with contextlib.suppress(OSError):
            fcntl.ioctl(loop, _LOOP_CLR_FD)
        raise DiskError(f"mounting the filesystem {image.name} failed: {exc}") from exc
    finally:
        # Auto-clear detaches the device at its last close: from now on the mount holds
        # it, so it goes when the filesystem is unmounted.
        os.close(loop)


def detach(target: Path) -> None:
    """Unmount what is mounted at ``target``, if anything (lazily: other mount namespaces
    holding a clone of it keep it until they let it go; its loop device goes then)."""
    if os.path.ismount(target):
        syscalls.umount2(target, syscalls.MNT_DETACH)


def _sparse_copy(source: Path, target: Path) -> None:
    """Copy only the data regions of ``source``: the holes stay holes."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        size = os.fstat(src.fileno()).st_size
        offset = 0
        while offset < size:
            try:
                start = os.lseek(src.fileno(), offset, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # only a hole is left
                    break
                raise
            end = os.lseek(src.fileno(), start, os.SEEK_HOLE)
            position = start
            while position < end:
                copied = os.copy_file_range(
                    src.fileno(), dst.fileno(), end - position, position, position
                )
                if copied == 0:
                    break
                position += copied
            offset = end
        dst.truncate(size)


def _attach(fd: int) -> tuple[str, int]:
    """A free loop device bound to ``fd``, set to auto-clear: its path and an open
    descriptor of it (closing that before something else holds the device detaches it)."""
    for _ in range(64):  # another process may take the free device first
        with open("/dev/loop-control", "rb") as control:
            number = fcntl.ioctl(control.fileno(), _LOOP_CTL_GET_FREE)
        path = f"/dev/loop{number}"
        try:
            loop = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        info = _LOOP_INFO64.pack(0, 0, 0, 0, 0, 0, 0, 0, _LO_FLAGS_AUTOCLEAR, b"", b"", b"", 0, 0)
        try:
            if _bind(loop, fd, info):
                return path, loop
        except BaseException:
            os.close(loop)
            raise
        os.close(loop)
    raise DiskError("no free loop device")


def _bind(loop: int, fd: int, info: bytes) -> bool:
    """Bind the backing file to the loop device; False if another process took it first."""
    try:
        fcntl.ioctl(loop, _LOOP_CONFIGURE, _LOOP_CONFIG.pack(fd, 0, info, *[0] * 8))
        return True
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return False
        if exc.errno not in (errno.EINVAL, errno.ENOTTY):
            raise
    try:  # kernels before 5.8: two calls
        fcntl.ioctl(loop, _LOOP_SET_FD, fd)
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return False
        raise
    fcntl.ioctl(loop, _LOOP_SET_STATUS64, info)
    return True
