"""``make help``: one aligned column of descriptions, make variables shown with their values."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.support.paths import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _help(*overrides: str) -> list[str]:
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), "help", *overrides],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.splitlines()


def test_every_description_starts_in_one_column() -> None:
    lines = _help()
    assert len(lines) > 5
    starts = {re.match(r"  make \S+ +", line).end() for line in lines}  # type: ignore[union-attr]
    assert len(starts) == 1, lines


def test_variables_show_their_values() -> None:
    lines = _help("REPEAT=7")
    assert not [line for line in lines if "$(" in line], lines
    (repeat,) = [line for line in lines if line.split()[1] == "test-repeat"]
    assert " 7 times" in repeat
