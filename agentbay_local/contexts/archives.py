"""Unpacking archives from a context safely (``extractPolicy``).

Archives come from users, so nothing in one is trusted: member names are cleaned like context
paths (no ``..``, no absolute paths), only regular files and folders are unpacked (links,
devices and FIFOs are skipped), permission bits lose setuid/setgid/sticky, and the total size
unpacked is capped so a small archive cannot fill the disk.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO

from agentbay_local.contexts.files import ContextPathError, clean_key
from agentbay_local.contexts.sync_policy import ExtractRule
from agentbay_local.sandbox.session_files import Keep, SessionRoot, copy_tree

#: Suffixes recognised as archives, longest first so ``.tar.gz`` wins over ``.gz``.
ARCHIVE_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tbz2", ".txz", ".tar", ".zip")
#: Unpacked bytes allowed per archive.
MAX_UNPACKED_BYTES = 8 * 1024**3
_BLOCK = 1024 * 1024


class ArchiveError(ValueError):
    """An archive that cannot be unpacked (corrupt, or larger than allowed)."""


def archive_stem(name: str) -> str | None:
    """The name without its archive suffix, or None when ``name`` is not an archive."""
    lowered = name.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if lowered.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


class _Budget:
    def __init__(self, limit: int) -> None:
        self.left = limit

    def copy(self, source: IO[bytes], target: Path, mode: int) -> None:
        with target.open("wb") as out:
            while block := source.read(_BLOCK):
                self.left -= len(block)
                if self.left < 0:
                    raise ArchiveError(
                        f"the archive unpacks to more than {MAX_UNPACKED_BYTES} bytes"
                    )
                out.write(block)
        target.chmod(mode & 0o777 or 0o644)


def _member_target(root: Path, name: str) -> Path | None:
    try:
        key = clean_key(name)
    except ContextPathError:
        return None
    return None if key == PurePosixPath(".") else root / key


def extract(archive: Path, into: Path, limit: int = MAX_UNPACKED_BYTES) -> None:
    """Unpack ``archive`` into the (host) folder ``into``; raises ArchiveError if it cannot."""
    into.mkdir(parents=True, exist_ok=True)
    budget = _Budget(limit)
    try:
        if archive.name.lower().endswith(".zip"):
            _extract_zip(archive, into, budget)
        else:
            _extract_tar(archive, into, budget)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        shutil.rmtree(into, ignore_errors=True)
        raise ArchiveError(f"{archive.name} cannot be unpacked: {exc}") from None
    except ArchiveError:
        shutil.rmtree(into, ignore_errors=True)
        raise


def _extract_zip(archive: Path, into: Path, budget: _Budget) -> None:
    with zipfile.ZipFile(archive) as bundle:
        for info in bundle.infolist():
            target = _member_target(into, info.filename)
            if target is None:
                continue
            mode = (info.external_attr >> 16) & 0o777
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                continue  # a symbolic link
            target.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(info) as source:
                budget.copy(source, target, mode)


def _extract_tar(archive: Path, into: Path, budget: _Budget) -> None:
    with tarfile.open(archive) as bundle:
        for member in bundle:
            target = _member_target(into, member.name)
            if target is None:
                continue
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                target.chmod(member.mode & 0o777 | 0o700)
            elif member.isfile():
                source = bundle.extractfile(member)
                if source is None:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with source:
                    budget.copy(source, target, member.mode)


def unpack_into_session(
    source: Path,
    session_path: str,
    session: SessionRoot,
    rule: ExtractRule,
    scratch: Path,
    keep: Keep | None = None,
) -> None:
    """Unpack every archive of a downloaded context tree where the download put it.

    ``source`` is the stored file or folder that was copied to ``session_path``, ``keep``
    what of it was copied (paths relative to ``source``; only those archives). Each archive
    is unpacked on the host into ``scratch`` first (so nothing in it can touch the session
    before it is checked), then copied in like any other download: by descriptor, so no
    link of the session leads it elsewhere.
    """
    base = PurePosixPath(session_path)
    chosen = keep or (lambda _rel, _is_dir: True)
    if source.is_file() and not source.is_symlink():
        found = [(source, base)] if chosen(PurePosixPath("."), False) else []
    else:
        found = []
        for here, below, files in os.walk(source):
            rel = PurePosixPath(os.path.relpath(here, source))
            below[:] = [name for name in below if chosen(rel / name, True)]
            found += [
                (Path(here) / name, base / rel / name)
                for name in files
                if chosen(rel / name, False) and not (Path(here) / name).is_symlink()
            ]
    for archive, in_session in found:
        stem = archive_stem(archive.name)
        if stem is None:
            continue
        work = scratch / f"unpack-{secrets.token_hex(6)}"
        try:
            extract(archive, work)
            folder = in_session.parent if rule.into_current_folder else in_session.parent / stem
            existing = session.stat(str(folder))
            if existing is not None and stat.S_ISDIR(existing.st_mode):
                # The copy below takes the folder's mode from ``work``: keep the session's.
                os.chmod(work, stat.S_IMODE(existing.st_mode))
                os.utime(work, ns=(existing.st_atime_ns, existing.st_mtime_ns))
            unpacked = os.open(work, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                copy_tree(unpacked, session.folder_maker(str(folder)), owner=session.owner)
            finally:
                os.close(unpacked)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if rule.delete_source:
            session.remove(str(in_session))
