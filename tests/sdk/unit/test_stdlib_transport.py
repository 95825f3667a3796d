"""The sync client's transport (http.client under httpx) against a real socket server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from agentbay._core.transport import StdlibTransport, _dropped
from tests.support.raw_http import RawRequest, RawServer, answer


@pytest.fixture
def ok_server() -> Iterator[RawServer]:
    server = RawServer(lambda request: answer(b'{"ok": true}'))
    yield server
    server.stop()


def client(transport: StdlibTransport, base_url: str, timeout: float = 5) -> httpx.Client:
    return httpx.Client(base_url=base_url, transport=transport, timeout=timeout)


def test_request_bytes_are_the_httpx_request_unchanged(ok_server: RawServer) -> None:
    with client(StdlibTransport(), ok_server.url) as http:
        response = http.post(
            "/?Action=GetLabel&Format=json",
            content=b"SessionId=s-1",
            headers={
                "x-acs-action": "GetLabel",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
    assert response.json() == {"ok": True}
    (request,) = ok_server.requests
    sent = response.request.headers.raw  # what httpx built, in its order and spelling
    assert (
        request.head
        == b"POST /?Action=GetLabel&Format=json HTTP/1.1\r\n"
        + b"".join(name + b": " + value + b"\r\n" for name, value in sent)
        + b"\r\n"
    )
    assert request.headers[0] == ("Host", ok_server.url.removeprefix("http://"))
    assert ("x-acs-action", "GetLabel") in request.headers
    assert ("Content-Length", "13") in request.headers
    assert request.body == b"SessionId=s-1"


def test_keep_alive_reuses_one_connection(ok_server: RawServer) -> None:
    with client(StdlibTransport(), ok_server.url) as http:
        for _ in range(5):
            assert http.get("/").status_code == 200
    assert ok_server.connections == 1
    assert [request.connection for request in ok_server.requests] == [0] * 5


def test_a_connection_the_server_closed_is_not_reused(ok_server: RawServer) -> None:
    with client(StdlibTransport(), ok_server.url) as http:
        assert http.post("/", content=b"one").status_code == 200
        ok_server.close_idle_connections()
        assert http.post("/", content=b"two").status_code == 200
    assert [request.body for request in ok_server.requests] == [b"one", b"two"]
    assert ok_server.connections == 2


def test_connection_close_answers_are_not_pooled() -> None:
    server = RawServer(lambda request: answer(extra="Connection: close\r\n"))
    try:
        with client(StdlibTransport(), server.url) as http:
            for _ in range(3):
                assert http.get("/").status_code == 200
        assert server.connections == 3
    finally:
        server.stop()


def test_no_answer_is_an_error_and_the_request_is_not_sent_twice() -> None:
    server = RawServer(lambda request: None)  # reads the request, closes without answering
    try:
        with client(StdlibTransport(), server.url) as http, pytest.raises(httpx.TransportError):
            http.post("/", content=b"create-something")
        assert [request.body for request in server.requests] == [b"create-something"]
    finally:
        server.stop()


def test_refused_connection_is_a_connect_error() -> None:
    server = RawServer(lambda request: answer())
    url = server.url
    server.stop()
    with client(StdlibTransport(), url) as http, pytest.raises(httpx.ConnectError):
        http.get("/")


def test_a_silent_server_is_a_read_timeout() -> None:
    release = threading.Event()

    def stall(request: RawRequest) -> bytes:
        release.wait(10)
        return answer()

    server = RawServer(stall)
    try:
        with (
            client(StdlibTransport(), server.url, timeout=0.3) as http,
            pytest.raises(httpx.ReadTimeout),
        ):
            http.get("/")
    finally:
        release.set()
        server.stop()


def test_streamed_bodies_with_and_without_a_declared_length(ok_server: RawServer) -> None:
    blocks = [b"a" * 70_000, b"", b"b" * 5]
    with client(StdlibTransport(), ok_server.url) as http:
        http.put("/sized", content=iter(blocks), headers={"Content-Length": "70005"})
        http.put("/chunked", content=iter(blocks))
    sized, chunked = ok_server.requests
    assert sized.body == chunked.body == b"a" * 70_000 + b"b" * 5
    assert chunked.httpx_headers["transfer-encoding"] == "chunked"
    assert "transfer-encoding" not in sized.httpx_headers


def test_large_answers_stream_and_partial_reads_drop_the_connection() -> None:
    payload = bytes(range(256)) * 12_000  # ~3 MB: several read blocks
    server = RawServer(lambda request: answer(payload))
    try:
        with client(StdlibTransport(), server.url) as http:
            with http.stream("GET", "/") as response:
                assert b"".join(response.iter_raw()) == payload
            with http.stream("GET", "/") as response:
                next(response.iter_raw())  # abandoned half way: the rest is never read
            assert http.get("/").content == payload
        # the first connection was reused once, the abandoned one was closed
        assert [request.connection for request in server.requests] == [0, 0, 1]
    finally:
        server.stop()


def test_closed_transport_keeps_no_connections(ok_server: RawServer) -> None:
    transport = StdlibTransport()
    with client(transport, ok_server.url) as http:
        http.get("/")
    transport.close()
    assert transport._idle == {}


def test_an_idle_connection_closed_by_the_server_is_seen_before_use(ok_server: RawServer) -> None:
    transport = StdlibTransport()
    with client(transport, ok_server.url) as http:
        http.get("/")
        ((key, (idle,)),) = transport._idle.items()
        assert not _dropped(idle)
        ok_server.close_idle_connections()
        deadline = time.monotonic() + 5
        while not _dropped(idle) and time.monotonic() < deadline:
            time.sleep(0.01)  # the FIN crosses the loopback asynchronously
        assert _dropped(idle)
        assert transport._reuse(key) is None  # discarded, not handed out
