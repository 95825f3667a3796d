"""The session WebSocket against hostile and broken clients: malformed frames, unknown
methods, huge messages, readers that stop reading, clients that vanish mid-stream, and the
session released under an open socket. Each gets an error frame or a close code; the runtime
neither crashes, hangs, grows nor leaks a process."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import struct
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.runtime.e2e.api import Api
from tests.support.spawn import serving

KEY = "akm-hostile-streams"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, int]]:
    """`agentbay local serve` in a child process (its memory is measured): API, PID."""
    with serving(tmp_path_factory.mktemp("hostile") / "serve", KEY) as (endpoint, process):
        yield Api(endpoint, KEY), process.pid


@pytest.fixture
def session(served: tuple[Api, int]) -> Iterator[dict[str, Any]]:
    api = served[0]
    data = api.call("CreateMcpSession", ImageId="code_latest")
    yield data
    api.call("ReleaseMcpSession", SessionId=data["SessionId"])


def open_socket(data: dict[str, Any], **options: Any) -> ClientConnection:
    return connect(  # entered: websockets 17 warns on a bare connect()
        data["WsUrl"], additional_headers={"X-Access-Token": data["Token"]}, **options
    ).__enter__()


def request(target: str, data: dict[str, Any]) -> tuple[str, str]:
    invocation_id = uuid.uuid4().hex
    message = {"invocationId": invocation_id, "source": "SDK", "target": target, "data": data}
    return invocation_id, json.dumps(message)


def answer_to(sock: ClientConnection, invocation_id: str, timeout_s: float = 15) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        message = json.loads(sock.recv(timeout=max(0.01, deadline - time.monotonic())))
        if message["invocationId"] == invocation_id:
            return message


def close_code(sock: ClientConnection, timeout_s: float = 15) -> int | None:
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            sock.recv(timeout=max(0.01, deadline - time.monotonic()))
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None
    raise AssertionError("the socket stayed open")


def rss_bytes(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in text.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def test_errors_are_answered_and_the_socket_lives_on(session: dict[str, Any]) -> None:
    with open_socket(session) as sock:
        sock.send("this is not JSON")  # no invocationId: dropped
        sock.send(json.dumps({"invocationId": "abc", "target": 5, "data": {}}))
        bad = answer_to(sock, "abc")
        assert bad["source"] == "WEBSOCKET_SERVER" and "target" in bad["data"]["error"]
        unknown, text = request("PTY_SERVER", {"method": "pty.explode", "params": {}})
        sock.send(text)
        assert "unknown method" in answer_to(sock, unknown)["data"]["error"]
        wrong, text = request("PTY_SERVER", {"method": "pty.kill", "params": {"ptySessionId": 1}})
        sock.send(text)
        assert "no terminal" in answer_to(sock, wrong)["data"]["error"]
        fine, text = request("PTY_SERVER", {"method": "pty.list", "params": {}})
        sock.send(text)
        assert answer_to(sock, fine)["data"]["result"] == {"ptySessionIds": []}


def test_too_many_malformed_messages_close_1008(session: dict[str, Any]) -> None:
    with open_socket(session) as sock:
        for _ in range(101):
            sock.send("[]")
        assert close_code(sock) == 1008


def test_a_huge_message_closes_1009(session: dict[str, Any]) -> None:
    with open_socket(session, max_size=None) as sock:
        _, text = request("PTY_SERVER", {"method": "pty.list", "params": {"x": "y" * (5 << 20)}})
        with contextlib.suppress(ConnectionClosed):  # closed while it is still being sent
            sock.send(text)
        assert close_code(sock) == 1009


def test_a_binary_frame_closes_1003(session: dict[str, Any]) -> None:
    with open_socket(session) as sock:
        sock.send(b"\x00\x01")
        assert close_code(sock) == 1003


def test_an_unmasked_frame_closes_1002(session: dict[str, Any]) -> None:
    url = urlsplit(session["WsUrl"])
    assert url.hostname is not None and url.port is not None
    with socket.create_connection((url.hostname, url.port), timeout=15) as raw:
        key = base64.b64encode(os.urandom(16)).decode()
        raw.sendall(
            f"GET {url.path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"X-Access-Token: {session['Token']}\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += raw.recv(4096)
        assert head.startswith(b"HTTP/1.1 101")
        raw.sendall(bytes([0x81, 2]) + b"{}")  # a client frame without its mask
        data = head.partition(b"\r\n\r\n")[2]
        while len(data) < 4:
            chunk = raw.recv(4096)
            assert chunk, "closed without a close frame"
            data += chunk
        assert data[0] == 0x88 and struct.unpack("!H", data[2:4])[0] == 1002


def test_a_reader_that_stops_reading_does_not_grow_the_runtime(
    served: tuple[Api, int], session: dict[str, Any]
) -> None:
    """A terminal printing without end to a socket nobody reads: the runtime's memory stays
    flat (backpressure reaches the program), and the socket still works afterwards."""
    pid = served[1]
    with open_socket(session, max_size=None, max_queue=1) as sock:
        created, text = request(
            "PTY_SERVER", {"method": "pty.create", "params": {"shell": "yes flood-of-text"}}
        )
        sock.send(text)
        answer_to(sock, created)
        sock.recv(timeout=15)  # output flows
        before = rss_bytes(pid)
        samples = []
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:  # the client reads nothing meanwhile
            samples.append(rss_bytes(pid))
            time.sleep(0.2)
        assert max(samples) - before < 32 << 20, (before, samples)
        listed, text = request("PTY_SERVER", {"method": "pty.list", "params": {}})
        sock.send(text)
        assert answer_to(sock, listed, timeout_s=60)["data"]["result"]["ptySessionIds"]


def test_a_client_vanishing_mid_stream_leaves_nothing_running(
    served: tuple[Api, int], session: dict[str, Any]
) -> None:
    """A streamed cell and a streamed command whose client vanishes are stopped: the next
    cell of the same kernel runs at once, and the command's process is gone."""
    api = served[0]
    marker = uuid.uuid4().hex[:12]
    sock = open_socket(session)
    endless = "import time\nwhile True:\n    print('x', flush=True)\n    time.sleep(0.01)\n"
    cell, text = request(
        "wuying_code",
        {"method": "run_code", "mode": "stream", "params": {"code": endless, "timeoutS": 600}},
    )
    sock.send(text)
    assert answer_to(sock, cell)["data"]["phase"] == "event"
    command = f"while :; do echo {marker}; sleep 0.01; done"
    run, text = request("wuying_shell", {"method": "command.run", "params": {"command": command}})
    sock.send(text)
    assert answer_to(sock, run)["data"]["phase"] == "event"
    sock.socket.shutdown(socket.SHUT_RDWR)  # gone without a close frame
    sock.socket.close()
    with open_socket(session) as again:
        free, text = request(
            "wuying_code",
            {
                "method": "run_code",
                "mode": "stream",
                "params": {"code": "print('free')", "timeoutS": 30},
            },
        )
        again.send(text)
        deadline = time.monotonic() + 30
        while True:  # the kernel is free again: the vanished client's cell was interrupted
            data = answer_to(again, free, timeout_s=max(0.1, deadline - time.monotonic()))["data"]
            if data["phase"] == "end":
                assert data["status"] == "ok", data
                break
    check = f"pgrep -f '{marker[:6]}[{marker[6]}]{marker[7:]}' || echo none"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        got = api.tool(session["SessionId"], "shell", command=check, timeout_ms=5000)
        if got["content"][0]["text"].strip() == "none":
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the streamed command outlived its client")


