"""The SDK's tree says what each file is (docs/architecture.md, "In the SDK the path says ...").

Public modules sit at their 0.9 import paths; the only private top-level names are the rendered
internals, the hand-written plumbing and the one home of result classes.
"""

from __future__ import annotations

import importlib
import inspect

from generator import pipeline
from tests.support.paths import REPO

PACKAGE = REPO / "agentbay"
#: The private subpackages, and whether every module in them is generated.
PRIVATE = {"_rendered": True, "_core": False, "_types": False}


def test_the_only_private_top_level_names_are_the_three_homes() -> None:
    private = {path.name for path in PACKAGE.iterdir() if path.name.startswith("_")}
    assert private - {"__init__.py", "__pycache__"} == set(PRIVATE)


def test_rendered_code_and_hand_written_code_live_apart() -> None:
    generated = set(pipeline.iter_generated_files())
    for name, rendered in PRIVATE.items():
        for path in (PACKAGE / name).rglob("*.py"):
            assert (path in generated) == rendered, path


def test_every_public_result_class_is_defined_in_the_one_home() -> None:
    """The 0.9 paths of result classes are re-exports of ``agentbay._types``."""
    public = [
        "agentbay",
        "agentbay.model",
        "agentbay.model.response",
        "agentbay.models",
        "agentbay.models.mcp_tool",
        "agentbay.api.models",
        "agentbay.context",
        "agentbay.context_manager",
        "agentbay.session",
        "agentbay.filesystem",
        "agentbay.filesystem.filesystem",
        "agentbay.command",
        "agentbay.code",
        "agentbay.oss",
        "agentbay.application",
        "agentbay.window",
        "agentbay.ui",
        "agentbay.mobile",
        "agentbay.agent",
        "agentbay.browser",
    ]
    results = []
    for name in public:
        module = importlib.import_module(name)
        for attribute in getattr(module, "__all__", []):
            value = getattr(module, attribute)
            if inspect.isclass(value) and attribute.endswith(("Result", "Response")):
                results.append((f"{name}.{attribute}", value.__module__))
    assert len(results) > 40
    for path, defined_in in results:
        assert defined_in.startswith("agentbay._types."), f"{path} is defined in {defined_in}"
