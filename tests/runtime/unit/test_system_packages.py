"""The one package list, read the same way by the set-up step and by the tests' skips."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import system_parts
from tests.support.paths import REPO

STEP = REPO / ".ci" / "system-packages"
BASH = shutil.which("bash") or "/bin/bash"


def _machine_with(tmp_path: Path, *programs: str) -> dict[str, str]:
    """An environment whose PATH holds only ``programs`` (and what the step itself runs)."""
    directory = tmp_path / "bin"
    directory.mkdir()
    for name in ("dirname", *programs):
        found = shutil.which(name)
        assert found is not None, name
        (directory / name).symlink_to(found)
    return {**os.environ, "PATH": str(directory)}


def test_every_line_names_a_package_a_probe_and_why() -> None:
    lines = system_parts.PACKAGE_LIST.read_text(encoding="utf-8").splitlines()
    entries = [line for line in lines if line.strip() and not line.startswith("#")]
    assert len(entries) == len(system_parts.parts()) > 0
    for line in entries:
        fields, _, why = line.partition("#")
        assert len(fields.split()) == 2 and why.strip(), line


def test_the_step_and_the_tests_agree_on_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _machine_with(tmp_path, "make", "git")
    listed = subprocess.run(
        [BASH, str(STEP), "--missing"], env=env, capture_output=True, text=True, timeout=30
    )
    assert listed.returncode == 0, listed.stderr
    monkeypatch.setenv("PATH", env["PATH"])
    expected = [name for name, part in system_parts.parts().items() if not part.installed()]
    assert listed.stdout.split() == expected
    assert "make" not in expected and "slirp4netns" in expected  # the PATH decides, both ways


def test_check_fails_naming_what_is_missing(tmp_path: Path) -> None:
    checked = subprocess.run(
        [BASH, str(STEP), "--check"],
        env=_machine_with(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 1
    assert "system packages missing" in checked.stdout and "slirp4netns" in checked.stdout


def test_a_skip_names_the_command_that_installs_the_part(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    reason = system_parts.missing_reason("slirp4netns", "make")
    assert reason is not None and reason.endswith("apt-get install -y slirp4netns make")
