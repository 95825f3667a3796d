"""``agentbay mcp`` over stdio at the JSON-RPC level: hostile messages are answered with
JSON-RPC errors and never end the server; a cancelled call is never answered; the session is
deleted on end of input, SIGTERM, and when the client process is killed."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

from agentbay import AgentBay
from agentbay_local.server import EmbeddedRuntime
from tests.mcp.conftest import labelled, server_argv, server_env, wait_for
from tests.mcp.wire import StdioWire


def test_hostile_messages_get_json_rpc_errors(runtime: EmbeddedRuntime) -> None:
    wire = StdioWire(runtime)
    try:
        wire.initialize()
        wire.send_raw(b"{not json")
        parse_error, _ = wire.answer(None)
        assert parse_error["error"]["code"] == -32700
        wire.send({"id": 1, "method": "no/such/method"})
        assert wire.answer(1)[0]["error"]["code"] == -32601
        wire.send({"id": 2, "method": "tools/call", "params": {"name": 5}})
        assert wire.answer(2)[0]["error"]["code"] == -32602
        # Not a request (params not an object, no method, a batch): -32600, id null.
        wire.send({"id": 3, "method": "tools/call", "params": "not an object"})
        assert wire.answer(None)[0]["error"]["code"] == -32600
        huge = wire.call(4, "write_file", {"path": "/tmp/h", "content": "x" * (5 * 1024 * 1024)})
        assert huge["error"]["code"] == -32602 and "at most" in huge["error"]["message"]
        wire.send_raw(b'{"jsonrpc": "2.0", "id": 5}')
        assert wire.answer(None)[0]["error"]["code"] == -32600
        wire.send_raw(b"[1, 2, 3]")
        assert wire.answer(None)[0]["error"]["code"] == -32600
        # A line over the 16 MiB a message may be: dropped and answered, the next one read.
        wire.send_raw(
            b'{"jsonrpc": "2.0", "id": 9, "method": "ping", "params": {"x": "'
            + b"x" * (17 * 1024 * 1024)
            + b'"}}'
        )
        too_long = wire.answer(None)[0]["error"]
        assert too_long["code"] == -32600 and "over" in too_long["message"]
        wire.send({"id": 6, "method": "ping"})
        assert wire.answer(6)[0]["result"] == {}
        shell = wire.call(7, "shell", {"command": "echo alive", "timeout_ms": 5000})
        assert shell["result"]["content"][0]["text"] == "alive\n"
    finally:
        assert wire.close() == 0


def test_a_cancelled_call_is_never_answered(runtime: EmbeddedRuntime) -> None:
    wire = StdioWire(runtime)
    try:
        wire.initialize()
        wire.call("warm", "shell", {"command": "true", "timeout_ms": 5000})
        wire.send(
            {
                "id": "slow",
                "method": "tools/call",
                "params": {
                    "name": "shell",
                    "arguments": {"command": "sleep 2; echo slow", "timeout_ms": 10000},
                },
            }
        )
        wire.send({"method": "notifications/cancelled", "params": {"requestId": "slow"}})
        # This one ends after the cancelled one would have: had it been answered, its answer
        # would have come first.
        later = wire.call("later", "shell", {"command": "sleep 3; echo later", "timeout_ms": 10000})
        assert later["result"]["content"][0]["text"] == "later\n"
        wire.send({"id": "ping", "method": "ping"})
        _, before = wire.answer("ping")
        assert "slow" not in before
    finally:
        wire.close()


def test_sigterm_and_end_of_input_delete_the_session(
    runtime: EmbeddedRuntime, bay: AgentBay
) -> None:
    for how in ("eof", "sigterm"):
        label = f"stdio-{how}"
        wire = StdioWire(runtime, "--label", f"test={label}")
        wire.initialize()
        wire.call(1, "shell", {"command": "true", "timeout_ms": 5000})
        assert len(labelled(bay, label)) == 1
        if how == "eof":
            assert wire.close() == 0
        else:
            wire.process.send_signal(signal.SIGTERM)
            wire.process.wait(timeout=60)
        assert labelled(bay, label) == [], how


def test_kept_and_attached_sessions_outlive_the_client(
    runtime: EmbeddedRuntime, bay: AgentBay
) -> None:
    wire = StdioWire(runtime, "--keep", "--label", "test=stdio-keep")
    wire.initialize()
    wire.call(1, "shell", {"command": "true", "timeout_ms": 5000})
    assert wire.close() == 0
    [kept] = labelled(bay, "stdio-keep")
    wire = StdioWire(runtime, "--session-id", kept)
    wire.initialize()
    answer = wire.call(1, "shell", {"command": "hostname", "timeout_ms": 5000})
    assert answer["result"]["content"][0]["text"].strip() == kept
    assert wire.close() == 0
    assert labelled(bay, "stdio-keep") == [kept]
    assert bay.get(kept).session.delete().success


# The client: the mcp package's, in a process of its own that starts the server, makes a
# session, says so, and waits to be killed.
_CLIENT = textwrap.dedent(
    """
    import os, sys, anyio
    from mcp.client.client import Client
    from mcp.client.stdio import StdioServerParameters

    async def main():
        params = StdioServerParameters(command=sys.argv[1], args=sys.argv[2:], env=dict(os.environ))
        async with Client(params) as client:
            answer = await client.call_tool("shell", {"command": "true", "timeout_ms": 5000})
            assert not answer.is_error, answer
            print("ready", flush=True)
            await anyio.sleep(600)

    anyio.run(main)
    """
)


def test_a_killed_client_frees_its_session(runtime: EmbeddedRuntime, bay: AgentBay) -> None:
    # SIGKILL to the client: the server (its child) sees its stdin close and deletes the
    # session. (A SIGKILL to the server itself cannot be handled by it; the runtime's idle
    # release frees that session.)
    argv = server_argv(runtime, "--label", "test=stdio-killed")
    client = subprocess.Popen(
        [sys.executable, "-c", _CLIENT, *argv],
        env=server_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert client.stdout is not None and client.stdout.readline() == "ready\n"
        assert len(labelled(bay, "stdio-killed")) == 1
        client.kill()
        client.wait()
        wait_for(lambda: labelled(bay, "stdio-killed") == [], "the killed client's session freed")
    finally:
        client.kill()
