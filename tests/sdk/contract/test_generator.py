"""`make generate` is deterministic, offline, and its checked-in output is fresh."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import openapi_python_client
import pytest

from generator import pipeline
from tests.sdk.contract.wire import ACTIONS, REPO, endpoint_module

UPSTREAM_MACROS_SHA256 = "58edb8b4913db6ed4863c633fb39365364494398c8156c77151c6676f1b28fee"


def test_checked_in_generated_code_is_fresh() -> None:
    """Regenerate into a scratch directory: no changed, missing or stale (untracked) file."""
    assert pipeline.check() == []


def test_template_override_matches_the_pinned_generator() -> None:
    """The override is a patched copy: if the pinned generator's original changes, re-patch it."""
    upstream = (
        Path(openapi_python_client.__file__).parent / "templates" / "endpoint_macros.py.jinja"
    )
    assert hashlib.sha256(upstream.read_bytes()).hexdigest() == UPSTREAM_MACROS_SHA256
    override = (REPO / "templates" / "client" / "endpoint_macros.py.jinja").read_text()
    assert UPSTREAM_MACROS_SHA256 in override


def test_code_shaping_tools_are_pinned_exactly() -> None:
    assert set(pipeline.pinned_versions()) == {"openapi-python-client", "ruff"}


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_has_its_four_generated_functions(action: str) -> None:
    module = endpoint_module(action)
    for name in ("sync", "sync_detailed", "asyncio", "asyncio_detailed"):
        assert callable(getattr(module, name)), f"{module.__name__}.{name}"


def test_generated_files_say_so() -> None:
    for path in (REPO / "agentbay" / "_api").rglob("*.py"):
        assert path.read_text().startswith(pipeline.HEADER), path


def test_generated_client_imports_as_a_subpackage() -> None:
    client = importlib.import_module("agentbay._api")
    assert hasattr(client, "Client")
