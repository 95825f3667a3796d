"""The SDK against a broken server on a real socket: dropped, garbled and cut-off answers.

The server is scripted (tests/raw_http.py) so each fault happens exactly where the test
says; what is checked is what a user of our SDK sees: a clear ``TransportError`` (or the
documented failure result), and a tool call that is never sent twice.
"""

from __future__ import annotations

import pytest

from agentbay import AgentBay, Config
from agentbay._rendered.client import ApiClient
from agentbay.exceptions import TransportError
from tests.support.raw_http import RawRequest, RawServer, answer

TOOL_CALL = {"SessionId": "session-x", "Name": "shell", "Args": '{"command": "rm -rf /data"}'}


def _client(url: str) -> ApiClient:
    return ApiClient(api_key="akm-fault", endpoint=url, timeout_s=10, sleep=lambda s: None)


def _cut_off(request: RawRequest) -> bytes:
    whole = answer(b'{"RequestId": "r", "Success": true, "Data": {"content": []}}')
    return whole[: len(whole) - 20]  # the head and half the body, then the connection ends


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (lambda request: None, "no answer"),  # read the request, closed without a word
        (lambda request: b"this is not HTTP at all\r\n\r\n", "not valid HTTP"),
        (lambda request: answer(b"<html>502 from some proxy</html>"), "JSON"),
        (_cut_off, "answer"),
    ],
    ids=["dropped", "not-http", "not-json", "cut-off"],
)
def test_a_broken_answer_is_a_transport_error_and_the_call_is_sent_once(
    script: object, expected: str
) -> None:
    server = RawServer(script)  # type: ignore[arg-type]
    try:
        client = _client(server.url)
        with pytest.raises(TransportError) as caught:
            client.call("CallMcpTool", TOOL_CALL)
        assert expected.lower() in str(caught.value).lower()
        assert "Traceback" not in str(caught.value)
        # A tool call may have run already: it is never replayed behind the user's back.
        assert len(server.requests) == 1
        client.close()
    finally:
        server.stop()


def test_the_managers_turn_a_broken_answer_into_their_failure_result() -> None:
    server = RawServer(lambda request: None)
    try:
        with AgentBay(
            api_key="akm-fault", cfg=Config(endpoint=server.url, timeout_ms=10000)
        ) as bay:
            result = bay.get_session("session-x")
        assert result.success is False
        assert "no answer" in result.error_message
        # GetSession only reads: it is retried (max_retries=2 by default), and no more.
        assert len(server.requests) == 3
    finally:
        server.stop()
