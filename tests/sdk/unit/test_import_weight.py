"""``from agentbay import AgentBay`` imports no more than defining the client needs.

The result and policy types (dataclasses, with inspect and ast behind them), logging, json,
typing and the HTTP layer are imported at the first call instead; bench/ measures the time,
these tests the modules (a fresh interpreter each, compared with a bare one, so what the
interpreter itself imports at start-up is not counted).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.paths import REPO

#: Modules the client class must not import before it is used (each is ms of import time).
HEAVY = {
    "dataclasses",
    "inspect",
    "typing",
    "re",
    "json",
    "logging",
    "secrets",
    "hashlib",
    "asyncio",
    "httpx",
    "agentbay.session",
    "agentbay.aio.session",
    "agentbay.context",
    "agentbay.context_sync",
    "agentbay._types.response",
    "agentbay._types.context",
    "agentbay.session_params",
    "agentbay.config",
    "agentbay.logger",
}


def modules_after(statement: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``statement``."""
    # One name a line: printing them as JSON would import json (and re) itself.
    code = f"{statement}\nimport sys\nprint(*sys.modules, sep='\\n')"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


@pytest.mark.parametrize(
    "statement", ["from agentbay import AgentBay", "from agentbay import AsyncAgentBay"]
)
def test_importing_the_client_defers_the_heavy_modules(statement: str) -> None:
    added = modules_after(statement) - modules_after("pass")
    assert added & HEAVY == set(), f"{statement} imported {sorted(added & HEAVY)}"
    assert "agentbay.exceptions" in added  # the check sees what the import loads


def test_the_deferred_names_are_still_attributes_of_the_client_modules() -> None:
    import agentbay.agentbay as sync_module
    import agentbay.aio.agentbay as async_module
    from agentbay.aio.session import AsyncSession
    from agentbay.api.models import ExtraConfigs
    from agentbay.config import Config
    from agentbay.model.response import SessionResult
    from agentbay.session import Session

    assert sync_module.Config is Config
    assert sync_module.ExtraConfigs is ExtraConfigs
    assert sync_module.Session is Session
    assert sync_module.SessionResult is SessionResult
    assert async_module.AsyncSession is AsyncSession
    for name in sync_module.__all__:
        assert getattr(sync_module, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'Nonesuch'"):
        getattr(sync_module, "Nonesuch")  # noqa: B009 (the attribute hook is what is tested)
