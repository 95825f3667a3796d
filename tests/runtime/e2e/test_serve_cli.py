"""``agentbay local serve`` as a user meets it: mistakes answered in one line before it claims
to run, and a log that shows what happens without showing secrets."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.runtime.e2e.api import Api
from tests.support.spawn import free_port, serve_argv, stop_serve, wait_until_listening

RUNNING_BANNER = "AgentBay local runtime on"


def _refused(argv: list[str]) -> str:
    """serve's stderr, after checking it exited 2 without a traceback or a running banner."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert RUNNING_BANNER not in done.stderr, done.stderr
    return done.stderr


def test_a_port_in_use_is_one_line_before_any_claim(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        stderr = _refused(serve_argv(tmp_path, port, "k1"))
    assert f"cannot listen on 127.0.0.1:{port}" in stderr
    assert "choose another --port" in stderr


def test_a_data_dir_in_use_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    first = subprocess.Popen(
        serve_argv(tmp_path, port, "k1", "--pool-size", "0"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_listening(first, port)
        stderr = _refused(serve_argv(tmp_path, free_port(), "k1"))
    finally:
        stop_serve(first)
    assert f"the data dir {tmp_path} is in use by another local runtime" in stderr


def test_ports_out_of_range_are_refused_by_the_flags(tmp_path: Path) -> None:
    for flag in ("--port", "--link-port"):
        argv = serve_argv(tmp_path, free_port(), "k1")
        if flag == "--port":
            argv[argv.index("--port") + 1] = "70000"
        else:
            argv += [flag, "70000"]
        assert f"{flag}: '70000' is not a port (1-65535)" in _refused(argv)


def _events(stderr: str) -> list[dict[str, Any]]:
    """The JSON log lines of a serve run (the banner lines before them are text)."""
    events = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    return events


def test_the_log_shows_sessions_refusals_and_calls_but_no_secret(tmp_path: Path) -> None:
    key = "k-log-test-0123456789abcdef"
    port = free_port()
    argv = serve_argv(tmp_path, port, key, "--pool-size", "1")
    argv[argv.index("--log-level") + 1] = "debug"
    argv += ["--log-format", "json"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_listening(process, port)
        api = Api(f"http://127.0.0.1:{port}", key)
        session_id = api.create_session(ImageId="code_latest")
        status, answer = api.raw(
            "CallMcpTool",
            SessionId=session_id,
            Name="shell",
            Args=json.dumps({"command": "echo hi", "timeout_ms": 5000}),
        )
        assert status == 200, answer
        tool_request = answer["RequestId"]
        page = api.call("GetMcpResource", SessionId=session_id)["ResourceUrl"]
        authcode = page.split("authcode=", 1)[1].split("&", 1)[0]
        wrong_status, _ = Api(f"http://127.0.0.1:{port}", "not-the-key").raw(
            "GetSession", SessionId=session_id
        )
        assert wrong_status == 400
        unknown_status, _ = api.raw("GetSession", SessionId="session-doesnotexist00000")
        assert unknown_status == 400
        api.call("ReleaseMcpSession", SessionId=session_id)
    finally:
        stop_serve(process)
        stderr = process.stderr.read() if process.stderr else ""
    events = _events(stderr)
    by_event: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_event.setdefault(event.get("event", ""), []).append(event)
    created = by_event["session_created"]
    assert [e["session"] for e in created] == [session_id]
    assert created[0]["image"] == "code_latest" and "memory" in created[0]["limits"]
    released = by_event["session_released"]
    assert [(e["session"], e["reason"]) for e in released] == [(session_id, "deleted")]
    refused = {e["code"] for e in by_event["refused"]}
    assert {"InvalidApiKey.NotFound", "InvalidMcpSession.NotFound"} <= refused
    calls = {e["request_id"]: e for e in by_event["api_call"]}
    assert calls[tool_request]["action"] == "CallMcpTool"
    assert calls[tool_request]["duration_ms"] >= 0
    assert any(e["tool"] == "shell" and e["session"] == session_id for e in by_event["tool_call"])
    assert key not in stderr and authcode not in stderr


def test_ctrl_c_while_starting_is_a_clean_stop(tmp_path: Path) -> None:
    # The port listens before the runtime is built; Ctrl-C at moments from then until it
    # answers requests lands before and inside uvicorn's signal handling: a clean stop each.
    for round_, delay_s in enumerate((0.0, 0.05, 0.2)):
        port = free_port()
        data_dir = tmp_path / f"round{round_}"
        process = subprocess.Popen(
            serve_argv(data_dir, port, "k1", "--pool-size", "0"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not _accepts(port):
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "serve never listened"
                time.sleep(0.01)
            time.sleep(delay_s)
        finally:
            status = stop_serve(process)
        stderr = process.stderr.read() if process.stderr else ""
        assert status == 0, f"Ctrl-C {delay_s} s after listening: {stderr}"
        assert "Traceback" not in stderr, stderr
        assert "stopped" in stderr, stderr


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True
