"""Messages a caller sees for common mistakes: what happened, and what to do about it.

Each mistake is made as a user would make it; servers are real sockets on loopback.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from agentbay import AgentBay, Config
from agentbay.config import resolve_settings
from agentbay.session import Session
from tests.support.raw_http import RawRequest, RawServer, answer


class PlainHttpServer:
    """Answers every connection with a plain-HTTP 400, as an HTTP server does to a TLS hello."""

    def __init__(self) -> None:
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.0 400 Bad request\r\nContent-Length: 0\r\n\r\n")

    def stop(self) -> None:
        self._listener.close()


@pytest.fixture
def plain_http() -> Iterator[PlainHttpServer]:
    server = PlainHttpServer()
    yield server
    server.stop()


def test_an_endpoint_without_a_scheme_on_a_plain_http_server_is_explained_at_once(
    plain_http: PlainHttpServer,
) -> None:
    endpoint = f"127.0.0.1:{plain_http.port}"
    with AgentBay(api_key="k", cfg=Config(endpoint=endpoint, timeout_ms=5000)) as bay:
        message = bay.get_session("s-1").error_message
    assert f"write the endpoint as 'http://{endpoint}'" in message, message
    assert "without a scheme means https://" in message
    assert plain_http.connections == 1  # no retries: the answer would be the same


@pytest.mark.parametrize("endpoint", ["Local", "LOCAL", " local "])
def test_local_is_local_whatever_its_case(endpoint: str) -> None:
    settings = resolve_settings(None, Config(endpoint=endpoint, timeout_ms=1000), None)
    assert settings.endpoint == "local"


@pytest.mark.parametrize("endpoint", ["ftp://example.invalid", "", "127.0.0.1 8790", "htp://x"])
def test_an_endpoint_that_is_no_url_is_refused_when_the_client_is_made(endpoint: str) -> None:
    with pytest.raises(ValueError, match="is not host\\[:port\\], an http:// or https:// URL"):
        AgentBay(api_key="k", cfg=Config(endpoint=endpoint, timeout_ms=1000))


def test_a_scheme_in_capitals_is_a_scheme() -> None:
    bay = AgentBay(api_key="k", cfg=Config(endpoint="HTTP://127.0.0.1:9/", timeout_ms=1000))
    assert bay.endpoint == "http://127.0.0.1:9"


@pytest.fixture
def offline_bay() -> Iterator[AgentBay]:
    # Labels are checked before any request; the endpoint is a closed loopback port anyway.
    with AgentBay(api_key="k", cfg=Config(endpoint="http://127.0.0.1:9", timeout_ms=2000)) as bay:
        yield bay


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (
            {"a": 1},
            "Label values must be strings: label 'a' is 1 (an int); write it as '1'.",
        ),
        (
            {"ok": "x", "k": " "},
            "Label values cannot be empty Please provide valid values. Label 'k' is ' '.",
        ),
        (
            {"k": None},
            "Label values cannot be empty Please provide valid values. Label 'k' is None.",
        ),
        ({"": "v"}, "Label keys cannot be empty Please provide valid keys. Got ''."),
        ({3: "v"}, "Label keys must be strings: 3 is an int."),
    ],
)
def test_a_bad_label_is_named_with_what_is_wrong(
    offline_bay: AgentBay, labels: dict[object, object], message: str
) -> None:
    result = Session(offline_bay, "s-1").set_labels(labels)  # type: ignore[arg-type]
    assert (result.success, result.error_message) == (False, message)


def test_get_of_a_released_session_says_so_once() -> None:
    def released(request: RawRequest) -> bytes:
        return answer(
            b'{"RequestId": "r-1", "Code": "InvalidMcpSession.NotFound",'
            b' "Message": "The session s-9 is released."}',
            status="400 Bad Request",
        )

    server = RawServer(released)
    try:
        with AgentBay(api_key="k", cfg=Config(endpoint=server.url, timeout_ms=5000)) as bay:
            message = bay.get("s-9").error_message
    finally:
        server.stop()
    assert message.count("Failed to get session s-9") == 1, message
    assert message.startswith("Failed to get session s-9: ")
    assert "The session s-9 is released." in message
