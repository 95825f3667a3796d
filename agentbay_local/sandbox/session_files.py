"""A session's files as the host reaches them: by descriptor, never by a path of the host.

A session's processes change their files while the runtime works on them. Resolving a
session path once and reopening the result in the host's view lets a process swap a
directory for a symbolic link in between (a ``renameat2(RENAME_EXCHANGE)`` loop) and point
the runtime at a host file: ``docker cp``'s CVE-2018-15664. So every host-side operation on
a session's files starts from a descriptor of the session's root and goes on from
descriptors only:

- a path in the session is resolved by the kernel as the session resolves it, with its
  links but never above its root (``openat2(RESOLVE_IN_ROOT)``; on kernels before 5.6 a
  walk of ``O_PATH`` descriptors, one component at a time, does the same);
- entries are created, replaced and read relative to a descriptor of their folder, one
  component at a time, never following a link (``O_NOFOLLOW``, ``dir_fd=``): a swap makes
  the operation fail or land on the session's own files, never on the host's.

Copies out of a session (``copy_tree``) keep regular files, folders and symbolic links (as
links) only: no device, FIFO, socket or hard link leaves a session, modes lose setuid,
setgid and sticky bits, extended attributes (file capabilities) are not copied, and every
copy belongs to the runtime's user. The same rules keep a context's stored tree from
following the links it holds (``open_beneath``).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import posixpath
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from typing import BinaryIO, TypeVar

# openat2(2) resolve flags (linux/openat2.h)
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
#: openat2 has one number on every architecture (Linux 5.6+).
_SYS_OPENAT2 = 437
#: How often a resolution is retried when the kernel saw a rename race its ``..`` (EAGAIN).
_RACE_RETRIES = 64
#: Links followed in one resolution, as the kernel allows.
_MAX_LINKS = 40
#: Deepest folder nesting a tree copy follows (a clear error beyond, not a crash).
MAX_DEPTH = 400
#: Permission bits a copy keeps: never setuid, setgid or sticky.
PERMISSION_BITS = 0o777
_PATH_FLAGS = os.O_PATH | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC

_libc = ctypes.CDLL(None, use_errno=True)
T = TypeVar("T")

#: Chooses what a copy takes: (path relative to the copied folder, is a folder) -> take it?
Keep = Callable[[PurePosixPath, bool], bool]


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def openat2(dir_fd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    """openat2(2): a close-on-exec descriptor of ``path`` relative to ``dir_fd``.

    Retried when a concurrent rename made the kernel give up (``EAGAIN``), which a session
    can cause at will: a resolution is never answered from a half-seen tree.
    """
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    raw = os.fsencode(path)
    for _ in range(_RACE_RETRIES):
        fd = int(
            _libc.syscall(
                _SYS_OPENAT2,
                ctypes.c_int(dir_fd),
                raw,
                ctypes.byref(how),
                ctypes.c_size_t(ctypes.sizeof(how)),
            )
        )
        if fd >= 0:
            return fd
        err = ctypes.get_errno()
        if err not in (errno.EAGAIN, errno.EINTR):
            raise OSError(err, os.strerror(err), path)
    raise OSError(errno.EAGAIN, "the path kept changing while it was resolved", path)


@functools.cache
def openat2_works() -> bool:
    """Whether this kernel (and any seccomp filter around us) offers openat2."""
    try:
        os.close(openat2(-100, "/", _PATH_FLAGS, RESOLVE_NO_MAGICLINKS))
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EPERM, errno.EINVAL):
            return False
        raise
    return True


def open_in_root(root_fd: int, path: str, flags: int) -> int:
    """Open ``path`` as a process whose root is ``root_fd`` would: links are followed, but
    ``/`` and ``..`` never lead above the root. ``O_NOFOLLOW`` keeps a last link itself
    (with ``O_PATH``) or refuses it; ``O_CREAT`` is not supported (create with ``dir_fd``).
    """
    _no_create(flags)
    if openat2_works():
        return openat2(root_fd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
    return _walk(root_fd, path, flags, follow=True)


def open_beneath(dir_fd: int, path: str, flags: int) -> int:
    """Open ``path`` below ``dir_fd`` without following any link on the way (a link in the
    way fails with ``ELOOP``; ``O_NOFOLLOW`` still decides for the last component, as in
    ``open_in_root``); ``..`` may not leave ``dir_fd``."""
    _no_create(flags)
    if openat2_works():
        resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
        if flags & os.O_NOFOLLOW and flags & os.O_PATH and _names_entry(path):
            # RESOLVE_NO_SYMLINKS refuses even a last link that O_PATH|O_NOFOLLOW would keep.
            parent, name = _split(path)
            folder = openat2(dir_fd, parent, _PATH_FLAGS | os.O_DIRECTORY, resolve)
            try:
                return os.open(name, flags | os.O_CLOEXEC, dir_fd=folder)
            finally:
                os.close(folder)
        return openat2(dir_fd, path, flags, resolve)
    return _walk(dir_fd, path, flags, follow=False)


def _no_create(flags: int) -> None:
    if flags & os.O_CREAT or flags & os.O_TMPFILE == os.O_TMPFILE:
        raise ValueError("create entries relative to a folder's descriptor instead")


def _names_entry(path: str) -> bool:
    return posixpath.basename(path.rstrip("/")) not in ("", ".", "..")


def _split(path: str) -> tuple[str, str]:
    """``path`` as (its folder, its last component); the last must name an entry."""
    parent, name = posixpath.split(path.rstrip("/"))
    if name in ("", ".", ".."):
        raise OSError(errno.EINVAL, "the path names no entry", path)
    return parent or ("/" if path.startswith("/") else "."), name


def _walk(root_fd: int, path: str, flags: int, *, follow: bool) -> int:
    """``open_in_root`` (``follow``) or ``open_beneath`` for kernels without openat2: one
    ``O_PATH`` descriptor per component, each opened relative to the one before without
    following links (a link is read and its target resolved the same way), ``..`` taken
    from the descriptors held rather than from the filesystem."""
    pending = [part for part in reversed(path.split("/")) if part not in ("", ".")]
    held = [os.open(".", _PATH_FLAGS | os.O_DIRECTORY, dir_fd=root_fd)]
    links = 0
    try:
        while pending:
            part = pending.pop()
            if part == "..":
                if len(held) > 1:
                    os.close(held.pop())
                elif not follow:
                    raise OSError(errno.EXDEV, "the path leads above its folder", path)
                continue
            fd = os.open(part, _PATH_FLAGS | os.O_NOFOLLOW, dir_fd=held[-1])
            mode = os.fstat(fd).st_mode
            last = not pending
            if stat.S_ISLNK(mode) and not (last and flags & os.O_NOFOLLOW):
                try:
                    target = os.readlink("", dir_fd=fd)
                finally:
                    os.close(fd)
                links += 1
                if not follow or links > _MAX_LINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                if target.startswith("/"):
                    for extra in held[1:]:
                        os.close(extra)
                    del held[1:]
                pending.extend(p for p in reversed(target.split("/")) if p not in ("", "."))
                continue
            if not last and not stat.S_ISDIR(mode):
                os.close(fd)
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
            held.append(fd)
        return _reopen(os.dup(held[-1]), flags)
    finally:
        for fd in held:
            os.close(fd)


def _reopen(fd: int, flags: int) -> int:
    """The file of the ``O_PATH`` descriptor ``fd`` opened with ``flags`` (``fd`` is closed).

    Through ``/proc/self/fd``: the descriptor's own file, whatever its path now names.
    """
    try:
        mode = os.fstat(fd).st_mode
        if flags & os.O_DIRECTORY and not stat.S_ISDIR(mode):
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        if flags & os.O_PATH:
            fd, kept = -1, fd
            return kept
        if stat.S_ISLNK(mode):
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
        return os.open(f"/proc/self/fd/{fd}", (flags & ~os.O_NOFOLLOW) | os.O_CLOEXEC)
    finally:
        if fd >= 0:
            os.close(fd)


# ---- one folder's entries, by descriptor ----


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    """The entry ``name`` of a folder, its links not followed; None when there is none."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def open_folder_at(dir_fd: int, name: str) -> int:
    """The subfolder ``name`` (a link there is refused, never followed)."""
    return os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=dir_fd)


