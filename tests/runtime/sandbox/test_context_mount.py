"""Mounting a host directory (a context's live directory) into running sessions
(sandbox/context_mount.py), tried for real: two sessions share what one writes, a
read-only mount refuses writes and cannot be remounted or unmounted by the session, a
setuid file a session plants is inert in another session (nosuid), and links a session
plants lead neither the mount's source nor its target out of where they belong; a live
copy on a filesystem of the quota's size (root) survives a restart that left it unmounted,
and one whose copy never completed is dropped, not published."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentbay_local.contexts.files import BUILDING_IMAGE, LIVE_IMAGE, ContextTree
from agentbay_local.sandbox import disk
from agentbay_local.sandbox.context_mount import mount_into_session
from tests.runtime.sandbox.conftest import Env


def live_dir(tmp_path: Path, owner: tuple[int, int] | None) -> Path:
    """A context's live directory, owned by the sessions' root as the runtime makes it."""
    os.chmod(tmp_path, 0o755)
    live = tmp_path / "live"
    (live / "sub").mkdir(parents=True)
    (live / "sub" / "seed").write_text("seed\n")
    if owner is not None:
        for path in (live, live / "sub", live / "sub" / "seed"):
            os.chown(path, *owner)
    return live


def test_two_sessions_share_writes_and_read_only_holds(env: Env, tmp_path: Path) -> None:
    a, b = env.session(), env.session()
    live = live_dir(tmp_path, a.root_owner)
    assert a.pid is not None and b.pid is not None
    env.sh(a, "mkdir -p /mnt/data")
    env.sh(b, "mkdir -p /mnt/data /mnt/ro")
    mount_into_session(a.pid, live, "", "/mnt/data", read_only=False)
    mount_into_session(b.pid, live, "", "/mnt/data", read_only=False)
    mount_into_session(b.pid, live, "sub", "/mnt/ro", read_only=True)
    env.sh(a, "echo from-a > /mnt/data/sub/new")
    assert env.sh(b, "cat /mnt/data/sub/new /mnt/ro/new /mnt/ro/seed") == "from-a\nfrom-a\nseed\n"
    assert (live / "sub" / "new").read_text() == "from-a\n"
    refused = env.call(
        b,
        "shell",
        command="echo x > /mnt/ro/z; mount -o remount,bind,rw /mnt/ro; umount /mnt/ro;"
        " echo x > /mnt/ro/z",
        timeout_ms=5000,
    )
    assert "Read-only file system" in refused["structuredContent"]["stderr"]
    assert not (live / "sub" / "z").exists()
    flags = env.sh(b, "grep ' /mnt/ro ' /proc/self/mountinfo")
    assert " ro," in flags and "nosuid" in flags and "nodev" in flags
    env.release(a)
    env.release(b)


def test_a_planted_setuid_file_is_inert_elsewhere(env: Env, tmp_path: Path) -> None:
    a, b = env.session(), env.session()
    live = live_dir(tmp_path, a.root_owner)
    assert a.pid is not None and b.pid is not None
    for box, pid in ((a, a.pid), (b, b.pid)):
        env.sh(box, "mkdir -p /mnt/data")
        mount_into_session(pid, live, "", "/mnt/data", read_only=False)
    plant = "cp /usr/bin/id /mnt/data/sid && chmod 4755 /mnt/data/sid"
    env.sh(a, plant + " && (mknod /mnt/data/null c 1 3 || true)")
    # Another session's ordinary user runs it: nosuid keeps it that user.
    got = env.sh(b, "setpriv --reuid=65534 --regid=65534 --clear-groups /mnt/data/sid -u")
    assert got.strip() == "65534"
    assert (
        "Permission denied"
        in env.call(b, "shell", command="cat /mnt/data/null", timeout_ms=5000)["structuredContent"][
            "stderr"
        ]
        or not (live / "null").exists()
    )
    env.release(a)
    env.release(b)


def test_planted_links_lead_nowhere_else(env: Env, tmp_path: Path) -> None:
    a = env.session()
    live = live_dir(tmp_path, a.root_owner)
    assert a.pid is not None
    outside = tmp_path / "host-secret"
    outside.mkdir()
    (outside / "key").write_text("host\n")
    os.symlink(str(outside), live / "escape")  # as a session would plant it
    env.sh(a, "mkdir -p /mnt/src && ln -s /etc /mnt/link")
    with pytest.raises(OSError, match=r"ELOOP|link|Too many levels"):
        mount_into_session(a.pid, live, "escape", "/mnt/src", read_only=True)
    # A target through the session's own link lands inside the session (its /etc).
    mount_into_session(a.pid, live, "sub", "/mnt/link", read_only=True)
    assert env.sh(a, "cat /etc/seed") == "seed\n"
    assert (
        "host"
        not in env.call(a, "shell", command="cat /mnt/src/key", timeout_ms=5000)[
            "structuredContent"
        ]["stdout"]
    )
    env.release(a)


MIB = 1024**2


def live_filesystems(tmp_path: Path, quota: int = 8 * MIB) -> ContextTree:
    """A context whose live copy is a filesystem of its own (root with loop devices)."""
    problem = disk.problem()
    if problem is not None:
        pytest.skip(f"live filesystems need loop devices: {problem}")
    return ContextTree(tmp_path / "ctx", quota, tmp_path / "disks")


def test_a_live_filesystem_left_unmounted_is_published_whole(tmp_path: Path) -> None:
    tree = live_filesystems(tmp_path)
    live = tree.open_live(None)
    assert os.path.ismount(live) and os.listdir(live) == []  # no lost+found
    (live / "kept.txt").write_text("mounted write\n")
    disk.detach(live)  # as a reboot leaves it: the image, and an empty folder
    assert not (live / "kept.txt").exists()
    tree.recover()
    tree.publish_live()  # mounts the image again first: nothing lost
    assert (tree.current / "kept.txt").read_text() == "mounted write\n"
    assert not live.exists() and not (tree.root / LIVE_IMAGE).exists()
    assert not os.path.ismount(live)


def test_a_live_filesystem_never_completed_is_dropped(tmp_path: Path) -> None:
    tree = live_filesystems(tmp_path)
    (tree.current / "stored.txt").write_text("stored\n")
    live = tree.open_live(None)
    # As a crash while copying leaves it: the image still under its building name.
    os.rename(tree.root / LIVE_IMAGE, tree.root / BUILDING_IMAGE)
    (live / "stored.txt").unlink()
    tree.recover()
    assert not live.exists() and not (tree.root / BUILDING_IMAGE).exists()
    assert (tree.current / "stored.txt").read_text() == "stored\n"
    assert (tree.open_live(None) / "stored.txt").read_text() == "stored\n"  # made anew
    tree.delete()
    assert not os.path.ismount(live)


def test_a_context_too_full_for_its_filesystem_is_refused(tmp_path: Path) -> None:
    tree = live_filesystems(tmp_path, quota=2 * MIB)
    (tree.current / "big.bin").write_bytes(b"x" * (2 * MIB - 1024))  # within the quota
    with pytest.raises(OSError, match="does not fit a mount's filesystem"):
        tree.open_live(None)
    assert not tree.live.exists() and not (tree.root / BUILDING_IMAGE).exists()
    assert (tree.current / "big.bin").stat().st_size == 2 * MIB - 1024
