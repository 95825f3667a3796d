"""Suite-wide safety: no sandbox mount may outlive the tests that made it.

pytest deletes old temporary directories with rmtree; a session overlay (lowerdir=/) left
mounted under one (a runtime that crashed in a test) would be walked and emptied through
the overlay. Detach such mounts before pytest rotates its directories and after the run.
"""

from __future__ import annotations

import getpass
import tempfile
from pathlib import Path

import pytest


def _detach_test_mounts() -> None:
    from agentbay.local.sandbox.layout import unmount_tree

    unmount_tree(Path(tempfile.gettempdir()) / f"pytest-of-{getpass.getuser()}")


def pytest_sessionstart(session: pytest.Session) -> None:
    _detach_test_mounts()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _detach_test_mounts()
