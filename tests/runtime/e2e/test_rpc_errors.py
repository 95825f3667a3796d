"""Bad input gets the cloud's error envelope with a clear Code, a 4xx status, and loses nothing."""

from __future__ import annotations

import json

import httpx
import pytest

from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.api import Api, RpcError, validate_answer

QUERY = "Format=json&Version=2025-05-06&Timestamp=2026-11-24T10%3A26%3A12Z&SignatureNonce=0a"


def post(
    runtime: EmbeddedRuntime, action: str, body: bytes | str, **headers: str
) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return httpx.post(
        f"{runtime.endpoint}/?Action={action}&{QUERY}",
        content=content,
        headers={"content-type": "application/x-www-form-urlencoded", **headers},
        timeout=30,
    )


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    answer = response.json()
    validate_answer("Envelope", answer)
    assert answer["Success"] is False
    assert answer["Code"] == code
    assert answer["Message"]
    assert answer["RequestId"]
    assert "Traceback" not in response.text
    return answer  # type: ignore[no-any-return]


def test_unknown_action(runtime: EmbeddedRuntime) -> None:
    assert_error(
        post(runtime, "DropAllTables", "Authorization=Bearer+akm-e2e-test-key"),
        404,
        "InvalidAction.NotFound",
    )


def test_missing_and_wrong_key(runtime: EmbeddedRuntime) -> None:
    assert_error(post(runtime, "ListSession", "MaxResults=10"), 400, "InvalidApiKey.NotFound")
    answer = assert_error(
        post(runtime, "ListSession", "Authorization=Bearer+akm-wrong&MaxResults=10"),
        400,
        "InvalidApiKey.NotFound",
    )
    assert "akm-wrong" not in json.dumps(answer)


def _client(address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (another loopback address)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


def test_bad_keys_are_throttled_per_client_and_good_keys_never(runtime: EmbeddedRuntime) -> None:
    url = f"{runtime.endpoint}/?Action=ListSession&{QUERY}"
    form = {"content-type": "application/x-www-form-urlencoded"}
    bad, good = (
        b"Authorization=Bearer+akm-guess&MaxResults=10",
        b"Authorization=Bearer+akm-e2e-test-key",
    )
    # Other loopback addresses than the rest of the suite's: its bad-key tests stay unthrottled.
    with _client("127.0.0.2") as guesser, _client("127.0.0.3") as neighbour:
        statuses = [guesser.post(url, content=bad, headers=form).status_code for _ in range(60)]
        assert statuses[0] == 400 and statuses[-1] == 429, statuses
        throttled = guesser.post(url, content=bad, headers=form)
        answer = assert_error(throttled, 429, "Throttling.User")
        assert "127.0.0.2" in str(answer["Message"]) and int(throttled.headers["retry-after"]) >= 1
        # A good key from the throttled client itself goes through at once.
        assert guesser.post(url, content=good, headers=form).json()["Success"] is True
        # Another client's bad key is still just a bad key.
        assert_error(neighbour.post(url, content=bad, headers=form), 400, "InvalidApiKey.NotFound")


def test_every_configured_key_is_accepted(runtime: EmbeddedRuntime) -> None:
    response = post(runtime, "ListSession", "Authorization=Bearer+akm-second-key&Labels=%7B%7D")
    assert response.status_code == 200
    assert response.json()["Success"] is True


def test_sync_context_takes_the_key_from_the_query(runtime: EmbeddedRuntime) -> None:
    response = httpx.post(
        f"{runtime.endpoint}/?Action=SyncContext&{QUERY}&Authorization=Bearer+akm-e2e-test-key",
        content=b"SessionId=session-nope",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_error(response, 400, "InvalidMcpSession.NotFound")


def test_missing_field(runtime: EmbeddedRuntime) -> None:
    answer = assert_error(
        post(runtime, "GetSession", "Authorization=Bearer+akm-e2e-test-key"),
        400,
        "MissingParameter",
    )
    assert "SessionId" in str(answer["Message"])


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("VpcResource=maybe", "InvalidParameter.VpcResource"),
        ("Labels=%7Bnot-json", "InvalidParameter.Labels"),
        ("Labels=%5B1%2C2%5D", "InvalidParameter.Labels"),
        ("Labels=%7B%22k%22%3A1%7D", "InvalidParameter.Labels"),
        ("PersistenceDataList=%7B%7D", "InvalidParameter.PersistenceDataList"),
        ("ImageId=windows_98", "InvalidImageId.NotFound"),
    ],
)
def test_malformed_create_fields(runtime: EmbeddedRuntime, body: str, code: str) -> None:
    response = post(runtime, "CreateMcpSession", f"Authorization=Bearer+akm-e2e-test-key&{body}")
    assert_error(response, 400, code)


def test_malformed_form_bytes(runtime: EmbeddedRuntime) -> None:
    assert_error(
        post(runtime, "ListSession", b"Authorization=Bearer+akm-e2e-test-key&x=\xff\xfe"),
        400,
        "InvalidParameter",
    )


def test_integer_out_of_range(runtime: EmbeddedRuntime) -> None:
    body = "Authorization=Bearer+akm-e2e-test-key&SessionId=s&Port=8080"
    assert_error(post(runtime, "GetLink", body), 400, "InvalidParameter.Port")


def test_oversized_body_is_refused(runtime: EmbeddedRuntime) -> None:
    body = b"Authorization=Bearer+akm-e2e-test-key&Args=" + b"a" * (17 * 1024 * 1024)
    assert_error(post(runtime, "CallMcpTool", body), 413, "RequestTooLarge")


def test_unknown_session(api: Api) -> None:
    for action in ("GetSession", "GetLabel", "GetMcpResource", "ReleaseMcpSession", "GetLink"):
        with pytest.raises(RpcError) as caught:
            api.call(action, SessionId="session-doesnotexist")
        assert caught.value.code == "InvalidMcpSession.NotFound"
        assert caught.value.status == 400


def test_released_session_is_reported(api: Api) -> None:
    sid = api.create_session()
    api.call("ReleaseMcpSession", SessionId=sid)
    with pytest.raises(RpcError) as caught:
        api.tool(sid, "shell", command="echo hi", timeout_ms=1000)
    assert "released" in caught.value.answer["Message"]


def test_host_header_with_a_scheme_is_accepted(runtime: EmbeddedRuntime) -> None:
    """The official client sends `host: http://127.0.0.1:PORT` when the endpoint has a scheme."""
    host = runtime.endpoint
    response = post(runtime, "ListSession", "Authorization=Bearer+akm-e2e-test-key", host=host)
    assert response.status_code == 200
    assert response.json()["Success"] is True
