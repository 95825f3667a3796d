"""Context contents on disk: versioned trees swapped atomically, files written atomically.

Layout of one context ``<root>/<context id>/``::

    current -> v-<hex>      symlink to the live version (replaced atomically with os.replace)
    v-<hex>/...             a version: the context's files under their context paths
    live/...                while sessions mount the context directly (BetaContextMount):
                            a copy of the version they write to, published as a new
                            version when the last of them is released (see ``open_live``)
    live.img                where the runtime can (root, loop devices): the filesystem
                            image of the quota's size that is mounted at ``live/``, so the
                            kernel stops writes past the quota (``ENOSPC``)
    tmp/                    partial writes (temporary file + rename into a version)
    trash/                  deleted entries, freed in the background

A crash at any moment leaves ``current`` pointing at a complete version; ``recover`` removes the
leftovers. All functions here are blocking: the control plane calls them in worker threads.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from agentbay_local.sandbox import disk
from agentbay_local.sandbox.session_files import (
    Keep,
    SessionRoot,
    copy_entry_at,
    copy_tree,
    host_folder_maker,
    lstat_at,
    make_folders_at,
    open_beneath,
    write_file_at,
)

_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
#: What a stored link in the way of a key makes the kernel answer (never followed).
_NOT_THERE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EXDEV)

#: The directory of a context that sessions mounting it write to.
LIVE = "live"
#: The filesystem image mounted at ``LIVE`` (where the runtime can mount one).
LIVE_IMAGE = "live.img"
#: Its name while the live version is copied into it.
BUILDING_IMAGE = "live.building.img"
#: The most one context holds unless the runtime is told otherwise (serve --context-quota).
DEFAULT_QUOTA_BYTES = 1024**3


class ContextPathError(ValueError):
    """A context file path that would leave the context (``..``) or is not a file path."""


class ContextQuotaError(OSError):
    """A write that would take a context past its size quota; nothing of it was stored."""


def tree_bytes(folder: Path) -> int:
    """The bytes of the files below ``folder`` (links not followed, each file once)."""
    total, seen = 0, set()
    for here, _dirs, files in os.walk(folder):
        for name in files:
            info = os.lstat(os.path.join(here, name))
            if stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_size
    return total


def _mib(size: int) -> str:
    return f"{size / 1024**2:.1f} MiB"


def clean_key(path: str) -> PurePosixPath:
    """The normalised relative form of a context file path; refuses traversal tricks."""
    if "\x00" in path:
        raise ContextPathError("the path contains a NUL byte")
    parts = [part for part in PurePosixPath("/" + path).parts[1:] if part not in ("", ".")]
    if any(part == ".." for part in parts):
        raise ContextPathError(f"the path {path!r} contains '..'")
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


@dataclass(frozen=True)
class FileEntry:
    """One entry of a context folder listing."""

    key: str  # absolute context path, e.g. /tmp/a.txt
    name: str
    is_dir: bool
    size: int
    mtime: float


class ContextTree:
    """The on-disk store of one context, holding at most ``quota_bytes`` (None: no quota).

    With ``disks`` (where ``sandbox.disk`` keeps its filesystem templates; root with loop
    devices only) and a quota, the live directory of direct mounts is a filesystem of the
    quota's size of its own, so sessions writing to it get ``ENOSPC`` at the quota instead
    of filling the data dir's filesystem.
    """

    def __init__(
        self, root: Path, quota_bytes: int | None = None, disks: Path | None = None
    ) -> None:
        self.root = root
        self.quota_bytes = quota_bytes
        self.disks = disks if quota_bytes is not None else None

    def over_quota(self, size: int, what: str) -> ContextQuotaError:
        """The error for a write that would make the context ``size`` bytes."""
        return ContextQuotaError(
            f"{what} would make the context {self.root.name} {_mib(size)}, over its quota of "
            f"{_mib(self.quota_bytes or 0)} (agentbay local serve --context-quota); nothing of "
            "it was stored, the context keeps what it had"
        )

    @property
    def current(self) -> Path:
        """The live version directory (created empty on first use)."""
        link = self.root / "current"
        if not link.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            self._publish(self._new_version())
        return self.root / os.readlink(link)

    def _new_version(self) -> Path:
        version = self.root / f"v-{secrets.token_hex(8)}"
        version.mkdir(parents=True)
        return version

    def _publish(self, version: Path) -> None:
        tmp_link = self.root / f"current.{secrets.token_hex(4)}"
        os.symlink(version.name, tmp_link)
        os.replace(tmp_link, self.root / "current")
        _fsync_dir(self.root)

    def _publish_within_quota(self, version: Path, what: str) -> None:
        """Publish a built version unless it is over the quota (``ContextQuotaError``)."""
        if self.quota_bytes is not None:
            size = tree_bytes(version)
            if size > self.quota_bytes:
                raise self.over_quota(size, what)
        self._publish(version)

    def recover(self) -> None:
        """Delete versions and partial files a crash left behind."""
        if not self.root.exists():
            return
        if (self.root / BUILDING_IMAGE).exists():  # a live filesystem not made yet
            self._drop_partial_live()
        live = os.readlink(self.root / "current") if (self.root / "current").is_symlink() else None
        for child in self.root.iterdir():
            if child.name in ("current", LIVE, LIVE_IMAGE) or child.name == live:
                continue
            if child.is_symlink() or child.is_file():
                child.unlink()
            else:
                shutil.rmtree(child, ignore_errors=True)

    def delete(self) -> None:
        """Remove the whole context from disk (a live filesystem is detached first: the
        sessions still mounting it keep it until they are released)."""
        disk.detach(self.live)
        shutil.rmtree(self.root, ignore_errors=True)

    @contextlib.contextmanager
    def _version(self) -> Iterator[int]:
        """A descriptor of the live version. Stored paths are resolved from it without
        following the links a session stored (``open_beneath``): a stored ``a -> /etc``
        is a link to give back, never a way to the host's ``/etc``."""
        fd = os.open(self.current, _FOLDER_FLAGS | os.O_NOFOLLOW)
        try:
            yield fd
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _parent(self, version: int, key: PurePosixPath) -> Iterator[int | None]:
        """The folder holding ``key`` in a version (None: no such folder, or a link)."""
        fd: int | None = None
        try:
            fd = open_beneath(version, str(key.parent), _FOLDER_FLAGS)
        except OSError as exc:
            if exc.errno not in _NOT_THERE:
                raise
        try:
            yield fd
        finally:
            if fd is not None:
                os.close(fd)

    # ---- whole-tree sync ----
    def replace_from(
        self,
        source: SessionRoot,
        source_path: str,
        keys_under: PurePosixPath,
        keep: Keep | None = None,
        *,
        merge: bool = False,
    ) -> None:
        """Publish a new version whose ``keys_under`` subtree holds the session's
        ``source_path`` (resolved as the session resolves it, by descriptor).

        ``keep`` chooses what is copied (paths relative to ``source_path``). Without
        ``merge`` the subtree mirrors the source (files deleted there disappear); with
        ``merge`` stored files missing from it are kept. Everything outside ``keys_under``
        is carried over from the live version, so syncing one path never disturbs another.
        What is stored keeps no setuid/setgid bit, file capability, device or FIFO, and
        belongs to the runtime's user (see ``session_files.copy_tree``).
        """
        old = self.current
        new = self._new_version()
        keep = keep or _keep_all
        try:
            if merge:
                _copy_entry(old, new, link=True)
            else:
                for entry in old.iterdir():
                    if keys_under != PurePosixPath(".") and entry.name != keys_under.parts[0]:
                        _copy_entry(entry, new / entry.name, link=True)
                if keys_under != PurePosixPath(".") and len(keys_under.parts) > 1:
                    _copy_tree_except(
                        old / keys_under.parts[0], new / keys_under.parts[0], keys_under
                    )
            new_fd = os.open(new, _FOLDER_FLAGS | os.O_NOFOLLOW)
            try:
                _store_from_session(source, source_path, new_fd, keys_under, keep)
            finally:
                os.close(new_fd)
            self._publish_within_quota(new, "this upload")
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)

    # ---- direct mounts ----
    @property
    def live(self) -> Path:
        """The directory sessions mounting the context write to (see ``open_live``)."""
        return self.root / LIVE

    def open_live(self, owner: tuple[int, int] | None) -> Path:
        """The live directory, made from the live version when there is none.

        The stored versions share files by hard links and are replaced whole, so a session
        cannot write into one: sessions mounting the context share this copy instead,
        owned by ``owner`` (the sessions' root), and ``publish_live`` makes it a version.
        With ``disks``, the copy is a filesystem of the quota's size of its own. A live
        directory left by a crash is kept (and its filesystem mounted again): it holds the
        newest writes.
        """
        if self.live.is_dir():
            self._mount_live_image()
            return self.live
        if self.disks is not None:
            self._build_live_filesystem(owner)
            return self.live
        building = self.root / f"building-{secrets.token_hex(4)}"  # recover removes it
        building.mkdir(parents=True)
        try:
            self._copy_current_into(building, owner)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        os.rename(building, self.live)
        _fsync_dir(self.root)
        return self.live

    def _build_live_filesystem(self, owner: tuple[int, int] | None) -> None:
        """Make ``live`` a new filesystem of the quota's size holding the live version.

        Mounted once, where it stays: a sandbox starting meanwhile copies the runtime's
        mounts and holds them until it drops the host's tree, so a filesystem unmounted here
        may still be active there, unwritten, and must never be mounted a second time. The
        image is ``BUILDING_IMAGE`` until the copy is complete (``recover`` drops such a
        live directory), then ``LIVE_IMAGE``.
        """
        assert self.disks is not None and self.quota_bytes is not None
        image = self.root / BUILDING_IMAGE
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            disk.make_image(disk.template(self.disks, self.quota_bytes), image)
            disk.mount_image(image, self.live)
            (self.live / "lost+found").rmdir()  # mkfs's, not the context's
            self._copy_current_into(self.live, owner)
            os.rename(image, self.root / LIVE_IMAGE)
            _fsync_dir(self.root)
        except BaseException as exc:
            self._drop_partial_live()
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise OSError(
                    errno.ENOSPC,
                    f"the context ({_mib(tree_bytes(self.current))}) does not fit a mount's "
                    f"filesystem of its quota ({_mib(self.quota_bytes)}, less the "
                    "filesystem's own metadata); raise serve --context-quota",
                ) from None
            raise

    def _drop_partial_live(self) -> None:
        """Remove a live filesystem whose copy never completed (nothing was written to it
        yet: no session mounts it before it is complete)."""
        disk.detach(self.live)
        with contextlib.suppress(OSError):
            self.live.rmdir()
        (self.root / BUILDING_IMAGE).unlink(missing_ok=True)

    def _copy_current_into(self, folder: Path, owner: tuple[int, int] | None) -> None:
        """Copy the live version into ``folder``, everything owned by ``owner``."""
        target = os.open(folder, _FOLDER_FLAGS | os.O_NOFOLLOW)
        try:
            if (self.root / "current").is_symlink():
                with self._version() as version:
                    copy_tree(version, host_folder_maker(target, PurePosixPath(".")), owner=owner)
            os.fchmod(target, 0o755)
            if owner is not None:
                os.fchown(target, *owner)
        finally:
            os.close(target)

    def _mount_live_image(self) -> None:
        """Mount the live filesystem image at ``live`` unless it is mounted (after a
        crash or a reboot the image holds the live copy, and ``live`` is an empty folder:
        publishing that would lose every mounted write)."""
        image = self.root / LIVE_IMAGE
        if image.exists() and not os.path.ismount(self.live):
            disk.mount_image(image, self.live)

    def publish_live(self) -> None:
        """Publish the live directory as the context's new version and remove it.

        What is stored keeps no setuid/setgid bit, device or FIFO and belongs to the
        runtime's user, as for any upload (``session_files.copy_tree``); links are stored
        as links, never followed. Over the quota, nothing is published and the live
        directory stays (the next mount shows it, nothing written is lost):
        ``ContextQuotaError``. The size is checked before anything is copied: a sparse
        file a session made (``truncate -s 1T``) is never written out in full.
        """
        self._mount_live_image()
        if self.quota_bytes is not None:
            size = tree_bytes(self.live)
            if size > self.quota_bytes:
                raise self.over_quota(size, "what the sessions mounting it wrote")
        old = self.current
        new = self._new_version()
        try:
            source = os.open(self.live, _FOLDER_FLAGS | os.O_NOFOLLOW)
            target = os.open(new, _FOLDER_FLAGS | os.O_NOFOLLOW)
            try:
                copy_tree(source, host_folder_maker(target, PurePosixPath(".")))
            finally:
                os.close(source)
                os.close(target)
            self._publish_within_quota(new, "what the sessions mounting it wrote")
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)
        trash = self.root / "trash"
        trash.mkdir(exist_ok=True)
        disk.detach(self.live)
        os.rename(self.live, trash / secrets.token_hex(8))
        (self.root / LIVE_IMAGE).unlink(missing_ok=True)
        self.empty_trash()

    def holds(self, key: PurePosixPath) -> bool:
        """Whether the live version has anything (a file, folder or link) at ``key``.

        Cheap enough for the event loop: a context never written to is not created on disk.
        """
        if not (self.root / "current").is_symlink():
            return False
        if key == PurePosixPath("."):
            return True
        with self._version() as version, self._parent(version, key) as folder:
            return folder is not None and lstat_at(folder, key.name) is not None

    def stored_path(self, key: PurePosixPath) -> Path | None:
        """The host path of what the live version holds at ``key`` (the last component may
        be a link), or None when there is nothing or a stored link is in the way. Only the
        runtime changes a context's files (under its lock), so the path stays what was
        checked."""
        if not self.holds(key):
            return None
        return self.current / key

    def copy_into(
        self,
        key: PurePosixPath,
        session_path: str,
        session: SessionRoot,
        keep: Keep | None = None,
    ) -> None:
        """Copy the ``key`` subtree of the live version to ``session_path`` of a session.

        ``keep`` chooses what is copied (paths relative to ``key``). Every target is
        resolved by descriptor, as the session resolves it: no link the session made (or
        swaps in while the copy runs) leads the copy out of the session. Existing files are
        replaced; others are kept.
        """
        keep = keep or _keep_all
        if not self.holds(key):
            os.close(session.make_folders(session_path))
            return
        with self._version() as version:
            if key != PurePosixPath("."):
                with self._parent(version, key) as folder:
                    assert folder is not None  # held: nothing changes it but us
                    info = lstat_at(folder, key.name)
                    if info is not None and not stat.S_ISDIR(info.st_mode):
                        if keep(PurePosixPath("."), False):
                            with session.parent_of(session_path, create=True) as (target, name):
                                copy_entry_at(folder, key.name, target, name, owner=session.owner)
                        return
            source = open_beneath(version, str(key), _FOLDER_FLAGS)
        try:
            copy_tree(source, session.folder_maker(session_path), keep, owner=session.owner)
        finally:
            os.close(source)

    # ---- single files ----
    def open_writer(self, key: PurePosixPath) -> AtomicWriter:
        """A writer that makes one file appear complete or not at all."""
        if key == PurePosixPath("."):
            raise ContextPathError("a file path is required")
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        budget = None
        if self.quota_bytes is not None:
            # What the file may hold: the quota less the rest of the context (a file it
            # replaces does not count).
            kept = tree_bytes(self.current) - self._stored_file_size(key)
            budget = self.quota_bytes - kept
        return AtomicWriter(self, key, tmp_dir / secrets.token_hex(8), budget)

    def _stored_file_size(self, key: PurePosixPath) -> int:
        """The size of the regular file stored at ``key`` (0: none, or a link)."""
        if not self.holds(key):
            return 0
        with self._version() as version, self._parent(version, key) as folder:
            info = None if folder is None else lstat_at(folder, key.name)
        return info.st_size if info is not None and stat.S_ISREG(info.st_mode) else 0

    def open_file(self, key: PurePosixPath) -> int | None:
        """A readable descriptor of the stored regular file ``key``, or None (nothing
        there, a folder, or a stored link: links are listed, never served)."""
        if not (self.root / "current").is_symlink() or key == PurePosixPath("."):
            return None
        try:
            with self._version() as version:
                fd = open_beneath(version, str(key), os.O_PATH | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno in _NOT_THERE:  # (or the context was deleted meanwhile)
                return None
            raise
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            os.close(fd)

    def delete_file(self, key: PurePosixPath) -> bool:
        """Remove one file or folder; answer whether it existed.

        The entry is renamed into ``trash/`` (instant, atomic); ``empty_trash`` frees its
        blocks later: unlinking a large file that is in the page cache takes ~0.7 ms per MB.
        """
        if key == PurePosixPath(".") or not self.holds(key):
            return False
        trash = self.root / "trash"
        trash.mkdir(exist_ok=True)
        with self._version() as version, self._parent(version, key) as folder:
            if folder is None:
                return False
            trash_fd = os.open(trash, _FOLDER_FLAGS | os.O_NOFOLLOW)
            try:
                os.rename(key.name, secrets.token_hex(8), src_dir_fd=folder, dst_dir_fd=trash_fd)
            finally:
                os.close(trash_fd)
        return True

    def empty_trash(self) -> None:
        """Free what ``delete_file`` moved aside."""
        trash = self.root / "trash"
        if not trash.is_dir():
            return
        for entry in trash.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def list_folder(self, key: PurePosixPath) -> list[FileEntry]:
        """The entries directly inside one folder, sorted by name."""
        if not (self.root / "current").is_symlink():
            return []
        with self._version() as version:
            try:
                folder = open_beneath(version, str(key), _FOLDER_FLAGS)
            except OSError as exc:
                if exc.errno in _NOT_THERE:
                    return []
                raise
        entries = []
        try:
            for name in sorted(os.listdir(folder)):
                info = lstat_at(folder, name)
                if info is None:
                    continue
                entries.append(
                    FileEntry(
                        key="/" + str(key / name).removeprefix("./"),
                        name=name,
                        is_dir=stat.S_ISDIR(info.st_mode),
                        size=0 if stat.S_ISDIR(info.st_mode) else info.st_size,
                        mtime=info.st_mtime,
                    )
                )
        finally:
            os.close(folder)
        return entries


class AtomicWriter:
    """Streams into a temporary file; ``commit`` renames it into the live version."""

    def __init__(
        self, tree: ContextTree, key: PurePosixPath, tmp: Path, budget: int | None = None
    ) -> None:
        self.tree, self.key, self.tmp = tree, key, tmp
        self.handle = tmp.open("wb")
        self.written = 0
        self._written_back = 0
        self._budget = budget

    def write(self, chunk: bytes) -> None:
        """Append a chunk; every WRITEBACK_BYTES, start writing the new bytes to disk.

        Raises:
            ContextQuotaError: the file would take the context past its quota (the
                caller aborts the writer: nothing is stored).
        """
        self.reserve(self.written + len(chunk))
        self.handle.write(chunk)
        self.written += len(chunk)
        if self.written - self._written_back >= WRITEBACK_BYTES:
            # The disk works while the rest arrives, so commit's fsync has little left.
            self.handle.flush()
            start_writeback(self.handle.fileno(), self._written_back, self.written)
            self._written_back = self.written

    def reserve(self, size: int) -> None:
        """Check that a file of ``size`` bytes fits in the context's quota.

        Raises:
            ContextQuotaError: it does not.
        """
        if self._budget is not None and size > self._budget:
            kept = (self.tree.quota_bytes or 0) - self._budget
            raise self.tree.over_quota(kept + size, "this file")

    def commit(self) -> int:
        """Make the file durable and visible; answer its size."""
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        with self.tree._version() as version:
            try:
                # A stored link in the way is refused, never followed out of the store.
                folder = make_folders_at(version, self.key.parent)
            except OSError as exc:
                self.abort()
                if exc.errno in (errno.ENOTDIR, errno.ELOOP, errno.EEXIST):
                    raise ContextPathError(f"/{self.key.parent} is not a folder") from None
                raise
        try:
            info = lstat_at(folder, self.key.name)
            if info is not None and stat.S_ISDIR(info.st_mode):
                self.abort()
                raise ContextPathError(f"/{self.key} is a folder")
            os.replace(self.tmp, self.key.name, dst_dir_fd=folder)
        finally:
            os.close(folder)
        return self.written

    def abort(self) -> None:
        """Drop the partial file."""
        self.handle.close()
        self.tmp.unlink(missing_ok=True)


#: Bytes between two early write-backs of a file being stored.
WRITEBACK_BYTES = 8 * 1024 * 1024
_SYNC_FILE_RANGE_WRITE = 2


@functools.cache
def _sync_file_range() -> Callable[..., int] | None:
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return function


def start_writeback(fd: int, start: int, end: int) -> None:
    """Ask the kernel to start writing bytes ``start:end`` of ``fd`` to disk, without waiting
    (Linux ``sync_file_range``; best effort: durability still comes from ``fsync``)."""
    function = _sync_file_range()
    if function is not None:
        function(fd, start, end - start, _SYNC_FILE_RANGE_WRITE)


def _keep_all(rel: PurePosixPath, is_dir: bool) -> bool:
    return True


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_entry(source: Path, target: Path, *, link: bool = False) -> None:
    """Copy one entry; ``link`` hard-links files (safe for stored files: never edited in place)."""
    copy = os.link if link else shutil.copy2
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
    elif source.is_dir():
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True, copy_function=copy)
    else:
        copy(source, target)


