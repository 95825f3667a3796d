"""Every python block of the guides and the README runs as written on the embedded runtime.

All blocks run in one child process (tests/sdk/docs/run_guides.py), so they share one embedded
runtime and leave none behind in the test process; each block is reported as its own test.
Blocks marked as not run (cloud examples) are compiled there and skipped here with the
reason.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.sdk.docs.guides import ROOT, Block, blocks, pages

#: The whole run: every guide, one runtime (a few tens of seconds on 2 busy cores).
RUN_TIMEOUT_S = 240

BLOCKS = [block for page in pages() for block in blocks(page)]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    results = tmp_path_factory.mktemp("guides") / "results.json"
    env = {key: value for key, value in os.environ.items() if not key.startswith("AGENTBAY_")}
    completed = subprocess.run(
        [sys.executable, "-m", "tests.sdk.docs.run_guides", str(results)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    loaded: dict[str, dict[str, str]] = json.loads(results.read_text(encoding="utf-8"))
    return loaded


def test_every_guide_has_blocks_that_run() -> None:
    for page in pages():
        assert any(b.not_run_reason is None for b in blocks(page)), f"{page}: no runnable block"


def test_the_local_runtime_guide_documents_every_serve_flag_and_no_other() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "agentbay.cli", "local", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", shown)) - {"--help"}
    guide = (ROOT / "docs" / "guides" / "local-runtime.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(--[a-z-]+)", guide, re.MULTILINE))
    assert flags, shown
    assert documented == flags


@pytest.mark.parametrize("block", BLOCKS, ids=[block.name for block in BLOCKS])
def test_block(block: Block, outcomes: dict[str, dict[str, str]]) -> None:
    outcome = outcomes[block.name]
    if outcome["status"] == "not_run":
        pytest.skip(f"{block.name} not run by design: {outcome['output']}")
    if outcome["status"] == "skipped":
        pytest.skip(f"{block.name}: {outcome['output']}")
    assert outcome["status"] == "passed", f"{block.name} failed:\n{outcome['output']}"
