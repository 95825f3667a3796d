"""``agentbay mcp``'s command line: what it refuses, and the bearer token it makes when none
is given (printed once, to stderr, and required)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx

from agentbay_local.server import EmbeddedRuntime
from tests.mcp.conftest import server_argv, server_env
from tests.support.spawn import free_port, wait_until_listening


def refused(*args: str) -> str:
    done = subprocess.run(
        server_argv_no_runtime(*args), capture_output=True, text=True, timeout=60, env=server_env()
    )
    assert done.returncode == 2, done
    return done.stderr


def server_argv_no_runtime(*args: str) -> list[str]:
    return [sys.executable, "-m", "agentbay.cli", "mcp", *args]


def test_bad_flags_are_refused_with_the_reason(tmp_path: Path) -> None:
    assert "not a loopback address" in refused("--http", "0.0.0.0:8765")
    assert "expected HOST:PORT" in refused("--http", "nope")
    assert "cannot read the token file" in refused(
        "--http", "8765", "--token-file", f"{tmp_path}/none"
    )
    assert "must be positive" in refused("--idle-timeout", "0")


def test_a_generated_token_is_printed_once_and_required(runtime: EmbeddedRuntime) -> None:
    port = free_port()
    env = {k: v for k, v in server_env().items() if k != "AGENTBAY_MCP_TOKEN"}
    process = subprocess.Popen(
        server_argv(runtime, "--http", str(port)), env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert line.startswith("agentbay mcp: bearer token (shown once): ")
        token = line.rsplit(" ", 1)[1].strip()
        assert len(token) >= 32
        wait_until_listening(process, port)
        url = f"http://127.0.0.1:{port}/mcp"
        ping = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            },
        }
        headers = {"Accept": "application/json, text/event-stream"}
        assert httpx.post(url, json=ping, headers=headers, timeout=10).status_code == 401
        answer = httpx.post(
            url, json=ping, timeout=10, headers={**headers, "Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200, answer.text
        # The token is on no command line.
        assert token not in Path(f"/proc/{process.pid}/cmdline").read_text()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