def test_release_closes_the_socket_1001(served: tuple[Api, int]) -> None:
    api = served[0]
    data = api.call("CreateMcpSession", ImageId="code_latest")
    with open_socket(data) as sock:
        api.call("ReleaseMcpSession", SessionId=data["SessionId"])
        assert close_code(sock) == 1001
    with pytest.raises(Exception, match="HTTP 401"):
        open_socket(data)


def test_the_runtime_is_still_serving(served: tuple[Api, int]) -> None:
    """After all of the above, in the same process."""
    api = served[0]
    data = api.call("CreateMcpSession", ImageId="code_latest")
    try:
        with open_socket(data) as sock:
            listed, text = request("PTY_SERVER", {"method": "pty.list", "params": {}})
            sock.send(text)
            assert answer_to(sock, listed)["data"]["result"] == {"ptySessionIds": []}
    finally:
        api.call("ReleaseMcpSession", SessionId=data["SessionId"])


def test_a_paused_session_refuses_sockets_409(served: tuple[Api, int]) -> None:
    api = served[0]
    data = api.call("CreateMcpSession", ImageId="code_latest")
    try:
        with open_socket(data) as sock:
            api.call("PauseSessionAsync", SessionId=data["SessionId"])
            assert close_code(sock) == 1001
        with pytest.raises(Exception, match="HTTP 409"):
            open_socket(data)
        api.call("ResumeSessionAsync", SessionId=data["SessionId"])
        with open_socket(data) as sock:  # running again: accepted
            listed, text = request("PTY_SERVER", {"method": "pty.list", "params": {}})
            sock.send(text)
            assert answer_to(sock, listed)["data"]["result"] == {"ptySessionIds": []}
    finally:
        api.call("ReleaseMcpSession", SessionId=data["SessionId"])
