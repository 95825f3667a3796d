"""Suite-wide safety: no sandbox mount may outlive the tests that made it.

pytest deletes old temporary directories with rmtree; a session overlay (lowerdir=/) left
mounted under one (a runtime that crashed in a test) would be walked through the overlay.
So: before pytest rotates its directories, detach mounts under the directories it is about
to delete (all but the newest few, which may belong to runs still going); after the run,
detach what this run left under its own directory.
"""

from __future__ import annotations

import getpass
import tempfile
from pathlib import Path

import pytest

#: pytest keeps this many numbered base directories; older ones are deleted at start.
PYTEST_KEPT_DIRS = 3


def _detach(directory: Path) -> None:
    from agentbay.local.sandbox.layout import unmount_tree

    unmount_tree(directory)


def pytest_sessionstart(session: pytest.Session) -> None:
    root = Path(tempfile.gettempdir()) / f"pytest-of-{getpass.getuser()}"
    if not root.is_dir():
        return
    numbered = sorted(
        (p for p in root.iterdir() if p.name.startswith("pytest-") and p.name[7:].isdigit()),
        key=lambda p: int(p.name[7:]),
    )
    stale = numbered[: -PYTEST_KEPT_DIRS + 1] + [
        p for p in root.iterdir() if p.name.startswith("garbage-")
    ]
    for directory in stale:
        _detach(directory)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None and factory._basetemp is not None:
        _detach(factory._basetemp)
