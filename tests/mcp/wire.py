"""Raw JSON-RPC lines to and from ``agentbay mcp`` over stdio: what a test needs to send
what no well-behaved client sends, and to watch every message the server writes."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from typing import Any

from agentbay_local.server import EmbeddedRuntime
from tests.mcp.conftest import server_argv, server_env


class StdioWire:
    """``agentbay mcp`` as a child process, spoken to line by line."""

    def __init__(self, runtime: EmbeddedRuntime, *extra: str) -> None:
        self.process = subprocess.Popen(
            server_argv(runtime, *extra),
            env=server_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.stderr: list[bytes] = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.messages.put(json.loads(line))
        self.messages.put(None)

    def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        self.stderr.extend(self.process.stderr)

    def send_raw(self, data: bytes) -> None:
        """Write ``data`` (and a newline) to the server's stdin."""
        assert self.process.stdin is not None
        self.process.stdin.write(data + b"\n")
        self.process.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        """Write one JSON-RPC message."""
        self.send_raw(json.dumps({"jsonrpc": "2.0", **message}).encode())

    def answer(self, request_id: Any, timeout_s: float = 60.0) -> tuple[dict[str, Any], list[Any]]:
        """The answer to ``request_id``, and the ids of the answers that came before it."""
        deadline = time.monotonic() + timeout_s
        before: list[Any] = []
        while True:
            message = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
            if message is None:
                raise AssertionError(f"the server closed stdout: {b''.join(self.stderr)[-2000:]!r}")
            if message.get("id") == request_id:
                return message, before
            before.append(message.get("id"))

    def initialize(self) -> None:
        """The handshake."""
        self.send(
            {
                "id": "init",
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "0"},
                },
            }
        )
        answer, _ = self.answer("init")
        assert answer["result"]["serverInfo"]["name"] == "agentbay", answer
        self.send({"method": "notifications/initialized"})

    def call(self, request_id: Any, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Call one tool and wait for its answer."""
        self.send(
            {
                "id": request_id,
                "method": "tools/call",
                "params": {"name": name, "arguments": arguments},
            }
        )
        return self.answer(request_id)[0]

    def close(self, timeout_s: float = 60.0) -> int:
        """Close stdin (what a client that goes away does) and wait for the exit status."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=timeout_s)