def _store_from_session(
    session: SessionRoot, path: str, version: int, keys_under: PurePosixPath, keep: Keep
) -> None:
    """Copy the session's ``path`` (a folder or a file; nothing when it does not exist) to
    ``keys_under`` of the version being built, whatever stands there replaced."""
    try:
        folder = session.open_folder(path)
    except FileNotFoundError:
        return  # nothing there: the subtree ends up empty (or as it was, merged)
    except NotADirectoryError:
        pass
    else:
        try:
            copy_tree(folder, host_folder_maker(version, keys_under), keep)
        finally:
            os.close(folder)
        return
    if not keep(PurePosixPath("."), False):
        return
    if keys_under == PurePosixPath("."):
        raise ContextPathError(f"{path} is a file; a whole context syncs a folder")
    try:
        content = session.read_file(path)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EINVAL):
            return  # gone meanwhile, or a device or FIFO: those never leave a session
        raise
    with content:
        info = os.fstat(content.fileno())
        parent = make_folders_at(version, keys_under.parent, replace=True)
        try:
            write_file_at(
                parent,
                keys_under.name,
                content.fileno(),
                mode=info.st_mode,
                times_ns=(info.st_atime_ns, info.st_mtime_ns),
            )
        finally:
            os.close(parent)


def _copy_tree_except(source: Path, target: Path, excluded: PurePosixPath) -> None:
    """Copy ``source`` to ``target`` leaving out the subtree ``excluded`` (a context key)."""
    if source.is_symlink() or not source.is_dir():
        return  # a stored link is never followed (the key's folder replaces it)
    anchor = source.parent

    def ignore(folder: str, names: list[str]) -> set[str]:
        rel = PurePosixPath(os.path.relpath(folder, anchor))
        return {name for name in names if rel / name == excluded}

    shutil.copytree(
        source, target, symlinks=True, dirs_exist_ok=True, ignore=ignore, copy_function=os.link
    )