def open_file_at(dir_fd: int, name: str) -> int:
    """The regular file ``name`` for reading; anything else (a link, a FIFO, a folder) is
    refused.

    Opened directly (not through an ``O_PATH`` descriptor: one open less per file of a
    tree) with ``O_NONBLOCK``, so a FIFO swapped in cannot hang it; a device node could
    not be opened anyway (sessions cannot make them, and their filesystems are ``nodev``).
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    fd = os.open(name, flags, dir_fd=dir_fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", name)
    return fd


def remove_at(dir_fd: int, name: str) -> None:
    """Delete the entry ``name`` (a folder with everything in it; a link, not its target)."""
    info = lstat_at(dir_fd, name)
    if info is None:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)  # descriptor-based: links inside are not followed
    else:
        os.unlink(name, dir_fd=dir_fd)


def make_folders_at(dir_fd: int, rel: PurePosixPath, *, replace: bool = False) -> int:
    """A descriptor of the folder ``rel`` below ``dir_fd``, created as needed, each
    component opened without following links. With ``replace``, a file or link in the way
    is deleted and a folder made in its place; otherwise it fails (``ENOTDIR``/``ELOOP``)."""
    fd = os.dup(dir_fd)
    try:
        for part in rel.parts:
            if part in (".", "/"):
                continue
            if part == "..":
                raise OSError(errno.EINVAL, "'..' in a folder path", str(rel))
            child = _folder_or_create(fd, part, replace)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _folder_or_create(dir_fd: int, name: str, replace: bool) -> int:
    for _ in range(_RACE_RETRIES):
        try:
            return open_folder_at(dir_fd, name)
        except FileNotFoundError:
            with contextlib.suppress(FileExistsError):  # made meanwhile: open it next time
                os.mkdir(name, 0o755, dir_fd=dir_fd)
        except (NotADirectoryError, OSError) as exc:
            if exc.errno not in (errno.ENOTDIR, errno.ELOOP) or not replace:
                raise
            remove_at(dir_fd, name)
    raise OSError(errno.EAGAIN, "the folder kept changing while it was made", name)


def _place_at(dir_fd: int, name: str, make: Callable[[str], T]) -> T:
    """Make an entry with ``make(entry_name)``, which must fail with ``FileExistsError``
    when the name is taken: at ``name`` itself when nothing is there, otherwise under a
    temporary name then renamed over what is there (atomically: a file or link there is
    replaced, never followed; a folder is deleted first). A failed entry is removed."""
    temporary = f".agentbay-{secrets.token_hex(8)}"
    for entry in (name, temporary):
        try:
            made = make(entry)
        except FileExistsError:
            if entry == temporary:
                raise
            continue
        except BaseException:
            with contextlib.suppress(OSError):
                remove_at(dir_fd, entry)
            raise
        if entry == name:
            return made
        try:
            try:
                os.rename(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno not in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
                    raise
                remove_at(dir_fd, name)
                os.rename(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                remove_at(dir_fd, temporary)
            raise
        return made
    raise AssertionError("unreachable")


def write_file_at(
    dir_fd: int,
    name: str,
    source: BinaryIO | int | bytes,
    *,
    mode: int = 0o644,
    times_ns: tuple[int, int] | None = None,
    owner: tuple[int, int] | None = None,
) -> int:
    """Put a regular file at ``name`` in the folder (replacing what is there atomically);
    ``source`` is its content (a readable file, a descriptor or bytes). Answers its size."""

    def make(entry: str) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(entry, flags, 0o600, dir_fd=dir_fd)
        try:
            size = _copy_content(source, fd)
            if owner is not None:
                os.fchown(fd, *owner)
            os.fchmod(fd, mode & PERMISSION_BITS)
            if times_ns is not None:
                os.utime(fd, ns=times_ns)
        finally:
            os.close(fd)
        return size

    return _place_at(dir_fd, name, make)


def write_link_at(
    dir_fd: int, name: str, target: str, *, owner: tuple[int, int] | None = None
) -> None:
    """Put a symbolic link to ``target`` at ``name`` (replacing what is there)."""

    def make(entry: str) -> None:
        os.symlink(target, entry, dir_fd=dir_fd)
        if owner is not None:
            os.chown(entry, *owner, dir_fd=dir_fd, follow_symlinks=False)

    _place_at(dir_fd, name, make)


def _copy_content(source: BinaryIO | int | bytes, fd: int) -> int:
    """Write all of ``source`` to ``fd`` (from a descriptor: in the kernel where it can)."""
    if isinstance(source, bytes):
        view, written = memoryview(source), 0
        while written < len(view):
            written += os.write(fd, view[written:])
        return written
    if isinstance(source, int):
        total = 0
        try:
            while sent := os.sendfile(fd, source, None, 1 << 30):
                total += sent
            return total
        except OSError as exc:  # no sendfile between these files (reads below), or a failure
            if total:  # its own errno: ENOSPC says the target's filesystem is full
                reason = exc.strerror or "the copy failed"
                raise OSError(exc.errno or errno.EIO, f"{reason} part way") from None
        with os.fdopen(os.dup(source), "rb") as handle:
            return _copy_content(handle, fd)
    total = 0
    while block := source.read(1 << 20):
        view, written = memoryview(block), 0
        while written < len(view):
            written += os.write(fd, view[written:])
        total += written
    return total


# ---- trees ----


def copy_tree(
    source_fd: int,
    target: Callable[[PurePosixPath], int],
    keep: Keep | None = None,
    *,
    owner: tuple[int, int] | None = None,
) -> None:
    """Copy the folder ``source_fd`` into the folder that ``target(PurePosixPath("."))``
    opens (``target(rel)`` answers a descriptor of each subfolder, made as needed).

    Regular files (content, permission bits, modification time), folders and symbolic
    links (as links, never followed) are copied; devices, FIFOs and sockets are left out,
    and so is whatever ``keep`` refuses. Entries of the target in the way are replaced.
    A source entry that changes kind during the copy is left out; the copy never follows
    it.
    """
    chosen = keep or (lambda _rel, _is_dir: True)
    _copy_folder(source_fd, PurePosixPath("."), target, chosen, owner)


def _copy_folder(
    source_fd: int,
    rel: PurePosixPath,
    target: Callable[[PurePosixPath], int],
    keep: Keep,
    owner: tuple[int, int] | None,
) -> None:
    if len(rel.parts) > MAX_DEPTH:
        raise OSError(errno.ELOOP, f"folders nested deeper than {MAX_DEPTH} levels", str(rel))
    out = target(rel)
    try:
        with os.scandir(source_fd) as entries:
            names = sorted(entry.name for entry in entries)
        for name in names:
            info = lstat_at(source_fd, name)
            if info is None:
                continue
            kind = stat.S_IFMT(info.st_mode)
            if kind == stat.S_IFDIR:
                if not keep(rel / name, True):
                    continue
                try:
                    child = open_folder_at(source_fd, name)
                except OSError as exc:
                    if exc.errno in (errno.ENOTDIR, errno.ELOOP, errno.ENOENT):
                        continue  # swapped while we looked: not copied, never followed
                    raise
                try:
                    _copy_folder(child, rel / name, target, keep, owner)
                finally:
                    os.close(child)
            elif kind in (stat.S_IFREG, stat.S_IFLNK) and keep(rel / name, False):
                copy_entry_at(source_fd, name, out, name, owner=owner)
        folder = os.fstat(source_fd)
        if owner is not None:
            os.fchown(out, *owner)
        os.fchmod(out, folder.st_mode & PERMISSION_BITS)
        os.utime(out, ns=(folder.st_atime_ns, folder.st_mtime_ns))
    finally:
        os.close(out)


def copy_entry_at(
    source_fd: int,
    name: str,
    target_fd: int,
    target_name: str,
    *,
    owner: tuple[int, int] | None = None,
) -> bool:
    """Copy one regular file or link ``name`` of a folder to ``target_name`` of another
    (replacing what is there). Answers False when it is neither (or vanished meanwhile)."""
    info = lstat_at(source_fd, name)
    if info is not None and stat.S_ISLNK(info.st_mode):
        try:
            link = os.readlink(name, dir_fd=source_fd)
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOENT):
                return False  # no longer a link
            raise
        write_link_at(target_fd, target_name, link, owner=owner)
        return True
    try:
        fd = open_file_at(source_fd, name)
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.ENOENT, errno.ELOOP, errno.ENXIO):
            return False  # swapped meanwhile (for a link, a FIFO, a socket): left out
        raise
    try:
        own = os.fstat(fd)
        write_file_at(
            target_fd,
            target_name,
            fd,
            mode=own.st_mode,
            times_ns=(own.st_atime_ns, own.st_mtime_ns),
            owner=owner,
        )
    finally:
        os.close(fd)
    return True


# ---- a session's root ----


class SessionRoot:
    """A session's filesystem as the session sees it, reached only through descriptors.

    Paths are the session's (absolute, or relative to its ``/``); links in them are
    followed as the session follows them, but never above its root. Entries are created
    and replaced relative to their folder's descriptor.

    Attributes:
        fd: the descriptor of the session's ``/`` (owned: ``close`` closes it).
        owner: host ids that entries the runtime creates get (None: the runtime's own).
    """

    def __init__(self, fd: int, owner: tuple[int, int] | None = None) -> None:
        self.fd = fd
        self.owner = owner

    def close(self) -> None:
        """Let go of the session's root."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> SessionRoot:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def open(self, path: str, flags: int = _PATH_FLAGS) -> int:
        """A descriptor of ``path`` (see ``open_in_root``; ``O_PATH`` by default)."""
        return open_in_root(self.fd, path, flags)

    def stat(self, path: str) -> os.stat_result | None:
        """What ``path`` leads to (links followed inside the session), or None."""
        try:
            fd = self.open(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            return os.fstat(fd)
        finally:
            os.close(fd)

    def open_folder(self, path: str) -> int:
        """A readable descriptor of the folder ``path``."""
        return self.open(path, _DIR_FLAGS)

    def read_file(self, path: str) -> BinaryIO:
        """The regular file ``path``, open for reading (a FIFO, device or folder there is
        refused without being opened for I/O)."""
        fd = self.open(path)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OSError(errno.EINVAL, "not a regular file", path)
        return os.fdopen(_reopen(fd, os.O_RDONLY), "rb")

    def make_folders(self, path: str) -> int:
        """A readable descriptor of the folder ``path``, made (with its parents) as needed."""
        missing: list[str] = []
        existing = path
        while True:
            try:
                folder = self.open_folder(existing)
                break
            except FileNotFoundError:
                existing, name = _split(existing)
                missing.append(name)
        try:
            for name in reversed(missing):
                existing = posixpath.join(existing, name)
                child = self._made_folder(folder, name, existing)
                os.close(folder)
                folder = child
        except BaseException:
            os.close(folder)
            raise
        return folder

    def _made_folder(self, parent: int, name: str, path: str) -> int:
        """The folder ``name`` of ``parent`` (made if missing), which is ``path``."""
        for _ in range(_RACE_RETRIES):
            try:
                os.mkdir(name, 0o755, dir_fd=parent)
                if self.owner is not None:
                    os.chown(name, *self.owner, dir_fd=parent, follow_symlinks=False)
            except FileExistsError:
                pass
            try:
                # Resolved again as the session would: a link made there meanwhile leads
                # inside the session, nowhere else.
                return self.open_folder(path)
            except FileNotFoundError:
                continue
        raise OSError(errno.EAGAIN, "the folder kept changing while it was made", path)

    @contextlib.contextmanager
    def parent_of(self, path: str, *, create: bool = False) -> Iterator[tuple[int, str]]:
        """(descriptor of the folder holding ``path``, the entry's name in it)."""
        parent, name = _split(path)
        folder = self.make_folders(parent) if create else self.open_folder(parent)
        try:
            yield folder, name
        finally:
            os.close(folder)

    def write_file(self, path: str, source: BinaryIO | int | bytes, mode: int = 0o644) -> int:
        """Put a regular file at ``path`` (folders made as needed; what is there replaced,
        a link there replaced rather than followed). Answers its size."""
        with self.parent_of(path, create=True) as (folder, name):
            return write_file_at(folder, name, source, mode=mode, owner=self.owner)

    def remove(self, path: str) -> None:
        """Delete the entry at ``path`` (a link itself, not its target); none is fine."""
        with (
            contextlib.suppress(FileNotFoundError, NotADirectoryError),
            self.parent_of(path) as (folder, name),
        ):
            remove_at(folder, name)

    def lstat(self, path: str) -> os.stat_result | None:
        """The entry at ``path`` itself (a last link not followed), or None."""
        try:
            with self.parent_of(path) as (folder, name):
                return lstat_at(folder, name)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def folder_maker(self, base: str) -> Callable[[PurePosixPath], int]:
        """For ``copy_tree``: the folder ``base/rel`` of the session, made as needed."""
        return lambda rel: self.make_folders(str(PurePosixPath(base) / rel))


def host_folder_maker(dir_fd: int, base: PurePosixPath) -> Callable[[PurePosixPath], int]:
    """For ``copy_tree``: the folder ``base/rel`` below a host folder, made as needed, links
    and files in the way replaced by folders (never followed)."""
    return lambda rel: make_folders_at(dir_fd, base / rel, replace=True)
