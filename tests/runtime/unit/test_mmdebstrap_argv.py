"""The mmdebstrap command a build runs: mmdebstrap's eatmydata hooks only where the host has
what they run (a fresh machine has mmdebstrap without dpkg-dev: the hooks failed every build
there with "dpkg-architecture: not found")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agentbay_local.images import manifest, rootfs

HOOKS = "--hook-directory=/usr/share/mmdebstrap/hooks/eatmydata"


def test_without_dpkg_architecture_the_eatmydata_hooks_are_left_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it
    argv = rootfs.mmdebstrap_argv(manifest.load()["code_latest"], str(tmp_path / "tree"))
    assert HOOKS not in argv
    assert "--dpkgopt=force-unsafe-io" in argv


def test_with_dpkg_architecture_and_the_hooks_they_are_used() -> None:
    if shutil.which("dpkg-architecture") is None or not Path(HOOKS.split("=", 1)[1]).is_dir():
        pytest.skip(
            "needs dpkg-architecture and mmdebstrap's hooks: apt-get install dpkg-dev mmdebstrap"
        )
    argv = rootfs.mmdebstrap_argv(manifest.load()["code_latest"], "/nonexistent/tree")
    assert HOOKS in argv
