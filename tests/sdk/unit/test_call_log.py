"""The SDK logs every API call at DEBUG: action, outcome, duration, RequestId; never a secret.

A scripted server on a real socket answers each request; the log is read as a user
configuring ``logging`` would see it.
"""

from __future__ import annotations

import logging
import re

import pytest

from agentbay import AgentBay, Config
from tests.support.raw_http import RawRequest, RawServer, answer

KEY = "akm-call-log-secret-4f2e"


def _script(request: RawRequest) -> bytes:
    if b"GetSession" in request.head:
        return answer(
            b'{"RequestId": "req-get-1", "Success": true, "HttpStatusCode": 200,'
            b' "Data": {"SessionId": "s-1", "Status": "RUNNING"}}'
        )
    if b"ListContexts" in request.head:
        # A server that echoes what it was sent: the key must still not reach the log.
        return answer(
            f'{{"RequestId": "req-list-2", "Code": "InvalidApiKey.NotFound",'
            f' "Message": "no such key Bearer {KEY}"}}'.encode(),
            status="401 Unauthorized",
        )
    return answer(
        b'{"RequestId": "req-ctx-3", "Success": false, "Code": "Context.NotFound",'
        b' "Message": "context ctx-9 not found"}'
    )


@pytest.fixture
def server() -> RawServer:
    raw = RawServer(_script)
    yield raw  # type: ignore[misc]
    raw.stop()


def test_each_call_is_one_debug_line_with_action_duration_and_request_id(
    server: RawServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="agentbay")
    with AgentBay(api_key=KEY, cfg=Config(endpoint=server.url, timeout_ms=5000)) as bay:
        bay.api.call("GetSession", {"SessionId": "s-1"})
        bay.context.list()
        bay.api.call("GetContext", {"Name": "ctx-9"})
    lines = [r.getMessage() for r in caplog.records if r.name == "agentbay.http"]
    assert len(lines) == 3, lines
    ok, refused, failed = lines
    assert re.fullmatch(r"GetSession: HTTP 200 in \d+\.\d ms, RequestId req-get-1", ok), ok
    assert refused.startswith("ListContexts: HTTP 401 InvalidApiKey.NotFound: no such key")
    assert refused.endswith("RequestId req-list-2")
    assert "GetContext: HTTP 200, Success false: [Context.NotFound] context ctx-9" in failed
    assert "RequestId req-ctx-3" in failed
    assert not [r for r in caplog.records if KEY in r.getMessage()]
    assert "Bearer ***" in refused


def test_a_call_that_gets_no_answer_is_logged_with_its_attempts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="agentbay")
    raw = RawServer(lambda request: None)
    try:
        bay = AgentBay(api_key=KEY, cfg=Config(endpoint=raw.url, timeout_ms=5000))
        bay.api._sleep = lambda seconds: None
        with pytest.raises(Exception, match="no answer"):
            bay.api.call("GetSession", {"SessionId": "s-1"})
        bay.close()
    finally:
        raw.stop()
    (line,) = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert re.match(r"GetSession: failed: .*no answer.* in \d+\.\d ms \(3 attempts\)", line), line
