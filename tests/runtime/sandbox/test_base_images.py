"""Base images: built from packages with mmdebstrap, imported from a tarball, cached.

A tiny manifest (Debian's essential packages and python3-minimal) keeps the builds short;
they fetch packages from the Debian archive, the one address besides loopback these tests
reach. Run as root they build root-mode trees, run as an ordinary user (``make
test-rootless``) rootless ones: the same assertions hold for both, with the owners each
mode gives (``rootfs`` module doc).
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentbay_local.images import rootfs
from agentbay_local.images.base_images import (
    CACHE_ENV,
    IMPORTED,
    MANIFEST_ENV,
    BaseImage,
    BaseImageCache,
)
from agentbay_local.sandbox import userns
from tests.support import system_parts
from tests.support.base_images import TINY_BUILD_TIMEOUT_S, tiny_manifest

BUILD_TIMEOUT_S = TINY_BUILD_TIMEOUT_S
TINY = tiny_manifest()
DPKG_FORMAT = "${binary:Package}\t${Version}\n"


@pytest.fixture
def cache_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of an ``agentbay local image`` command on a cache of the test's
    own, with the tiny manifest as the built-ins."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    env = dict(os.environ)
    env[CACHE_ENV] = str(tmp_path / "cache")
    env[MANIFEST_ENV] = str(tmp_path / "tiny.yaml")
    yield env
    rootfs.remove_tree(tmp_path / "cache")  # rootless: trees of subordinate ids


def _cache(env: dict[str, str]) -> BaseImageCache:
    return BaseImageCache(Path(env[CACHE_ENV]), Path(env[MANIFEST_ENV]))


def _needs_builder() -> None:
    system_parts.skip_unless_installed("mmdebstrap")
    problem = rootfs.builder_problem()
    if problem:
        pytest.skip(f"base images cannot be built here: {problem}")


def _image_command(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "agentbay.cli", "local", "image", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _in_tree(tree: Path, *argv: str) -> str:
    """Run a program of the tree inside it, as the tree's root (chroot)."""
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    result = subprocess.run(
        rootfs.as_tree_owner([chroot, str(tree), *argv]),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
    )
    return result.stdout


