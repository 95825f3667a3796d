"""Where this machine cannot build the built-in images (no mmdebstrap: an ordinary user
without sudo), ``make images`` and ``make test`` go on and the tests that need the images
skip, naming the command that installs the builder; ``make demo`` fails, saying the same.

Each case runs on an empty image cache of its own (``AGENTBAY_IMAGE_CACHE``) with a PATH that
holds no mmdebstrap; a build that fails with the builder present stays a failure
(tests/runtime/sandbox/test_base_images.py, the unreachable archive).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentbay_local.images.base_images import (
    BUILTIN,
    CACHE_ENV,
    MANIFEST_ENV,
    BaseImage,
    BaseImageCache,
)
from tests.support import base_images
from tests.support.base_images import tiny_manifest
from tests.support.paths import REPO

MAKE = shutil.which("make")


@pytest.fixture
def no_builder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """This process's environment, and a child's, on an empty image cache of the test's own
    (the tiny manifest's one image) with no mmdebstrap on PATH."""
    manifest = tmp_path / "tiny.yaml"
    manifest.write_text(tiny_manifest())
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(MANIFEST_ENV, str(manifest))
    monkeypatch.setenv("PATH", "/nonexistent")
    base_images.images_problem.cache_clear()
    yield dict(os.environ)
    base_images.images_problem.cache_clear()


def _make(target: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``make TARGET`` of this checkout with this interpreter's venv, its set-up steps taken
    as done (they would install packages)."""
    assert MAKE is not None
    return subprocess.run(
        [
            MAKE,
            "--no-print-directory",
            "-C",
            str(REPO),
            f"BIN={Path(sys.executable).parent}",
            "-o",
            ".venv/.installed-stamp",
            "-o",
            ".venv/.system-packages-stamp",
            target,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(MAKE is None, reason="needs make; to install: apt-get install -y make")
def test_make_images_goes_on_naming_what_installs_the_builder(
    no_builder: dict[str, str],
) -> None:
    images = _make("images", no_builder)
    assert images.returncode == 0, images.stdout + images.stderr
    assert "Not built now: tiny; this machine cannot build images" in images.stderr
    assert "apt-get install mmdebstrap uidmap" in images.stderr
    assert "Traceback" not in images.stderr
    assert not (Path(no_builder[CACHE_ENV]) / "tiny.json").exists()


@pytest.mark.skipif(MAKE is None, reason="needs make; to install: apt-get install -y make")
def test_make_demo_fails_saying_what_installs_the_builder(no_builder: dict[str, str]) -> None:
    demo = _make("demo", no_builder)
    assert demo.returncode == 2, demo.stdout + demo.stderr
    assert "cannot build tiny: mmdebstrap is not installed" in demo.stderr
    assert "apt-get install mmdebstrap uidmap" in demo.stderr
    assert "session" not in demo.stdout  # the quickstart did not run (on the host's / or else)


def test_a_test_that_needs_the_images_skips_naming_the_command(no_builder: dict[str, str]) -> None:
    reason = base_images.images_problem()
    assert reason is not None
    assert reason.startswith("needs the built-in images (tiny: not built)")
    assert "apt-get install -y mmdebstrap" in reason
    # Only a failure in the runtime's words for it is one for want of the images.
    answer = "InvalidImageId.NotBuilt: ... it cannot be built here: mmdebstrap is not installed"
    assert base_images.failed_for_want_of_images(answer) == reason
    assert base_images.failed_for_want_of_images("AssertionError: assert 1 == 2") is None


def test_built_images_need_no_builder(no_builder: dict[str, str]) -> None:
    cache = BaseImageCache()
    # A record and its tree, as a finished build leaves them.
    (cache.trees_dir / "tiny-0").mkdir(parents=True)
    built = BaseImage("tiny", BUILTIN, "tiny-0", cache.recipes()["tiny"].digest())
    (cache.root / "tiny.json").write_text(json.dumps(built.record()))
    assert base_images.images_problem() is None
    assert base_images.failed_for_want_of_images("mmdebstrap is not installed") is None
    if MAKE is not None:  # and make images is a no-op
        images = _make("images", no_builder)
        assert images.returncode == 0, images.stdout + images.stderr
        assert "Reused (already built): tiny" in images.stdout and not images.stderr
