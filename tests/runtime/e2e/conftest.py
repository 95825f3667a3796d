"""A real local runtime for the end-to-end tests: started once per test session, over HTTP."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentbay import AgentBay, Config
from agentbay_local.runtime import RuntimeOptions
from agentbay_local.server import EmbeddedRuntime, start_in_thread
from tests.runtime.e2e.api import Api

API_KEY = "akm-e2e-test-key"


@contextlib.contextmanager
def own_runtime(data_dir: Path, api_key: str, **options: Any) -> Iterator[EmbeddedRuntime]:
    """A runtime of a module's own, with ``options`` (``RuntimeOptions`` fields), a pool
    of one; stopped on leaving."""
    settings = {"pool_size": 1, **options}
    embedded = start_in_thread(
        RuntimeOptions(data_dir=data_dir, api_keys=[api_key], port=0, **settings)
    )
    try:
        yield embedded
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRuntime]:
    data_dir: Path = tmp_path_factory.mktemp("runtime")
    embedded = start_in_thread(
        RuntimeOptions(data_dir=data_dir, api_keys=[API_KEY, "akm-second-key"], port=0)
    )
    yield embedded
    embedded.stop()


@pytest.fixture(scope="session")
def api(runtime: EmbeddedRuntime) -> Api:
    return Api(runtime.endpoint, API_KEY)


@pytest.fixture
def session_id(api: Api) -> Iterator[str]:
    """A fresh session, released after the test (if the test did not release it)."""
    sid = api.create_session()
    yield sid
    status, _ = api.raw("ReleaseMcpSession", SessionId=sid)
    assert status in (200, 400)


@pytest.fixture(scope="module")
def bay(runtime: EmbeddedRuntime) -> Iterator[AgentBay]:
    """A sync SDK client of the shared runtime, closed after the module."""
    with AgentBay(api_key=API_KEY, cfg=Config(endpoint=runtime.endpoint, timeout_ms=60000)) as bay:
        yield bay
