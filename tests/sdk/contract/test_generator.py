"""`make generate` is deterministic, offline, and its checked-in output is fresh."""

from __future__ import annotations

import hashlib
import importlib
import inspect
from pathlib import Path

import openapi_python_client
import pytest

from generator import pipeline
from tests.sdk.contract.wire import ACTIONS, REPO, endpoint_module

#: The upstream files our templates/client overrides are patched copies of, by their sha256.
OVERRIDDEN = {
    "endpoint_macros.py.jinja": "58edb8b4913db6ed4863c633fb39365364494398c8156c77151c6676f1b28fee",
    "endpoint_module.py.jinja": "c1b2628053eb4875ba59566baa5ae907666f9cbfafa308d93f970a4404b7cd52",
    "package_init.py.jinja": "ac15907e32dc39bd9b83ea6f2002fb87514f2182b97f88231b5a9c47321f6210",
}


def test_checked_in_generated_code_is_fresh() -> None:
    """Regenerate into a scratch directory: no changed, missing or stale (untracked) file."""
    assert pipeline.check() == []


@pytest.mark.parametrize("name", sorted(OVERRIDDEN))
def test_template_override_matches_the_pinned_generator(name: str) -> None:
    """An override replaces an upstream file: if the pinned generator's original changes,
    redo the override from it."""
    upstream = Path(openapi_python_client.__file__).parent / "templates" / name
    assert hashlib.sha256(upstream.read_bytes()).hexdigest() == OVERRIDDEN[name]
    override = (REPO / "templates" / "client" / name).read_text()
    assert OVERRIDDEN[name] in override


def test_every_template_override_is_pinned() -> None:
    overrides = {path.name for path in (REPO / "templates" / "client").iterdir()}
    assert overrides == set(OVERRIDDEN)


def test_code_shaping_tools_are_pinned_exactly() -> None:
    assert set(pipeline.pinned_versions()) == {"openapi-python-client", "ruff"}


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_has_one_public_request_builder(action: str) -> None:
    """Its request is built one way: ``request_kwargs``; no send functions are generated."""
    module = endpoint_module(action)
    assert callable(module.request_kwargs)
    public = {name for name, value in vars(module).items() if inspect.isfunction(value)}
    assert public == {"request_kwargs"}, f"{module.__name__} defines {sorted(public)}"


def test_generated_files_name_their_source() -> None:
    """The client's files name their generator; every rendered module its template."""
    for path in (REPO / "agentbay" / "_rendered" / "openapi").rglob("*.py"):
        assert path.read_text().startswith(pipeline.CLIENT_HEADER), path
    rendered = [path for path in pipeline.iter_generated_files() if "openapi" not in path.parts]
    assert len(rendered) > 40
    for path in rendered:
        first = path.read_text().splitlines()[0]
        template = first.removeprefix(pipeline.HEADER_START).split(";")[0]
        assert (REPO / template).is_file(), f"{path}: {first}"


def test_generated_client_imports_as_a_subpackage() -> None:
    models = importlib.import_module("agentbay._rendered.openapi.models")
    assert models.GetLabelResponse.__module__.startswith("agentbay._rendered.openapi.models.")
