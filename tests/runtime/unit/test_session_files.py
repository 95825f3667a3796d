"""Descriptor-based access to a session's files, on real directories, with the kernel's
openat2 and with the O_PATH walk older kernels get."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest

from agentbay_local.sandbox import session_files
from agentbay_local.sandbox.session_files import SessionRoot, copy_tree, host_folder_maker


@pytest.fixture(params=["openat2", "walk"])
def resolver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test runs with the kernel's resolution and with the fallback walk."""
    if request.param == "walk":
        monkeypatch.setattr(session_files, "openat2_works", lambda: False)
    elif not session_files.openat2_works():
        pytest.skip("this kernel has no openat2 (the walk variant covers it)")
    return str(request.param)


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """A session root and, beside it, a host folder with a marker the session must not reach."""
    root, host = tmp_path / "root", tmp_path / "host"
    for folder in (root / "etc", root / "data" / "sub", host):
        folder.mkdir(parents=True)
    (root / "etc" / "hostname").write_text("inside\n")
    (host / "marker").write_text("host\n")
    return root, host


@pytest.fixture
def session(layout: tuple[Path, Path]) -> Iterator[SessionRoot]:
    root, _ = layout
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    with SessionRoot(fd) as opened:
        yield opened


def read(session: SessionRoot, path: str) -> bytes:
    with session.read_file(path) as handle:
        return handle.read()


def test_links_resolve_inside_the_root(
    resolver: str, layout: tuple[Path, Path], session: SessionRoot
) -> None:
    root, host = layout
    (root / "data" / "abs").symlink_to("/etc")
    (root / "data" / "up").symlink_to("../../../../..")
    (root / "data" / "out").symlink_to(host)  # the host's absolute path: the session's /...
    (root / "data" / "loop").symlink_to("loop")
    assert read(session, "/data/abs/hostname") == b"inside\n"
    assert read(session, "/data/up/data/up/etc/hostname") == b"inside\n"
    assert read(session, "../../../etc/../etc/hostname") == b"inside\n"
    with pytest.raises(FileNotFoundError):
        read(session, "/data/out/marker")
    with pytest.raises(OSError, match="symbolic links"):
        read(session, "/data/loop/x")


def test_writes_replace_links_and_never_follow_them(
    resolver: str, layout: tuple[Path, Path], session: SessionRoot
) -> None:
    root, host = layout
    (root / "data" / "target").symlink_to(host / "marker")
    session.write_file("/data/target", b"new", 0o4755)
    assert (host / "marker").read_text() == "host\n"
    written = root / "data" / "target"
    assert not written.is_symlink() and written.read_bytes() == b"new"
    assert stat.S_IMODE(written.stat().st_mode) == 0o755  # no setuid bit put in either
    session.write_file("/data/new/deeper/f", b"x")
    assert (root / "data" / "new" / "deeper" / "f").read_bytes() == b"x"
    session.remove("/data/new")
    assert not (root / "data" / "new").exists()
    assert sorted(os.listdir(root / "data")) == ["sub", "target"]  # no temporary left


def test_a_fifo_or_folder_is_not_read_as_a_file(
    resolver: str, layout: tuple[Path, Path], session: SessionRoot
) -> None:
    root, _ = layout
    os.mkfifo(root / "data" / "fifo")
    for path in ("/data/fifo", "/data/sub"):
        with pytest.raises(OSError, match="not a regular file"):
            read(session, path)


def test_the_store_never_follows_a_link(resolver: str, tmp_path: Path) -> None:
    store = tmp_path / "store"
    (store / "real").mkdir(parents=True)
    (store / "real" / "f").write_text("stored")
    (store / "esc").symlink_to(tmp_path)
    fd = os.open(store, os.O_PATH | os.O_DIRECTORY)
    try:
        kept = session_files.open_beneath(fd, "real/f", os.O_RDONLY)
        os.close(kept)
        for path in ("esc/store/real/f", "real/../../store/real/f"):
            with pytest.raises(OSError):
                session_files.open_beneath(fd, path, os.O_RDONLY)
        link = session_files.open_beneath(fd, "esc", os.O_PATH | os.O_NOFOLLOW)
        assert stat.S_ISLNK(os.fstat(link).st_mode)
        os.close(link)
    finally:
        os.close(fd)


def test_copies_out_keep_no_setuid_bit_device_fifo_or_hard_link(
    resolver: str, layout: tuple[Path, Path], tmp_path: Path
) -> None:
    root, host = layout
    source = root / "data"
    (source / "tool").write_bytes(b"#!/bin/sh\n")
    os.chmod(source / "tool", 0o6755)
    os.chmod(source / "sub", 0o2775)
    os.link(source / "tool", source / "hard")
    os.mkfifo(source / "fifo")
    (source / "link").symlink_to(host / "marker")
    out = tmp_path / "out"
    out.mkdir()
    source_fd = os.open(source, os.O_RDONLY | os.O_DIRECTORY)
    out_fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        copy_tree(source_fd, host_folder_maker(out_fd, PurePosixPath("dest")))
    finally:
        os.close(source_fd)
        os.close(out_fd)
    dest = out / "dest"
    assert sorted(os.listdir(dest)) == ["hard", "link", "sub", "tool"]
    assert stat.S_IMODE((dest / "tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "sub").stat().st_mode) == 0o775
    assert (dest / "tool").stat().st_nlink == 1 and (dest / "hard").stat().st_nlink == 1
    assert os.readlink(dest / "link") == str(host / "marker")  # kept as a link, not followed
