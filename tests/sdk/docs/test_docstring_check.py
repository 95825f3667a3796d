"""The docs build's docstring check (docs/hooks/docstrings.py) finds what it promises.

A small package written here, with one flaw of each kind, is checked as ``make docs`` checks
``agentbay``. Needs the docs extra (``make docs`` installs it; CI runs it before the tests).
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from tests.sdk.docs.guides import ROOT

pytest.importorskip("griffe", reason="the docs extra is not installed (make docs installs it)")

PACKAGE = '''
"""A package."""

from demo.things import Documented, Undocumented, helper

__all__ = ["Documented", "Undocumented", "helper"]
'''

THINGS = '''
"""Things."""


class Documented:
    """Has a docstring, and so do its public members."""

    def method(self) -> None:
        """A method."""

    @property
    def size(self) -> int:
        """A property."""
        return 1

    def _private(self) -> None:
        pass


class Undocumented:
    def method(self) -> None:
        pass

    @property
    def size(self) -> int:
        return 1


def helper() -> None:
    """A function."""
'''


def load_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "docstrings_hook", ROOT / "docs" / "hooks" / "docstrings.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_missing_docstrings_and_unrendered_names_are_reported(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "__init__.py").write_text(textwrap.dedent(PACKAGE))
    (tmp_path / "demo" / "things.py").write_text(textwrap.dedent(THINGS))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "page.md").write_text("# Things\n\n::: demo.Documented\n\n::: demo.things.helper\n")

    found = load_hook().problems("demo", tmp_path, docs)

    assert sorted(found) == [
        "public name missing from the reference pages: demo.things.Undocumented",
        "public name without a docstring: demo.things.Undocumented",
        "public name without a docstring: demo.things.Undocumented.method",
        "public name without a docstring: demo.things.Undocumented.size",
    ]