def _wait_for(condition: object, what: str, timeout_s: float = BUILD_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class _Output:
    """A command's merged output, read in a thread while it runs."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        import threading

        self.process = process
        self.text = ""
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: io.TextIOBase) -> None:
        for line in iter(stream.readline, ""):
            self.text += line

    def finish(self, timeout_s: float = BUILD_TIMEOUT_S) -> int:
        code = self.process.wait(timeout_s)
        self._thread.join(30)
        return code


def _owner_of(image_id: int, group: bool = False) -> int:
    """The host id of a tree's user (or group) id ``image_id`` (root mode: itself;
    rootless: the sessions' mapping, the user as 0)."""
    if not userns.rootless():
        return image_id
    if image_id == 0:
        return os.getgid() if group else os.getuid()
    mapping = userns.id_mapping()
    ids = mapping.gids if group else mapping.uids
    assert ids is not None
    return ids.start + image_id - 1


def _leftovers(cache: Path) -> list[str]:
    """What is in the cache besides records, lock files and published trees."""
    return sorted(entry for entry in os.listdir(cache) if entry.startswith(".build-"))


def _mounts_below(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as handle:
        return [line for line in handle if f" {path}/" in line or f" {path} " in line]


def test_concurrent_first_uses_build_once_with_the_versions_dpkg_reports(
    cache_env: dict[str, str],
) -> None:
    _needs_builder()
    cache_dir = Path(cache_env[CACHE_ENV])
    first = _Output(_image_command(cache_env, "pull", "tiny"))
    _wait_for(lambda: cache_dir.is_dir() and _leftovers(cache_dir), "the first build to start")
    second = _Output(_image_command(cache_env, "pull", "tiny"))
    assert first.finish() == 0, first.text
    assert second.finish() == 0, second.text
    assert "Building tiny" in first.text and "Built tiny in" in first.text
    assert "Waiting for another build of tiny" in second.text
    assert "Building tiny" not in second.text, second.text  # it took the first one's result

    image = _cache(cache_env).get("tiny")
    assert image is not None
    tree = _cache(cache_env).tree_path(image)
    assert os.listdir(cache_dir / "t") == [image.tree]
    assert _leftovers(cache_dir) == [] and _mounts_below(cache_dir) == []

    # Exactly what dpkg inside the tree says, and what its database file says.
    lines = _in_tree(tree, "dpkg-query", "-W", "-f", DPKG_FORMAT).splitlines()
    assert image.packages == dict(line.split("\t") for line in lines)
    assert image.packages == rootfs.read_dpkg_status(tree)
    assert "python3-minimal" in image.packages and "dpkg" in image.packages
    version = _in_tree(tree, "/usr/bin/python3", "-c", "import sys; print(sys.version.split()[0])")
    assert (image.python, image.python_version) == ("/usr/bin/python3", version.strip())
    assert 50e6 < image.size_bytes < 400e6 and image.rootless == userns.rootless()

    # Owners as the sessions' user namespace needs them; no device nodes, nothing of the
    # host's resolver or name, the build's dpkg shortcut not left in the image.
    assert os.lstat(tree / "usr/bin/dpkg").st_uid == _owner_of(0)
    mail_gid = next(
        int(line.split(":")[2])
        for line in (tree / "etc/group").read_text().splitlines()
        if line.startswith("mail:")
    )
    assert os.lstat(tree / "var/mail").st_gid == _owner_of(mail_gid, group=True)
    assert os.listdir(tree / "dev") == []
    assert not (tree / "etc/resolv.conf").exists() and not (tree / "etc/hostname").exists()
    assert "force-unsafe-io" not in (tree / "etc/dpkg/dpkg.cfg.d/99mmdebstrap").read_text()
    # The build's stand-ins are gone (dpkg under eatmydata, py3compile in the background):
    # the real programs are back, and what py3compile compiled is there.
    diversions = _in_tree(tree, "dpkg-divert", "--list")
    assert "dpkg.distrib" not in diversions and "py3compile" not in diversions, diversions
    assert not (tree / "usr/bin/dpkg.distrib").exists()
    assert (tree / "usr/bin/py3compile").read_text().startswith("#! /usr/bin/python3")
    assert not (tree / "var/lib/agentbay-py3compile").exists()
    assert list((tree / "usr/share/python3/debpython/__pycache__").glob("*.cpython-*.pyc"))
    assert (cache_dir / "t").stat().st_mode & 0o077 == 0  # setuid files: the owner's only

    listing = subprocess.run(
        [sys.executable, "-m", "agentbay.cli", "local", "image", "list"],
        env=cache_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    row = next(line for line in listing.splitlines() if line.startswith("tiny "))
    assert "built-in" in row and " built " in row and f"{len(image.packages)} packages" in row

    # A record without its tree is not an image (pull builds it again).
    rootfs.remove_tree(tree)
    assert [state.state for state in _cache(cache_env).states()] == ["tree missing"]


def test_images_share_identical_files_and_a_session_writes_only_its_own(
    cache_env: dict[str, str], tmp_path: Path
) -> None:
    _needs_builder()
    from tests.runtime.sandbox.conftest import Env

    # A second image extending the first (python3: a session's tool server runs on it).
    manifest = TINY + "  tiny2:\n    about: tiny and python3\n    extends: tiny\n"
    Path(cache_env[MANIFEST_ENV]).write_text(manifest + "    packages: [python3]\n")
    cache = _cache(cache_env)
    said: list[str] = []
    first, second = cache.pull("tiny"), cache.pull("tiny2", output=said.append)
    assert any(line.startswith("Shared ") for line in said), said
    one, two = cache.tree_path(first), cache.tree_path(second)
    # A file both got from the same package is one inode; what differs is not shared.
    dpkg = [os.lstat(tree / "usr/bin/dpkg") for tree in (one, two)]
    assert dpkg[0].st_ino == dpkg[1].st_ino and dpkg[0].st_nlink >= 2
    status = [os.lstat(tree / "var/lib/dpkg/status") for tree in (one, two)]
    assert status[0].st_ino != status[1].st_ino
    assert second.packages == rootfs.read_dpkg_status(two)
    before = (one / "usr/bin/dpkg").read_bytes()

    # A session's writes to a shared file land in its own layer, never in either tree.
    env = Env(tmp_path / "data", image=cache.sandbox_image("tiny2")[0])
    try:
        box = env.session()
        env.sh(box, "echo changed >> /usr/bin/dpkg && chmod 600 /usr/bin/dpkg")
        assert env.sh(box, "tail -c 8 /usr/bin/dpkg; stat -c %a /usr/bin/dpkg") == "changed\n600\n"
    finally:
        env.close()
    for tree in (one, two):
        info = os.lstat(tree / "usr/bin/dpkg")
        assert (info.st_ino, info.st_mode) == (dpkg[0].st_ino, dpkg[0].st_mode)
        assert (tree / "usr/bin/dpkg").read_bytes() == before


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["term", "kill"])
def test_an_interrupted_build_leaves_nothing(cache_env: dict[str, str], stop: int) -> None:
    _needs_builder()
    cache_dir = Path(cache_env[CACHE_ENV])
    build = _Output(_image_command(cache_env, "pull", "tiny"))
    # Stopped while dpkg unpacks into the tree (its mounts, processes and files all exist).
    _wait_for(
        lambda: "extracting archives" in build.text or build.process.poll() is not None,
        "the build to unpack packages",
    )
    build.process.send_signal(stop)
    code = build.finish(120)
    if stop == signal.SIGTERM:
        assert code == 130 and "interrupted; nothing was kept" in build.text, build.text
    else:
        assert code == -signal.SIGKILL
    # Its processes die with it; nothing is published, nothing stays mounted.
    _wait_for(lambda: _mounts_below(cache_dir) == [], "the build's mounts to go", 60)
    cache = _cache(cache_env)
    assert cache.get("tiny") is None
    assert os.listdir(cache_dir / "t") == []
    if stop == signal.SIGTERM:
        assert _leftovers(cache_dir) == []
    else:
        # A killed build cannot clean up: the next use of the name does, first thing (again
        # until what the build's last processes were still writing is gone too).
        def cleaned() -> bool:
            cache.clean("tiny")
            return _leftovers(cache_dir) == []

        _wait_for(cleaned, "the next use to remove the killed build's files", 120)
        assert cache.get("tiny") is None and os.listdir(cache_dir / "t") == []
    # No process of the build is left (rootless, mmdebstrap's own namespaces run as this
    # user's subordinate ids, which nothing else here uses for mmdebstrap).
    _wait_for(lambda: _namespaced_builders() == [], "the build's processes to end", 60)


def _namespaced_builders() -> list[int]:
    """mmdebstrap processes running as this user's subordinate ids."""
    uids = userns.id_mapping().uids if userns.rootless() else None
    if uids is None:
        return []
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            owner = os.stat(f"/proc/{entry}").st_uid
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read()
        except (OSError, ValueError):
            continue
        if uids.start <= owner < uids.start + uids.count and b"mmdebstrap" in command:
            found.append(int(entry))
    return found


def _tarball(path: Path) -> Path:
    """A small root filesystem, as ``docker export`` would give one (gzip-compressed):
    root's files, a file of uid 1000, a setuid program, a device node, a dpkg database."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:

        def add(
            name: str, kind: bytes, mode: int, uid: int = 0, data: bytes = b"", target: str = ""
        ) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.uid, info.gid = kind, mode, uid, uid
            info.size, info.linkname = len(data), target
            if kind == tarfile.CHRTYPE:
                info.devmajor, info.devminor = 1, 3
            archive.addfile(info, io.BytesIO(data) if data else None)

        add("./", tarfile.DIRTYPE, 0o755)
        for directory in (
            "etc",
            "dev",
            "home",
            "home/user",
            "usr",
            "usr/bin",
            "var",
            "var/lib",
            "var/lib/dpkg",
        ):
            add(f"./{directory}/", tarfile.DIRTYPE, 0o755, 1000 if "user" in directory else 0)
        add("./etc/os-release", tarfile.REGTYPE, 0o644, data=b"ID=imported\n")
        add("./home/user/notes.txt", tarfile.REGTYPE, 0o600, 1000, b"mine\n")
        add("./usr/bin/su", tarfile.REGTYPE, 0o4755, data=b"#!/bin/sh\n")
        add("./usr/bin/python3", tarfile.SYMTYPE, 0o777, target="python3.11")
        add("./dev/null", tarfile.CHRTYPE, 0o666)
        status = (
            b"Package: base-files\nStatus: install ok installed\nArchitecture: amd64\n"
            b"Version: 12.4\n\nPackage: gone\nStatus: deinstall ok config-files\n"
            b"Version: 1\n"
        )
        add("./var/lib/dpkg/status", tarfile.REGTYPE, 0o644, data=status)
        add("./var/lib/dpkg/arch", tarfile.REGTYPE, 0o644, data=b"amd64\n")
    path.write_bytes(gzip.compress(buffer.getvalue()))
    return path


def test_a_tarball_becomes_a_base_image(cache_env: dict[str, str], tmp_path: Path) -> None:
    problem = rootfs.extractor_problem()
    if problem:
        pytest.skip(f"trees cannot be made here: {problem}")
    tarball = _tarball(tmp_path / "rootfs.tar.gz")
    imported = _Output(_image_command(cache_env, "import", "mybase", str(tarball)))
    assert imported.finish(120) == 0, imported.text
    assert "Imported mybase in" in imported.text
    cache = _cache(cache_env)
    image = cache.get("mybase")
    assert isinstance(image, BaseImage) and image.kind == IMPORTED
    assert image.source == str(tarball) and image.packages == {"base-files": "12.4"}
    assert image.python == "/usr/bin/python3"
    tree = cache.tree_path(image)
    assert (tree / "etc/os-release").read_text() == "ID=imported\n"
    assert os.lstat(tree / "etc/os-release").st_uid == _owner_of(0)
    assert os.lstat(tree / "home/user/notes.txt").st_uid == _owner_of(1000)
    assert os.lstat(tree / "usr/bin/su").st_mode & 0o7777 == 0o4755
    assert os.listdir(tree / "dev") == []  # sessions have a /dev of their own

    states = {state.name: state for state in cache.states()}
    assert states["mybase"].state == "built" and states["tiny"].state == "not built"

    # A built-in's name, or a file that is no tarball: a clear error, nothing kept.
    refused = _Output(_image_command(cache_env, "import", "tiny", str(tarball)))
    assert refused.finish(60) == 2 and "is a built-in image" in refused.text
    (tmp_path / "junk.tar").write_bytes(b"no tarball")
    broken = _Output(_image_command(cache_env, "import", "other", str(tmp_path / "junk.tar")))
    assert broken.finish(60) == 2 and "tar failed" in broken.text, broken.text
    assert "Nothing was kept" in broken.text
    assert cache.get("other") is None and _leftovers(Path(cache_env[CACHE_ENV])) == []
    assert os.listdir(Path(cache_env[CACHE_ENV]) / "t") == [image.tree]

    removed = _Output(
        _image_command(cache_env, "rm", "mybase", "--data-dir", str(tmp_path / "data"))
    )
    assert removed.finish(60) == 0 and "Removed base image mybase" in removed.text
    assert cache.get("mybase") is None and os.listdir(Path(cache_env[CACHE_ENV]) / "t") == []


def test_without_mmdebstrap_pull_says_what_to_install(cache_env: dict[str, str]) -> None:
    env = dict(cache_env, PATH="/nonexistent")
    pull = _Output(_image_command(env, "pull", "tiny"))
    assert pull.finish(60) == 2
    assert "mmdebstrap is not installed" in pull.text
    assert "apt-get install mmdebstrap" in pull.text and "image import" in pull.text
    assert not (Path(cache_env[CACHE_ENV]) / "tiny.json").exists()


@pytest.mark.parametrize("flags", [(), ("--skip-unbuildable",)], ids=["plain", "skip-unbuildable"])
def test_an_unreachable_archive_says_what_to_do(
    cache_env: dict[str, str], tmp_path: Path, flags: tuple[str, ...]
) -> None:
    """A build that fails fails, whatever ``--skip-unbuildable`` (``make images``) says:
    only a machine without a builder is skipped."""
    _needs_builder()
    # A closed port of this machine's loopback stands in for an archive out of reach.
    manifest = tmp_path / "unreachable.yaml"
    manifest.write_text(TINY.replace("http://deb.debian.org/debian", "http://127.0.0.1:9/debian"))
    env = dict(cache_env, **{MANIFEST_ENV: str(manifest)})
    pull = _Output(_image_command(env, "pull", *flags, "tiny"))
    assert pull.finish(300) == 2, pull.text
    assert "could not be reached (http://127.0.0.1:9/debian)" in pull.text
    assert "AGENTBAY_DEBIAN_MIRROR" in pull.text and "image import NAME TARBALL" in pull.text
    assert "Nothing was kept" in pull.text
    cache_dir = Path(cache_env[CACHE_ENV])
    assert _leftovers(cache_dir) == [] and os.listdir(cache_dir / "t") == []
    assert _mounts_below(cache_dir) == []
