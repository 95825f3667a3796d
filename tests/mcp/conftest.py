"""A real local runtime for the MCP server's tests, and the ``agentbay mcp`` command aimed at it.

The server runs as users run it (``python -m agentbay.cli mcp``, a child process), with
``--endpoint`` the runtime's URL, so the test can see from outside which sessions exist.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentbay import AgentBay, Config
from agentbay_local.runtime import RuntimeOptions
from agentbay_local.server import EmbeddedRuntime, start_in_thread

API_KEY = "akm-mcp-test-key"


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRuntime]:
    data_dir: Path = tmp_path_factory.mktemp("mcp-runtime")
    embedded = start_in_thread(RuntimeOptions(data_dir=data_dir, api_keys=[API_KEY], port=0))
    yield embedded
    embedded.stop()


@pytest.fixture(scope="session")
def bay(runtime: EmbeddedRuntime) -> Iterator[AgentBay]:
    """The test's own SDK client of the runtime: what sessions exist."""
    with AgentBay(api_key=API_KEY, cfg=Config(endpoint=runtime.endpoint, timeout_ms=60000)) as b:
        yield b


def server_argv(runtime: EmbeddedRuntime, *extra: str) -> list[str]:
    """The ``agentbay mcp`` command line against the test runtime."""
    return [sys.executable, "-m", "agentbay.cli", "mcp", "--endpoint", runtime.endpoint, *extra]


def server_env() -> dict[str, str]:
    """The server's environment: the API key as users give it."""
    return {**os.environ, "AGENTBAY_API_KEY": API_KEY}


def labelled(bay: AgentBay, label: str) -> list[str]:
    """The ids of the sessions that carry ``test=<label>``."""
    listed = bay.list(labels={"test": label})
    assert listed.success, listed.error_message
    return listed.session_ids


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    """Poll ``condition`` until it holds (fails the test after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout_s} s: {what}")
        time.sleep(0.1)
