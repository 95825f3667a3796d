"""``agentbay mcp --http``: the ``mcp`` package's client over streamable HTTP against a real
runtime: the bearer token, a session per connection (two clients, two sessions apart),
deleted when the client leaves or, killed, when its idle timeout ends; hostile requests get
JSON-RPC errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import httpx2
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from agentbay import AgentBay
from agentbay_local.server import EmbeddedRuntime
from tests.mcp.conftest import labelled, server_argv, server_env, wait_for
from tests.support.spawn import free_port, wait_until_listening

TOKEN = "mcp-test-token-0123456789"


@pytest.fixture(scope="module")
def url(runtime: EmbeddedRuntime) -> Iterator[str]:
    """An HTTP server whose clients are idle after 3 s, with the test's label."""
    port = free_port()
    process = subprocess.Popen(
        server_argv(
            runtime, "--http", f"127.0.0.1:{port}", "--idle-timeout", "3", "--label", "test=http"
        ),
        env={**server_env(), "AGENTBAY_MCP_TOKEN": TOKEN},
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_listening(process, port)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


def client(url: str, token: str = TOKEN) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
    return Client(streamable_http_client(url, http_client=http))


def text(result: types.CallToolResult) -> str:
    item = result.content[0]
    assert isinstance(item, types.TextContent), item
    return item.text


def test_two_clients_have_two_sessions_apart(url: str, bay: AgentBay) -> None:
    async def main() -> dict[str, Any]:
        async with client(url) as one, client(url) as two:
            await one.call_tool("write_file", {"path": "/tmp/mine", "content": "one"})
            seen = await two.call_tool("read_file", {"path": "/tmp/mine"})
            ids = [
                json.loads(text(await c.call_tool("session_info", {})))["session_id"]
                for c in (one, two)
            ]
            tools = await one.list_tools()
            return {
                "seen": seen,
                "ids": ids,
                "during": labelled(bay, "http"),
                "tools": len(tools.tools),
            }

    out = anyio.run(main)
    assert out["seen"].is_error, "the second client read the first one's file"
    assert out["ids"][0] != out["ids"][1]
    assert sorted(out["during"]) == sorted(out["ids"])
    assert out["tools"] > 4
    # Both clients closed their connections (DELETE): both sessions are gone.
    wait_for(lambda: labelled(bay, "http") == [], "the sessions of closed connections deleted")


def test_no_token_or_a_wrong_one_is_refused(url: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        answer = httpx.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=headers, timeout=10
        )
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == -32001


def test_hostile_requests_get_json_rpc_errors(url: str) -> None:
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    for body in (b"{not json", b"[1, 2]", b'{"jsonrpc": "2.0", "id": 1}'):
        answer = httpx.post(url, content=body, headers=headers, timeout=10)
        assert 400 <= answer.status_code < 500, (body, answer.status_code)
        assert "error" in answer.json(), body
    huge = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "shell", "arguments": {"command": "x" * 5_000_000}},
        }
    )
    answer = httpx.post(url, content=huge, headers=headers, timeout=30)
    assert answer.status_code == 413 and "error" in answer.json()

    # The server still serves after all of it.
    async def alive() -> str:
        async with client(url) as c:
            return text(await c.call_tool("shell", {"command": "echo ok", "timeout_ms": 5000}))

    assert anyio.run(alive) == "ok\n"


_KILLED = textwrap.dedent(
    """
    import sys, anyio, httpx2
    from mcp.client.client import Client
    from mcp.client.streamable_http import streamable_http_client

    async def main():
        http = httpx2.AsyncClient(headers={"Authorization": "Bearer " + sys.argv[2]})
        async with Client(streamable_http_client(sys.argv[1], http_client=http)) as client:
            answer = await client.call_tool("shell", {"command": "true", "timeout_ms": 5000})
            assert not answer.is_error, answer
            print("ready", flush=True)
            await anyio.sleep(600)

    anyio.run(main)
    """
)


def test_a_killed_client_is_freed_after_its_idle_timeout(url: str, bay: AgentBay) -> None:
    wait_for(lambda: labelled(bay, "http") == [], "no session of an earlier test left")
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED, url, TOKEN], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        assert len(labelled(bay, "http")) == 1
        process.kill()
        process.wait()
        # No DELETE came: the connection ends when idle 3 s, and its session with it.
        wait_for(lambda: labelled(bay, "http") == [], "the killed client's session freed")
    finally:
        process.kill()


def test_a_stateless_request_is_refused_with_the_reason(url: str) -> None:
    # The 2026-07-28 era has no connection to give a session to; tools/list still answers.
    async def main() -> tuple[int, str]:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode="2026-07-28") as c:
            assert (await c.list_tools()).tools
            try:
                await c.call_tool("shell", {"command": "true", "timeout_ms": 5000})
            except MCPError as exc:
                return exc.code, exc.message
            return 0, ""

    code, message = anyio.run(main)
    assert code == types.INVALID_REQUEST
    assert "initialize handshake" in message
