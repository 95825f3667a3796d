"""The import contracts of ``make lint`` (pyproject's ``[tool.importlinter]``) hold on this
tree and fail when a forbidden import is added: each case copies the three packages, adds one
import, and expects ``lint-imports`` to name the contract it breaks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("agentbay", "agentbay_local", "agentbay_mcp")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the packages' sources and of pyproject.toml."""
    if not LINT_IMPORTS.exists():
        pytest.skip(f"import-linter is not installed ({LINT_IMPORTS}): make install")
    root = tmp_path_factory.mktemp("contracts")
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # The runtime reaching into the SDK's plumbing instead of agentbay.contract.
        (
            "agentbay_local/store.py",
            "import agentbay._core.transport",
            "only through agentbay.contract",
        ),
        # The SDK importing the runtime outside its bridge.
        ("agentbay/session.py", "import agentbay_local.runtime", "reaches the runtime only"),
        # A lower layer importing a higher one (the service locator this replaced).
        (
            "agentbay_local/sessions/actions.py",
            "from agentbay_local.runtime import Runtime",
            "form layers",
        ),
        # In-session code importing host code.
        (
            "agentbay_local/sandbox/inside/png.py",
            "import agentbay_local.store",
            "only the standard library",
        ),
        # The MCP server reaching the runtime's package, or the SDK's private plumbing.
        ("agentbay_mcp/server.py", "import agentbay_local.store", "public API only"),
        ("agentbay_mcp/results.py", "import agentbay._core.transport", "public API only"),
        # The SDK importing the MCP server outside the command.
        ("agentbay/session.py", "import agentbay_mcp.server", "only through the agentbay mcp"),
        # A circle inside one package.
        ("agentbay_local/sandbox/host_programs.py", "from . import launch", "No import circles"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tree: Path, module: str, line: str, contract: str
) -> None:
    path = tree / module
    original = path.read_text()
    try:
        path.write_text(original + f"\n{line}  # added by the test\n")
        result = _lint(tree)
    finally:
        path.write_text(original)
    assert result.returncode != 0, result.stdout
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout
