"""GetLink URLs: each reaches its own session's port, through the runtime's link listener.

Every session has its own network namespace, so two sessions serve on the same port; the
traffic is real HTTP (and raw bytes after an Upgrade) to loopback addresses only.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.api import Api
from tests.runtime.e2e.test_faults import _host_processes_with, _sandbox_init

PORT = 30100
#: Echoes every connection's bytes back once the client half-closes (shows what arrived).
ECHO = (
    "import socket, sys, threading\n"
    "server = socket.create_server(('127.0.0.1', int(sys.argv[1])))\n"
    "def echo(connection):\n"
    "    data = b''\n"
    "    while chunk := connection.recv(65536):\n"
    "        data += chunk\n"
    "    connection.sendall(data)\n"
    "    connection.close()\n"
    "while True:\n"
    "    threading.Thread(target=echo, args=(server.accept()[0],)).start()\n"
)


def _start(api: Api, session_id: str, command: str) -> None:
    api.text(session_id, "shell", command=f"nohup {command} >/dev/null 2>&1 &", timeout_ms=5000)


def _serve_page(api: Api, session_id: str) -> None:
    """An HTTP server on PORT whose index page is the session's id."""
    api.text(session_id, "write_file", path="/tmp/www/index.html", content=session_id)
    _start(api, session_id, f"python3 -m http.server {PORT} --bind 127.0.0.1 --directory /tmp/www")


def _link(api: Api, session_id: str, port: int = PORT) -> str:
    return str(api.call("GetLink", SessionId=session_id, Port=port)["Url"])


def _exchange_when_up(url: str, request: bytes) -> bytes:
    """``_exchange`` once the session's server listens (until then the link answers 502)."""
    deadline = time.monotonic() + 20
    while (answer := _exchange(url, request)).startswith(b"HTTP/1.1 502"):
        assert time.monotonic() < deadline, answer[:200]
        time.sleep(0.05)
    return answer


def _get_when_up(client: httpx.Client, url: str) -> httpx.Response:
    """GET ``url``, waiting (with a deadline) for the session's server to listen."""
    deadline = time.monotonic() + 20
    while True:
        answer = client.get(url, timeout=5)
        if answer.status_code != 502 or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


