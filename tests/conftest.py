"""Suite-wide: no sandbox mount may outlive the tests that made it, and a test that fails
only because this machine can neither find nor build the built-in images skips instead,
naming the command that installs the builder (``tests.support.base_images``).

pytest deletes old temporary directories with rmtree; a session overlay (lowerdir=/) left
mounted under one (a runtime that crashed in a test) would be walked through the overlay.
So: at start, detach mounts under the numbered directories pytest may delete — never under
one a pytest run still going holds (its ``.lock`` names a live PID: concurrent runs on one
machine must not pull each other's sandboxes away); after the run, detach what this run
left under its own directory.
"""

from __future__ import annotations

import getpass
import os
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest


def _detach(directory: Path) -> None:
    from agentbay_local.sandbox.layout import unmount_tree

    unmount_tree(directory)


def _held_by_a_live_run(directory: Path) -> bool:
    """Whether a running pytest process holds ``directory`` (pytest writes its PID there)."""
    try:
        pid = int((directory / ".lock").read_text().strip() or "0")
    except (OSError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pytest_sessionstart(session: pytest.Session) -> None:
    root = Path(tempfile.gettempdir()) / f"pytest-of-{getpass.getuser()}"
    if not root.is_dir():
        return
    for directory in root.iterdir():
        numbered = directory.name.startswith("pytest-") and directory.name[7:].isdigit()
        garbage = directory.name.startswith("garbage-")
        if (numbered or garbage) and not _held_by_a_live_run(directory):
            _detach(directory)


@pytest.fixture(scope="session", autouse=True)
def _detach_this_runs_mounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the whole run, detach whatever sandbox mounts it left under its directory."""
    yield
    _detach(tmp_path_factory.getbasetemp())


#: How many refusals for want of the images the runtime had logged when a test started.
_REFUSALS_BEFORE = pytest.StashKey[int]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    from tests.support.base_images import refusals, watch_refusals

    watch_refusals()
    item.stash[_REFUSALS_BEFORE] = refusals()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Report a test (or its fixtures' setup) that failed for want of the built-in images
    as skipped, with the reason and the command that installs what builds them. Only
    there: where the images can be had, or the failure has nothing to do with them (its
    text does not say so, nor did the runtime refuse a request so meanwhile), it stands."""
    report = yield
    if report.failed and report.when in ("setup", "call"):
        from tests.support.base_images import failed_for_want_of_images, refusals

        refused = refusals() > item.stash.get(_REFUSALS_BEFORE, refusals())
        reason = failed_for_want_of_images(report.longreprtext, refused)
        if reason is not None:
            path, line, _ = item.location
            report.outcome = "skipped"
            report.longrepr = (path, (line or 0) + 1, f"Skipped: {reason}")
    return report
