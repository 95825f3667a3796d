"""The context store's file operations on a real directory."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath

from agentbay_local.contexts.files import WRITEBACK_BYTES, ContextTree


def test_delete_hides_at_once_and_frees_later(tmp_path: Path) -> None:
    tree = ContextTree(tmp_path / "ctx")
    writer = tree.open_writer(PurePosixPath("big/a.bin"))
    writer.write(b"x" * 1000)
    writer.commit()
    assert tree.file_path(PurePosixPath("big/a.bin")) is not None
    assert tree.delete_file(PurePosixPath("big")) is True
    assert tree.file_path(PurePosixPath("big/a.bin")) is None
    assert [entry.name for entry in tree.list_folder(PurePosixPath("."))] == []
    assert len(list((tmp_path / "ctx" / "trash").iterdir())) == 1  # not freed yet
    tree.empty_trash()
    assert list((tmp_path / "ctx" / "trash").iterdir()) == []
    assert tree.delete_file(PurePosixPath("big")) is False


def test_a_crash_leaves_no_trash_behind(tmp_path: Path) -> None:
    tree = ContextTree(tmp_path / "ctx")
    writer = tree.open_writer(PurePosixPath("a.txt"))
    writer.write(b"keep")
    writer.commit()
    writer = tree.open_writer(PurePosixPath("b.txt"))
    writer.write(b"drop")
    writer.commit()
    tree.delete_file(PurePosixPath("b.txt"))
    tree.recover()  # what a restarted runtime does
    assert not (tmp_path / "ctx" / "trash").exists()
    path = tree.file_path(PurePosixPath("a.txt"))
    assert path is not None and path.read_bytes() == b"keep"


def test_files_larger_than_the_writeback_step_are_stored_exactly(tmp_path: Path) -> None:
    tree = ContextTree(tmp_path / "ctx")
    writer = tree.open_writer(PurePosixPath("f.bin"))
    digest = hashlib.sha256()
    block = os.urandom(1024 * 1024)
    blocks = 2 * WRITEBACK_BYTES // len(block) + 3
    for _ in range(blocks):
        writer.write(block)
        digest.update(block)
    assert writer.commit() == blocks * len(block)
    path = tree.file_path(PurePosixPath("f.bin"))
    assert path is not None
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest.hexdigest()
