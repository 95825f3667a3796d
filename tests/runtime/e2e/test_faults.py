"""Faults inside a session: its tool server killed from the host in the middle of a call."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.api import Api, RpcError


def _host_processes_with(marker: str) -> list[int]:
    """Host PIDs one of whose command-line arguments is ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if marker.encode() in handle.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def _status_field(pid: int, name: str) -> str:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    raise LookupError(name)


def _sandbox_init(pid: int) -> int:
    """The host PID of PID 1 of the sandbox that ``pid`` runs in (its tool server)."""
    while True:
        if _status_field(pid, "NSpid").split()[-1] == "1":
            return pid
        pid = int(_status_field(pid, "PPid"))


def _wait_for(condition: object, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_a_killed_tool_server_fails_its_session_and_frees_it(
    api: Api, runtime: EmbeddedRuntime
) -> None:
    session_id = api.create_session()
    marker = f"{time.time_ns() % 10**9}.5"
    answers: list[dict[str, object]] = []
    call = threading.Thread(
        target=lambda: answers.append(
            api.tool(session_id, "shell", command=f"sleep {marker}", timeout_ms=120_000)
        )
    )
    call.start()
    _wait_for(lambda: _host_processes_with(marker))
    sleeper = _host_processes_with(marker)[0]
    tool_server = _sandbox_init(sleeper)

    os.kill(tool_server, signal.SIGKILL)
    call.join(60)  # the call's own timeout is 120 s: it must end long before that
    assert not call.is_alive()
    (answer,) = answers
    assert answer["isError"] is True
    assert "stopped unexpectedly" in str(answer["content"])

    # Reported failed, its processes gone, its files freed; other actions refuse it clearly.
    assert api.call("GetSession", SessionId=session_id)["Status"] == "FAILED"
    _wait_for(lambda: not _host_processes_with(marker))
    session_dir = Path(runtime.data_dir) / "sessions" / session_id
    _wait_for(lambda: not session_dir.exists())
    with pytest.raises(RpcError) as refused:
        api.tool(session_id, "shell", command="echo x", timeout_ms=1000)
    assert refused.value.code == "InvalidMcpSession.Failed"
    assert "Release it" in str(refused.value.answer["Message"])

    # Releasing it works, and the runtime goes on serving new sessions.
    api.call("ReleaseMcpSession", SessionId=session_id)
    other = api.create_session()
    assert api.text(other, "shell", command="echo alive", timeout_ms=5000) == "alive\n"
    assert api.call("GetSession", SessionId=other)["Status"] == "RUNNING"
    api.call("ReleaseMcpSession", SessionId=other)
