"""The context store's file operations on a real directory."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath

import pytest

from agentbay_local.contexts.files import (
    WRITEBACK_BYTES,
    ContextPathError,
    ContextQuotaError,
    ContextTree,
)
from agentbay_local.sandbox.session_files import SessionRoot


def read_stored(tree: ContextTree, key: str) -> bytes:
    """A stored file's content, read as the download URL serves it."""
    fd = tree.open_file(PurePosixPath(key))
    assert fd is not None
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def test_delete_hides_at_once_and_frees_later(tmp_path: Path) -> None:
    tree = ContextTree(tmp_path / "ctx")
    writer = tree.open_writer(PurePosixPath("big/a.bin"))
    writer.write(b"x" * 1000)
    writer.commit()
    assert tree.holds(PurePosixPath("big/a.bin"))
    assert tree.delete_file(PurePosixPath("big")) is True
    assert not tree.holds(PurePosixPath("big/a.bin"))
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
    assert read_stored(tree, "a.txt") == b"keep"


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
    assert hashlib.sha256(read_stored(tree, "f.bin")).hexdigest() == digest.hexdigest()


def test_links_a_session_stored_are_kept_but_never_followed(tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "f").write_bytes(b"host")
    source = tmp_path / "session"
    (source / "data").mkdir(parents=True)
    (source / "data" / "esc").symlink_to(host)
    (source / "data" / "file").symlink_to(host / "f")
    (source / "sub").mkdir()
    (source / "sub" / "g").write_bytes(b"session")
    tree = ContextTree(tmp_path / "ctx")
    with SessionRoot(os.open(source, os.O_PATH | os.O_DIRECTORY)) as session:
        tree.replace_from(session, "/data", PurePosixPath("."))
        assert [entry.name for entry in tree.list_folder(PurePosixPath("."))] == ["esc", "file"]
        for key in ("file", "esc/f"):  # what a download URL would serve
            assert tree.open_file(PurePosixPath(key)) is None
        assert not tree.holds(PurePosixPath("esc/f"))
        assert tree.list_folder(PurePosixPath("esc")) == []
        assert tree.delete_file(PurePosixPath("esc/f")) is False
        writer = tree.open_writer(PurePosixPath("esc/new"))  # an upload URL's PUT
        writer.write(b"x")
        with pytest.raises(ContextPathError):
            writer.commit()
        # A sync below a stored link replaces the link with a folder, never writes through it.
        tree.replace_from(session, "/sub", PurePosixPath("esc/inner"))
        assert read_stored(tree, "esc/inner/g") == b"session"
    assert sorted(os.listdir(host)) == ["f"] and (host / "f").read_bytes() == b"host"
    # Downloaded into a session, a stored link is a link again (never its target's content).
    other = tmp_path / "other"
    other.mkdir()
    with SessionRoot(os.open(other, os.O_PATH | os.O_DIRECTORY)) as session:
        tree.copy_into(PurePosixPath("file"), "/got", session)
    assert os.readlink(other / "got") == str(host / "f")


def test_a_live_directory_is_published_as_a_version_without_setuid(tmp_path: Path) -> None:
    tree = ContextTree(tmp_path / "ctx")
    writer = tree.open_writer(PurePosixPath("kept.txt"))
    writer.write(b"before")
    writer.commit()
    live = tree.open_live(None)
    assert (live / "kept.txt").read_bytes() == b"before"  # a copy of the version
    (live / "kept.txt").write_bytes(b"after")  # a session's write, in place
    (live / "tool").write_bytes(b"#!")
    os.chmod(live / "tool", 0o4755)
    os.symlink("/etc", live / "etc")
    assert read_stored(tree, "kept.txt") == b"before"  # the store is untouched meanwhile
    tree.publish_live()
    assert not tree.live.exists()
    assert read_stored(tree, "kept.txt") == b"after"
    assert os.stat(tree.current / "tool").st_mode & 0o7777 == 0o755
    assert os.readlink(tree.current / "etc") == "/etc"


def test_a_live_directory_over_the_quota_is_kept_unpublished(tmp_path: Path) -> None:
    tree = ContextTree(tmp_path / "ctx", quota_bytes=10)
    live = tree.open_live(None)
    (live / "big").write_bytes(b"x" * 11)
    with pytest.raises(ContextQuotaError, match="over its quota"):
        tree.publish_live()
    assert (tree.live / "big").read_bytes() == b"x" * 11  # nothing lost
    assert list(tree.current.iterdir()) == []
    tree.recover()
    assert tree.live.is_dir()  # a crash's recovery keeps it too
