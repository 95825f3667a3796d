"""serve and the built-in images' builds: built at start, rebuilt while serving, or refused.

``agentbay local serve`` on an image cache of the test's own, whose manifest makes
``code_latest`` tiny (Debian's essential packages and python3): serve builds it in the
background, creates answer ``ImageBuilding`` meanwhile; built from an older manifest it
serves on, and its rebuild by another process serves the next session while a running one
keeps its tree; where nothing can build the images,
serve refuses to start, saying what to install, unless told ``--host-root``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentbay_local.images import rootfs
from agentbay_local.images.base_images import CACHE_ENV, MANIFEST_ENV, BaseImageCache
from tests.runtime.e2e.api import Api, RpcError
from tests.support import system_parts
from tests.support.base_images import TINY_BUILD_TIMEOUT_S, tiny_manifest
from tests.support.spawn import free_port, serve_argv, stop_serve, wait_until_listening

KEY = "akm-image-builds"
BUILD_TIMEOUT_S = TINY_BUILD_TIMEOUT_S


@pytest.fixture
def cache_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """serve's environment: an empty image cache of the test's own, the tiny manifest."""
    (tmp_path / "tiny.yaml").write_text(tiny_manifest("code_latest", "python3"))
    env = dict(os.environ)
    env[CACHE_ENV] = str(tmp_path / "cache")
    env[MANIFEST_ENV] = str(tmp_path / "tiny.yaml")
    yield env
    rootfs.remove_tree(tmp_path / "cache")  # rootless: trees of subordinate ids


def _serve(tmp_path: Path, env: dict[str, str], *extra: str) -> tuple[subprocess.Popen[str], Api]:
    port = free_port()
    process = subprocess.Popen(
        serve_argv(tmp_path / "data", port, KEY, "--pool-size", "0", *extra),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until_listening(process, port)
    return process, Api(f"http://127.0.0.1:{port}", KEY)


def _inode_seen(api: Api, session_id: str) -> int:
    """The inode of the session's /etc/passwd: the one of the tree it runs on."""
    return int(api.text(session_id, "shell", command="stat -c %i /etc/passwd"))


def test_serve_builds_the_images_and_a_rebuild_serves_the_next_session(
    tmp_path: Path, cache_env: dict[str, str]
) -> None:
    system_parts.skip_unless_installed("mmdebstrap")
    problem = rootfs.builder_problem()
    if problem:
        pytest.skip(f"base images cannot be built here: {problem}")
    cache = BaseImageCache(Path(cache_env[CACHE_ENV]), Path(cache_env[MANIFEST_ENV]))
    process, api = _serve(tmp_path, cache_env)
    first = second = None
    try:
        with pytest.raises(RpcError) as building:
            api.create_session(ImageId="code_latest")
        assert (building.value.status, building.value.code) == (503, "ImageBuilding")
        assert "agentbay local image pull code_latest" in building.value.answer["Message"]
        deadline = time.monotonic() + BUILD_TIMEOUT_S
        while first is None:
            try:
                first = api.create_session(ImageId="code_latest")
            except RpcError as exc:
                assert exc.code == "ImageBuilding", exc.answer
                assert time.monotonic() < deadline, "the build did not finish"
                time.sleep(1)
        built = cache.get("code_latest")
        assert built is not None
        old_tree = cache.tree_path(built)
        assert _inode_seen(api, first) == (old_tree / "etc" / "passwd").stat().st_ino

        # Another version of the manifest: the built tree serves on until it is rebuilt.
        manifest = Path(cache_env[MANIFEST_ENV])
        manifest.write_text(manifest.read_text().replace("[python3]", "[python3, file]"))
        same = api.create_session(ImageId="code_latest")
        assert _inode_seen(api, same) == (old_tree / "etc" / "passwd").stat().st_ino
        api.call("ReleaseMcpSession", SessionId=same)
        rebuild = subprocess.run(
            [sys.executable, "-m", "agentbay.cli", "local", "image", "pull"],
            env=cache_env,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
        )
        assert rebuild.returncode == 0, rebuild.stdout + rebuild.stderr
        rebuilt = cache.get("code_latest")
        assert rebuilt is not None and rebuilt.tree != built.tree
        assert "file" in rebuilt.packages
        second = api.create_session(ImageId="code_latest")
        new_inode = (cache.tree_path(rebuilt) / "etc" / "passwd").stat().st_ino
        assert _inode_seen(api, second) == new_inode
        assert api.text(second, "shell", command="file -b /etc/passwd").startswith("ASCII")
        # The running session keeps its tree: the serve holding it keeps it in place.
        assert old_tree.is_dir()
        assert api.text(first, "shell", command="echo still") == "still\n"
    finally:
        assert stop_serve(process) == 0


def test_serve_refuses_to_start_where_the_images_cannot_be_built(
    tmp_path: Path, cache_env: dict[str, str]
) -> None:
    """No mmdebstrap on PATH and nothing built: serve says what to install and exits 2;
    ``--host-root`` runs sessions on this machine's / instead, with a warning."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for entry in os.environ["PATH"].split(os.pathsep):
        for program in Path(entry).iterdir() if Path(entry).is_dir() else ():
            if program.name != "mmdebstrap" and not (bin_dir / program.name).exists():
                (bin_dir / program.name).symlink_to(program)
    env = {**cache_env, "PATH": str(bin_dir)}
    refused = subprocess.run(
        serve_argv(tmp_path / "data", free_port(), KEY),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2, refused.stderr
    assert "mmdebstrap is not installed" in refused.stderr
    assert "apt-get install mmdebstrap" in refused.stderr and "--host-root" in refused.stderr
    assert "Traceback" not in refused.stderr

    process, api = _serve(tmp_path, env, "--host-root")
    try:
        session_id = api.create_session(ImageId="code_latest")
        # The host's own system: its os-release, as the host reads it.
        assert api.text(session_id, "shell", command="cat /etc/os-release") == (
            Path("/etc/os-release").read_text()
        )
    finally:
        assert stop_serve(process) == 0
    assert process.stderr is not None
    assert "--host-root" in process.stderr.read()
