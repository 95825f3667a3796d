"""`.ci/official-suite` (tests/support/official_suite.py) against a checkout's layout: the
official repository's ``python/`` folder holds the SDK's own source (``agentbay/``) beside
``tests/``, and the suite must still run with the client ``--client`` names, from its venv.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.official import InstallFailed
from tests.support.official_suite import run_suite

CLIENT = "0.22.3"

# What the official conftest does first: import the SDK (tests/conftest.py there).
CONFTEST = "import agentbay  # noqa: F401\n"
CHECK = f'''
import importlib.metadata
import agentbay


def test_the_client_of_the_venv():
    assert "site-packages" in agentbay.__file__, agentbay.__file__
    assert importlib.metadata.version("wuying-agentbay-sdk") == "{CLIENT}"
'''


def fake_checkout(root: Path) -> Path:
    """A ``python/`` folder shaped as the official repository's: a package ``agentbay/`` of
    its own (which fails on import) beside the package ``tests/``."""
    (root / "agentbay").mkdir(parents=True)
    (root / "agentbay" / "__init__.py").write_text(
        'raise ImportError("the checkout\'s own agentbay/ was imported, not the client")\n'
    )
    suite = root / "tests" / "integration" / "_sync"
    suite.mkdir(parents=True)
    for package in (root / "tests", root / "tests" / "integration", suite):
        (package / "__init__.py").write_text("")
    (root / "tests" / "conftest.py").write_text(CONFTEST)
    (suite / "test_which_client.py").write_text(CHECK)
    return root


def test_the_suite_runs_the_client_not_the_checkouts_source(tmp_path: Path) -> None:
    checkout = fake_checkout(tmp_path / "python")
    output = tmp_path / "suite.log"
    try:
        status = run_suite(checkout, CLIENT, [], output, [])
    except InstallFailed as exc:
        if exc.unreachable:
            pytest.skip(f"the suite's venv could not be installed: {exc}")
        raise
    log = output.read_text()
    assert status == 0, log
    assert "1 passed" in log, log
