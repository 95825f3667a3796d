"""Fixtures for the sandbox tests: a real SandboxManager driven from a background event loop.

No mocks: every test starts real sandboxes (namespaces, overlay, cgroups), so these tests
need root on Linux and are skipped elsewhere. The loop runs in a thread of its own so sync
test functions can share one manager per module (``Env.run`` submits a coroutine to it).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from agentbay_local.sandbox import Sandbox, SandboxManager, probe
from agentbay_local.sandbox.image import SandboxImage
from tests.support.base_images import session_image

T = TypeVar("T")


class Env:
    """One manager on one event loop thread, plus helpers to call tools synchronously."""

    def __init__(self, data_dir: Path, image: SandboxImage | None = None, **options: Any) -> None:
        self.data_dir = data_dir
        #: What ``session()`` starts: linux_latest's root filesystem unless told otherwise.
        self.image = image or session_image("linux_latest")
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.manager = SandboxManager(data_dir, **options)
        self.run(self.manager.start((self.image,)))
        self._count = 0

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run a coroutine on the manager's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def session(self, prefix: str = "s") -> Sandbox:
        """A new session's sandbox (released at module end if the test does not)."""
        self._count += 1
        session_id = f"{prefix}-{self._count}"
        return self.run(
            self.manager.create(
                session_id, hostname=session_id, image_id="linux_latest", image=self.image
            )
        )

    def release(self, sandbox: Sandbox) -> None:
        """Release a session."""
        self.run(self.manager.release(sandbox.session_id))

    def call(
        self, sandbox: Sandbox, tool: str, timeout_s: float = 30, **args: Any
    ) -> dict[str, Any]:
        """One tool call's raw answer."""
        return self.run(sandbox.call_tool(tool, args, timeout_s=timeout_s), timeout_s + 10)

    def text(self, sandbox: Sandbox, tool: str, **args: Any) -> str:
        """The text of a tool call that must succeed."""
        answer = self.call(sandbox, tool, **args)
        assert answer["isError"] is False, answer
        assert len(answer["content"]) == 1 and answer["content"][0]["type"] == "text"
        return str(answer["content"][0]["text"])

    def error(self, sandbox: Sandbox, tool: str, **args: Any) -> str:
        """The text of a tool call that must fail."""
        answer = self.call(sandbox, tool, **args)
        assert answer["isError"] is True, answer
        return str(answer["content"][0]["text"])

    def sh(self, sandbox: Sandbox, command: str, timeout_ms: int = 10000) -> str:
        """stdout of a shell command that must succeed."""
        return self.text(sandbox, "shell", command=command, timeout_ms=timeout_ms)

    def close(self) -> None:
        """Release everything and stop the loop."""
        try:
            self.run(self.manager.close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "unisolated: runs without namespaces, so also where isolation is impossible"
    )


@pytest.fixture(autouse=True)
def _needs_isolation(request: pytest.FixtureRequest) -> None:
    """Skip (rather than fail) isolated-sandbox tests where sandboxes cannot be built."""
    if request.node.get_closest_marker("unisolated") is None:
        problem = probe.isolation_problem()
        if problem is not None:
            pytest.skip(f"isolated sandboxes do not work here: {problem}")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """An isolated manager with a pool of one, shared by the tests of a module."""
    problem = probe.isolation_problem()
    if problem is not None:
        pytest.skip(f"isolated sandboxes do not work here: {problem}")
    environment = Env(tmp_path_factory.mktemp("sandbox"), pool_size=1)
    yield environment
    environment.close()


@pytest.fixture(scope="module")
def box(env: Env) -> Sandbox:
    """One session shared by a module's tool tests."""
    return env.session("shared")


def new_env(data_dir: Path, **options: Any) -> Env:
    """A separate manager (own loop) for tests that need other options."""
    return Env(data_dir, **options)
