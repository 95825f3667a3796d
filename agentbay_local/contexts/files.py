"""Context contents on disk: versioned trees swapped atomically, files written atomically.

Layout of one context ``<root>/<context id>/``::

    current -> v-<hex>      symlink to the live version (replaced atomically with os.replace)
    v-<hex>/...             a version: the context's files under their context paths
    tmp/                    partial writes (temporary file + rename into a version)
    trash/                  deleted entries, freed in the background

A crash at any moment leaves ``current`` pointing at a complete version; ``recover`` removes the
leftovers. All functions here are blocking: the control plane calls them in worker threads.
"""

from __future__ import annotations

import ctypes
import functools
import os
import secrets
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

#: The most one context holds unless the runtime is told otherwise (serve --context-quota).
DEFAULT_QUOTA_BYTES = 1024**3
#: Chooses what a sync copies: (path relative to the copied folder, is a folder) -> copy it?
Keep = Callable[[PurePosixPath, bool], bool]


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
    """The on-disk store of one context, holding at most ``quota_bytes`` (None: no quota)."""

    def __init__(self, root: Path, quota_bytes: int | None = None) -> None:
        self.root = root
        self.quota_bytes = quota_bytes

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

    def recover(self) -> None:
        """Delete versions and partial files a crash left behind."""
        if not self.root.exists():
            return
        live = os.readlink(self.root / "current") if (self.root / "current").is_symlink() else None
        for child in self.root.iterdir():
            if child.name == "current" or child.name == live:
                continue
            if child.is_symlink() or child.is_file():
                child.unlink()
            else:
                shutil.rmtree(child, ignore_errors=True)

    def delete(self) -> None:
        """Remove the whole context from disk."""
        shutil.rmtree(self.root, ignore_errors=True)

    # ---- whole-tree sync ----
    def replace_from(
        self,
        source: Path,
        keys_under: PurePosixPath,
        keep: Keep | None = None,
        *,
        merge: bool = False,
    ) -> None:
        """Publish a new version whose ``keys_under`` subtree holds ``source``.

        ``keep`` chooses what is copied (paths relative to ``source``). Without ``merge`` the
        subtree mirrors ``source`` (files deleted there disappear); with ``merge`` stored files
        missing from ``source`` are kept. Everything outside ``keys_under`` is carried over
        from the live version, so syncing one path never disturbs another.
        """
        old = self.current
        new = self._new_version()
        keep = keep or _keep_all
        try:
            target = new / keys_under
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
            if source.is_dir() and not source.is_symlink():
                _copy_selected(source, target, keep)
            elif (source.exists() or source.is_symlink()) and keep(PurePosixPath("."), False):
                target.parent.mkdir(parents=True, exist_ok=True)
                _place(source, target)
            if self.quota_bytes is not None:
                size = tree_bytes(new)
                if size > self.quota_bytes:
                    raise self.over_quota(size, "this upload")
            self._publish(new)
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)

    def holds(self, key: PurePosixPath) -> bool:
        """Whether the live version has anything (a file, folder or link) at ``key``.

        Cheap enough for the event loop: a context never written to is not created on disk.
        """
        link = self.root / "current"
        if not link.is_symlink():
            return False
        source = self.root / os.readlink(link) / key
        return source.exists() or source.is_symlink()

    def copy_into(
        self, key: PurePosixPath, session_path: str, resolve: Callable[[str], Path]
    ) -> None:
        """Copy the ``key`` subtree of the live version to ``session_path`` of a session.

        Every target is resolved with ``resolve`` (the session's own view of its paths), so a
        link the session made cannot redirect the copy outside the session. Existing files
        are replaced; others are kept.
        """
        if not self.holds(key):
            resolve(session_path).mkdir(parents=True, exist_ok=True)
            return
        source = self.current / key
        if not source.is_dir() or source.is_symlink():
            target = resolve(session_path)
            target.parent.mkdir(parents=True, exist_ok=True)
            _place(source, target)
            return
        copy_folder_into_session(source, session_path, resolve)

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
            replaced = self.current / key
            kept = tree_bytes(self.current) - (replaced.stat().st_size if replaced.is_file() else 0)
            budget = self.quota_bytes - kept
        return AtomicWriter(self, key, tmp_dir / secrets.token_hex(8), budget)

    def file_path(self, key: PurePosixPath) -> Path | None:
        """The on-disk path of a stored file, or None."""
        path = self.current / key
        return path if path.is_file() else None

    def delete_file(self, key: PurePosixPath) -> bool:
        """Remove one file or folder; answer whether it existed.

        The entry is renamed into ``trash/`` (instant, atomic); ``empty_trash`` frees its
        blocks later: unlinking a large file that is in the page cache takes ~0.7 ms per MB.
        """
        path = self.current / key
        if key == PurePosixPath("."):
            return False
        if not (path.exists() or path.is_symlink()):
            return False
        trash = self.root / "trash"
        trash.mkdir(exist_ok=True)
        os.rename(path, trash / secrets.token_hex(8))
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
        folder = self.current / key
        if not folder.is_dir():
            return []
        entries = []
        for child in sorted(folder.iterdir(), key=lambda p: p.name):
            info = child.lstat()
            entries.append(
                FileEntry(
                    key="/" + str(key / child.name).removeprefix("./"),
                    name=child.name,
                    is_dir=stat.S_ISDIR(info.st_mode),
                    size=0 if stat.S_ISDIR(info.st_mode) else info.st_size,
                    mtime=info.st_mtime,
                )
            )
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
        target = self.tree.current / self.key
        if target.is_dir():
            self.abort()
            raise ContextPathError(f"/{self.key} is a folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.tmp, target)
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


def _place(source: Path, target: Path) -> None:
    """Put one file or symlink at ``target``, replacing what is there (never following it).

    The old entry is unlinked first: stored files are hard-linked between versions, so
    writing into one in place would change the live version too.
    """
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif target.is_symlink() or target.exists():
        target.unlink()
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
    else:
        shutil.copy2(source, target, follow_symlinks=False)


def _keep_all(rel: PurePosixPath, is_dir: bool) -> bool:
    return True


def copy_folder_into_session(
    source: Path, session_path: str, resolve: Callable[[str], Path]
) -> None:
    """Copy a host folder to ``session_path``, resolving every target the way the session does.

    Existing files are replaced; others are kept.
    """
    base = PurePosixPath(session_path)
    for folder, dirs, files in os.walk(source):
        rel = PurePosixPath(os.path.relpath(folder, source))
        target_dir = resolve(str(base / rel))
        target_dir.mkdir(parents=True, exist_ok=True)
        for name in files + [d for d in dirs if (Path(folder) / d).is_symlink()]:
            _place(Path(folder) / name, resolve(str(base / rel / name)))
        shutil.copystat(folder, target_dir)


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


def _copy_selected(source: Path, target: Path, keep: Keep) -> None:
    """Copy the entries of a tree that ``keep`` admits, with modes, empty folders and symlinks.

    Symbolic links are copied as links and never followed.
    """
    folders = []
    for folder, dirs, files in os.walk(source):
        here = Path(folder)
        rel = PurePosixPath(os.path.relpath(folder, source))
        out = target / rel
        if out.is_symlink() or (out.exists() and not out.is_dir()):
            out.unlink()
        out.mkdir(parents=True, exist_ok=True)
        folders.append((here, out))
        linked = [name for name in dirs if (here / name).is_symlink()]
        dirs[:] = [name for name in dirs if name not in linked and keep(rel / name, True)]
        for name in files + linked:
            if keep(rel / name, False):
                _place(here / name, out / name)
    for here, out in reversed(folders):  # after their contents, which change folder mtimes
        shutil.copystat(here, out, follow_symlinks=False)


def _copy_tree_except(source: Path, target: Path, excluded: PurePosixPath) -> None:
    """Copy ``source`` to ``target`` leaving out the subtree ``excluded`` (a context key)."""
    if not source.is_dir():
        return
    anchor = source.parent

    def ignore(folder: str, names: list[str]) -> set[str]:
        rel = PurePosixPath(os.path.relpath(folder, anchor))
        return {name for name in names if rel / name == excluded}

    shutil.copytree(
        source, target, symlinks=True, dirs_exist_ok=True, ignore=ignore, copy_function=os.link
    )
