"""The request sender: which failures are retried, how errors surface, and that keys never leak.

A MockTransport stands in for the network on purpose: these tests need connection failures,
throttling and 5xx answers on demand, which a real server cannot produce deterministically.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest

from agentbay._rendered.aio.client import AsyncApiClient
from agentbay._rendered.client import ApiClient, backoff_delay
from agentbay.exceptions import RequestTimeoutError, ServerError, TransportError

KEY = "akm-secret-key-1234567890"
OK = {"RequestId": "r-1", "Success": True, "Code": "ok", "Data": None}

Handler = Callable[[httpx.Request], httpx.Response]


def sync_client(handler: Handler, retries: int = 2) -> ApiClient:
    return ApiClient(
        api_key=KEY,
        endpoint="http://test",
        timeout_s=5,
        max_retries=retries,
        transport=httpx.MockTransport(handler),
        sleep=lambda seconds: None,
    )


def counting(*answers: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


def test_connect_failures_are_retried_for_every_action() -> None:
    handler, seen = counting(httpx.ConnectError("refused"), httpx.Response(200, json=OK))
    answer = sync_client(handler).call(
        "CallMcpTool", {"SessionId": "s", "Name": "shell", "Args": "{}"}
    )
    assert answer.success is True
    assert len(seen) == 2


def test_5xx_is_retried_only_when_safe() -> None:
    handler, seen = counting(
        httpx.Response(503, json={"Code": "Busy"}), httpx.Response(200, json=OK)
    )
    assert sync_client(handler).call("GetSession", {"SessionId": "s"}).success is True
    assert len(seen) == 2

    handler, seen = counting(httpx.Response(503, json={"Code": "Busy", "Message": "try later"}))
    with pytest.raises(ServerError) as caught:
        sync_client(handler).call("CallMcpTool", {"SessionId": "s", "Name": "shell", "Args": "{}"})
    assert len(seen) == 1, "a tool call that may have run must never be sent twice"
    assert caught.value.code == "Busy" and caught.value.status_code == 503


def test_read_timeouts_are_not_retried_for_tool_calls() -> None:
    handler, seen = counting(httpx.ReadTimeout("slow"))
    with pytest.raises(RequestTimeoutError):
        sync_client(handler).call("CallMcpTool", {"SessionId": "s", "Name": "shell", "Args": "{}"})
    assert len(seen) == 1
    handler, seen = counting(httpx.ReadTimeout("slow"), httpx.Response(200, json=OK))
    sync_client(handler).call("ListSession", {"Labels": "{}"})
    assert len(seen) == 2


def test_throttling_is_retried_and_honours_retry_after() -> None:
    handler, seen = counting(
        httpx.Response(429, headers={"Retry-After": "3"}, json={"Code": "Throttling"}),
        httpx.Response(200, json=OK),
    )
    waits: list[float] = []
    client = ApiClient(
        api_key=KEY,
        endpoint="http://test",
        timeout_s=5,
        transport=httpx.MockTransport(handler),
        sleep=waits.append,
    )
    client.call("CreateMcpSession", {"VpcResource": False})
    assert len(seen) == 2 and waits == [3.0]


def test_retries_are_bounded() -> None:
    handler, seen = counting(httpx.ConnectError("down"))
    with pytest.raises(TransportError):
        sync_client(handler, retries=2).call("GetSession", {"SessionId": "s"})
    assert len(seen) == 3


def test_backoff_is_capped_exponential_with_jitter() -> None:
    delays = [backoff_delay(attempt, None) for attempt in range(1, 10)]
    assert 0.375 <= delays[0] <= 0.5
    assert all(d <= 8.0 for d in delays)
    assert delays[5] >= 6.0
    assert backoff_delay(1, "120") == 60.0


def test_error_envelope_surfaces_code_message_and_request_id() -> None:
    answer = {
        "RequestId": "req-9",
        "Code": "InvalidApiKey.NotFound",
        "Message": "The specified api key is not found.",
    }
    handler, _ = counting(httpx.Response(400, json=answer))
    with pytest.raises(ServerError) as caught:
        sync_client(handler).call("GetSession", {"SessionId": "s"})
    text = str(caught.value)
    assert "InvalidApiKey.NotFound" in text and "req-9" in text and "400" in text
    assert KEY not in text


def test_the_key_is_sent_but_never_logged_or_shown(caplog: pytest.LogCaptureFixture) -> None:
    bodies: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(parse_qs(request.content.decode()))
        return httpx.Response(200, json=OK)

    client = sync_client(handler)
    with caplog.at_level(logging.DEBUG):
        client.call("GetLabel", {"SessionId": "s"})
        logging.getLogger("agentbay.http").debug("Authorization=Bearer+%s", KEY)
    assert bodies[0]["Authorization"] == [f"Bearer {KEY}"]
    assert KEY not in repr(client)
    assert KEY not in caplog.text


def test_sync_context_sends_the_key_in_the_query() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=OK)

    sync_client(handler).call("SyncContext", {"SessionId": "s", "Mode": "upload"})
    assert seen[0].url.params["Authorization"] == f"Bearer {KEY}"
    assert "Authorization" not in parse_qs(seen[0].content.decode())


def test_async_client_retries_and_pools_per_loop() -> None:
    handler, seen = counting(httpx.ConnectError("refused"), httpx.Response(200, json=OK))

    async def noop(seconds: float) -> None:
        return None

    client = AsyncApiClient(
        api_key=KEY,
        endpoint="http://test",
        timeout_s=5,
        max_retries=2,
        transport=httpx.MockTransport(handler),
        sleep=noop,
    )

    async def main() -> bool | None:
        return (await client.call("GetSession", {"SessionId": "s"})).success

    assert asyncio.run(main()) is True
    assert asyncio.run(main()) is True
    assert len(seen) == 3
    asyncio.run(client.close())