def _exchange(url: str, data: bytes) -> bytes:
    """Send raw bytes to a link's listener, half-close, read everything back."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.fixture
def two_sessions(api: Api) -> Iterator[tuple[str, str]]:
    first, second = api.create_session(), api.create_session()
    yield first, second
    for sid in (first, second):
        api.raw("ReleaseMcpSession", SessionId=sid)


def test_two_sessions_serve_on_the_same_port(api: Api, two_sessions: tuple[str, str]) -> None:
    first, second = two_sessions
    _serve_page(api, first)
    _serve_page(api, second)
    first_url, second_url = _link(api, first), _link(api, second)
    assert first_url != second_url
    with httpx.Client() as client:
        assert _get_when_up(client, first_url).text == first
        assert _get_when_up(client, second_url).text == second
        assert client.get(first_url + "index.html", timeout=5).text == first


def test_requests_are_forwarded_with_the_token_taken_out(api: Api, session_id: str) -> None:
    api.text(session_id, "write_file", path="/tmp/echo.py", content=ECHO)
    _start(api, session_id, f"python3 /tmp/echo.py {PORT}")
    url = _link(api, session_id)
    token = urlsplit(url).path.strip("/")
    chunked = (
        f"POST /{token}/upload?x=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n0\r\n\r\n"
    ).encode()
    sized = f"PUT /{token}/?y HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc".encode()
    bare = b"GET /same-connection HTTP/1.1\r\nHost: h\r\n\r\n"
    expected = (
        b"POST /upload?x=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n"
        b"PUT /?y HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc" + bare
    )
    assert _exchange_when_up(url, chunked + sized + bare) == expected


def test_an_upgrade_switches_to_a_raw_splice(api: Api, session_id: str) -> None:
    api.text(session_id, "write_file", path="/tmp/echo.py", content=ECHO)
    _start(api, session_id, f"python3 /tmp/echo.py {PORT}")
    url = _link(api, session_id)
    token = urlsplit(url).path.strip("/")
    upgrade = (
        f"GET /{token}/ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    ).encode()
    # After the upgrade the bytes are the application's: nothing is parsed or rewritten.
    frames = f"GET /{token}/not-http HTTP/1.1\r\n\r\n".encode() + bytes(range(256))
    answer = _exchange_when_up(url, upgrade + frames)
    assert answer == upgrade.replace(f"/{token}/ws".encode(), b"/ws") + frames


def test_unknown_and_foreign_tokens_are_refused(api: Api, two_sessions: tuple[str, str]) -> None:
    first, second = two_sessions
    api.text(first, "write_file", path="/tmp/echo.py", content=ECHO)
    _start(api, first, f"python3 /tmp/echo.py {PORT}")
    first_url, second_url = _link(api, first), _link(api, second)
    parts = urlsplit(first_url)
    first_token, second_token = parts.path.strip("/"), urlsplit(second_url).path.strip("/")
    alone = f"GET /{first_token}/ HTTP/1.1\r\nHost: h\r\n\r\n".encode()
    _exchange_when_up(first_url, alone)
    with httpx.Client() as client:
        wrong = f"http://{parts.hostname}:{parts.port}/{'A' * 32}/"
        assert client.get(wrong, timeout=5).status_code == 404
        assert client.get(f"http://{parts.hostname}:{parts.port}/", timeout=5).status_code == 404
    # Another link's token on a connection already routed ends that connection: the echo
    # server, which answers only at end of file, never gets to answer.
    assert _exchange(first_url, alone + f"GET /{second_token}/ HTTP/1.1\r\n\r\n".encode()) == b""


def test_a_released_sessions_link_closes(api: Api) -> None:
    session_id = api.create_session()
    _serve_page(api, session_id)
    url = _link(api, session_id)
    parts = urlsplit(url)
    with httpx.Client() as client:
        assert _get_when_up(client, url).text == session_id
        # An open connection through the link...
        sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        sock.sendall(f"GET {parts.path} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
        assert sock.recv(12).startswith(b"HTTP/1.")
        api.call("ReleaseMcpSession", SessionId=session_id)
        # ...is cut at release, and the URL no longer answers.
        sock.settimeout(10)
        while sock.recv(65536):
            pass
        sock.close()
        assert client.get(url, timeout=5).status_code == 404


def test_sessions_cannot_reach_the_runtime(
    api: Api, session_id: str, runtime: EmbeddedRuntime
) -> None:
    """Neither the control plane nor the link listener, by loopback or the NAT's gateway."""
    probe = (
        "import socket, sys\n"
        "for host in sys.argv[2:]:\n"
        "    try:\n"
        "        socket.create_connection((host, int(sys.argv[1])), timeout=3).close()\n"
        "        print(host, 'connected')\n"
        "    except OSError as exc:\n"
        "        print(host, type(exc).__name__)\n"
    )
    api.text(session_id, "write_file", path="/tmp/probe.py", content=probe)
    control = urlsplit(runtime.endpoint).port
    link = urlsplit(_link(api, session_id)).port
    for port in (control, link):
        text = api.text(
            session_id,
            "shell",
            command=f"python3 /tmp/probe.py {port} 127.0.0.1 10.0.2.2",
            timeout_ms=10000,
        )
        assert "connected" not in text and text.count("\n") == 2, text


def test_a_failed_sessions_link_closes(api: Api) -> None:
    """A session whose tool server dies by itself loses its links like a released one."""
    session_id = api.create_session()
    folder = f"/tmp/www-{session_id}"  # marks its server among all the host's processes
    api.text(session_id, "write_file", path=f"{folder}/index.html", content=session_id)
    _start(api, session_id, f"python3 -m http.server {PORT} --bind 127.0.0.1 --directory {folder}")
    url = _link(api, session_id)
    with httpx.Client() as client:
        assert _get_when_up(client, url).text == session_id
        (server,) = _host_processes_with(folder)
        os.kill(_sandbox_init(server), signal.SIGKILL)
        deadline = time.monotonic() + 20
        while api.call("GetSession", SessionId=session_id)["Status"] != "FAILED":
            assert time.monotonic() < deadline, "the session was not reported failed"
            time.sleep(0.02)
        assert client.get(url, timeout=5).status_code == 404
    api.call("ReleaseMcpSession", SessionId=session_id)


def test_large_bodies_pass_both_ways(api: Api, session_id: str) -> None:
    """8 MiB each way: more than any buffer, so reading pauses and resumes on both sides."""
    api.text(session_id, "write_file", path="/tmp/echo.py", content=ECHO)
    _start(api, session_id, f"python3 /tmp/echo.py {PORT}")
    url = _link(api, session_id)
    token = urlsplit(url).path.strip("/")
    # Until the echo server listens the link answers 502 and closes: with 8 MiB still being
    # sent that is a reset, so wait for it with an empty request first.
    probe = f"PUT /{token}/probe HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n".encode()
    _exchange_when_up(url, probe)
    body = os.urandom(8 * 1024 * 1024)
    head = f"PUT /{token}/big HTTP/1.1\r\nHost: h\r\nContent-Length: {len(body)}\r\n\r\n"
    answer = _exchange(url, head.encode() + body)
    expected_head = head.replace(f"/{token}/big", "/big").encode()
    assert len(answer) == len(expected_head) + len(body)
    assert answer == expected_head + body
