"""The generated client puts exactly the official client's bytes on the wire, for every action:
0.9.3's walkthrough and the requests 0.13.1, 0.15.2 and 0.22.3 were recorded sending.

Compared: method, path, query names/order/values, x-acs-* headers, content type, form field
names/order/encoding. Timestamp and SignatureNonce are passed through from the capture so the
whole request target can be compared; User-Agent and Host are ignored.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

import pytest

import agentbay._rendered.client as sdk_client
from tests.sdk.contract.wire import (
    ACTIONS,
    Recorded,
    load_captures,
    query_fields,
    response_model,
    send,
    typed_form,
)
from tests.support.raw_http import RawServer, answer

OK: dict[str, Any] = {"RequestId": "r-1", "Success": True, "Code": "ok", "HttpStatusCode": 200}
TS = "2026-11-24T10%3A26%3A12Z"
NONCE = "5cccadf3b458a3c478c1689d766817c0"
KEY = "Authorization=Bearer+akm-fake-0000"


def target(action: str, extra: str = "") -> str:
    return (
        f"/?Action={action}&Format=json&Version=2025-05-06&Timestamp={TS}"
        f"&SignatureNonce={NONCE}{extra}"
    )


def assert_same_wire(seen: Recorded, action: str, raw_target: str, body: str) -> None:
    assert seen.method == "POST"
    assert seen.raw_target == raw_target
    assert seen.headers["x-acs-action"] == action
    assert seen.headers["x-acs-version"] == "2025-05-06"
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen.body == body


def replay(
    action: str, raw_target: str, body: str, answer: dict[str, Any], status: int = 200
) -> Any:
    """Feed a wire request's values to the generated request builder and compare what it
    sends; answer the reply."""
    query = dict(parse_qsl(raw_target.split("?", 1)[1]))
    form = dict(parse_qsl(body, keep_blank_values=True))
    seen, response = send(action, form, query, answer, status)
    assert_same_wire(seen, action, raw_target, body)
    return response


CAPTURED = [
    pytest.param(
        record, id=f"{name.split('-')[-1].split('.')[0]}-{record['seq']}-{record['action']}"
    )
    for name in ("sdk-0.9.3-walkthrough.jsonl", "sdk-0.9.3-walkthrough-vpc.jsonl")
    for record in load_captures(name)
    if record["method"] == "POST"
]
#: What today's clients sent for the actions and fields 0.9.3 did not have (record.py).
CAPTURED_TODAY = [
    pytest.param(record, id=f"{version}-{record['seq']}-{record['action']}")
    for version in ("0.13.1", "0.15.2", "0.22.3")
    for record in load_captures(f"sdk-{version}-new-actions.jsonl")
]


@pytest.mark.parametrize("record", CAPTURED + CAPTURED_TODAY)
def test_captured_request_is_reproduced_byte_for_byte(record: dict[str, Any]) -> None:
    status = record.get("response_status", 200)
    response = replay(
        record["action"], record["raw_target"], record["body_text"], record["response"], status
    )
    assert response.status_code == status
    parsed = response_model(record["action"]).from_dict(response.json())
    # The captured answer parses into the typed model (an error one too: the same envelope).
    assert parsed.success is record["response"]["Success"]


# Verbatim requests from wire-contract.md section a.5 (3) and (4), and section-b derived
# requests for the actions the walkthrough does not show. Each body is written out by hand,
# independently of the encoder under test.
POLICY_BODY = (
    "Authorization=Bearer+akm-fake-0000&ImageId=linux_latest&Labels=%7B%22project%22%3A+%22peer"
    "%22%2C+%22env%22%3A+%22dev%22%7D&McpPolicyId=pol-1&PersistenceDataList=%5B%7B%22ContextId"
    "%22%3A%22ctx-user%22%2C%22Path%22%3A%22%2Fhome%2Fuser%2Fdata%22%2C%22Policy%22%3A%22%7B%5C"
    "%22uploadPolicy%5C%22%3A+%7B%5C%22autoUpload%5C%22%3A+true%2C+%5C%22uploadStrategy%5C%22%3A"
    "+%5C%22UploadBeforeResourceRelease%5C%22%7D%2C+%5C%22downloadPolicy%5C%22%3A+%7B%5C%22auto"
    "Download%5C%22%3A+true%2C+%5C%22downloadStrategy%5C%22%3A+%5C%22DownloadAsync%5C%22%7D%2C+"
    "%5C%22deletePolicy%5C%22%3A+%7B%5C%22syncLocalFile%5C%22%3A+true%7D%2C+%5C%22extractPolicy"
    "%5C%22%3A+%7B%5C%22extract%5C%22%3A+true%2C+%5C%22deleteSrcFile%5C%22%3A+true%2C+%5C%22ext"
    "ractToCurrentFolder%5C%22%3A+false%7D%2C+%5C%22recyclePolicy%5C%22%3A+%7B%5C%22lifecycle%5C"
    "%22%3A+%5C%22Lifecycle_Forever%5C%22%2C+%5C%22paths%5C%22%3A+%5B%5C%22%5C%22%5D%7D%2C+%5C%"
    "22bwList%5C%22%3A+%7B%5C%22whiteLists%5C%22%3A+%5B%7B%5C%22path%5C%22%3A+%5C%22%5C%22%2C+%"
    "5C%22excludePaths%5C%22%3A+%5B%5D%7D%5D%7D%7D%22%7D%2C%7B%22ContextId%22%3A%22ctx-1%22%2C%"
    "22Path%22%3A%22%2Ftemp%2Ffile-transfer%22%7D%5D&VpcResource=False"
)
BROWSER_OPTION = (
    "BrowserOption=%7B%22useStealth%22%3A+false%2C+%22viewport%22%3A+%7B%22width%22%3A+1920%2C+"
    "%22height%22%3A+1080%7D%2C+%22solveCaptchas%22%3A+false%2C+%22extensionPath%22%3A+%22%2Ftm"
    "p%2Fextensions%2F%22%7D"
)

DERIVED = {
    "CreateMcpSession": (
        "/?Action=CreateMcpSession&Format=json&Version=2025-05-06&Timestamp=2026-11-24T10%3A28%3A07Z"
        "&SignatureNonce=1306686195c0bc5325baf24783f6d4e7",
        POLICY_BODY,
    ),
    "GetSession": (target("GetSession"), f"{KEY}&SessionId=s-1"),
    "ListSession": (
        target("ListSession"),
        f"{KEY}&Labels=%7B%22project%22%3A+%22peer%22%7D&MaxResults=5&NextToken=tok-2",
    ),
    "GetLink": (target("GetLink"), f"{KEY}&Port=30150&ProtocolType=https&SessionId=s-1"),
    "InitBrowser": (
        target("InitBrowser"),
        f"{KEY}&{BROWSER_OPTION}&PersistentPath=%2Ftmp%2Fagentbay_browser&SessionId=s-1",
    ),
    "ListContexts": (target("ListContexts"), f"{KEY}&MaxResults=10&NextToken=n-1"),
    "ModifyContext": (target("ModifyContext"), f"{KEY}&Id=ctx-1&Name=browserreplay-app-1"),
    "DeleteContext": (target("DeleteContext"), f"{KEY}&Id=ctx-1"),
    "GetContextInfo": (
        target("GetContextInfo"),
        f"{KEY}&ContextId=ctx-1&Path=%2Ftmp%2Fup.txt&SessionId=s-1&TaskType=download",
    ),
    "SyncContext": (
        "/?Action=SyncContext&Format=json&Version=2025-05-06&Timestamp=2026-11-24T10%3A28%3A09Z"
        "&SignatureNonce=17b0c687dac5b4a9f2339aab28aaa41a&Authorization=Bearer+akm-fake-0000",
        "ContextId=ctx-1&Mode=upload&Path=%2Ftmp%2Fup.txt&SessionId=s-1",
    ),
    "DescribeContextFiles": (
        target("DescribeContextFiles"),
        f"{KEY}&ContextId=ctx-1&PageNumber=1&PageSize=100&ParentFolderPath=%2Ftmp%2Fextensions",
    ),
    "DeleteContextFile": (
        target("DeleteContextFile"),
        f"{KEY}&ContextId=ctx-1&FilePath=%2Ftmp%2Fextensions%2Fext_0123.zip",
    ),
    "GetContextFileDownloadUrl": (
        target("GetContextFileDownloadUrl"),
        f"{KEY}&ContextId=ctx-1&FilePath=%2Ftmp%2Fdown+load.txt",
    ),
    "GetContextFileUploadUrl": (
        target("GetContextFileUploadUrl"),
        f"{KEY}&ContextId=ctx-1&FilePath=%2Ftmp%2F%E6%96%87%E4%BB%B6.txt",
    ),
    "CallMcpTool": (
        target("CallMcpTool"),
        "Args=%7B%22path%22%3A+%22%2Ftmp%2F%C3%A9t%C3%A9.txt%22%2C+%22content%22%3A+%22caf%C3%A9%22"
        f"%2C+%22mode%22%3A+%22append%22%7D&{KEY}&Name=write_file&SessionId=s-1",
    ),
    "ReleaseMcpSession": (target("ReleaseMcpSession"), f"{KEY}&SessionId=s-1"),
    "SetLabel": (target("SetLabel"), f"{KEY}&Labels=%7B%22k%22%3A+%22%5Cu00e9%22%7D&SessionId=s-1"),
    "GetLabel": (target("GetLabel"), f"{KEY}&SessionId=s-1"),
    "GetMcpResource": (target("GetMcpResource"), f"{KEY}&SessionId=s-1"),
    "ListMcpTools": (target("ListMcpTools"), f"{KEY}&ImageId=code_latest"),
    "GetContext": (target("GetContext"), f"AllowCreate=False&{KEY}&Name=my+context"),
    # 0.22.3's async client only (its sync one never sends it): the shape of the recorded
    # UnbindContextSkillAsync, which shares its items' encoding (the "shrink" JSON text).
    "BindContextSkillAsync": (
        target("BindContextSkillAsync"),
        f"{KEY}&ContextSkillBindItems=%5B%7B%22ContextId%22%3A%22ctx-1%22%2C%22SkillIds%22%3A"
        "%5B%22skill-1%22%5D%2C%22Path%22%3A%22%2Fskills%22%7D%5D&LoginRegionId=cn-hangzhou",
    ),
}


@pytest.mark.parametrize("action", sorted(DERIVED))
def test_request_matches_wire_contract(action: str) -> None:
    raw_target, body = DERIVED[action]
    replay(action, raw_target, body, {**OK, "Data": None})


def test_every_action_has_a_wire_equality_test() -> None:
    captured = {record.values[0]["action"] for record in CAPTURED}  # type: ignore[index]
    today = {record.values[0]["action"] for record in CAPTURED_TODAY}  # type: ignore[index]
    assert set(DERIVED) | today == set(ACTIONS)
    assert captured <= set(ACTIONS)


def test_vpc_call_tool_request_matches_capture() -> None:
    """The VPC route as the SDK sends it (the generated ``request_kwargs`` through
    ``ApiClient.get``): GET /callTool with the official client's query order, encoding and
    Content-Type, on a real socket."""
    from agentbay._rendered.openapi.api.vpc import call_tool
    from agentbay._rendered.openapi.models import CallToolResponse

    records = [r for r in load_captures("sdk-0.9.3-walkthrough-vpc.jsonl") if r["method"] == "GET"]
    assert records
    for record in records:
        query = dict(parse_qsl(record["raw_target"].split("?", 1)[1]))
        built = call_tool.request_kwargs(
            server=query["server"],
            tool=query["tool"],
            args=query["args"],
            token=query["token"],
            request_id=query["requestId"],
        )
        server = RawServer(lambda request, r=record: answer(json.dumps(r["response"]).encode()))
        try:
            api = sdk_client.ApiClient(api_key="k", endpoint="http://127.0.0.1:1", timeout_s=5)
            response = api.get(server.url, built, timeout_s=5)
            api.close()
        finally:
            server.stop()
        (request,) = server.requests
        assert request.method == "GET"
        assert request.target == record["raw_target"]
        assert request.httpx_headers["content-type"] == "application/x-www-form-urlencoded"
        parsed = CallToolResponse.from_dict(response.json())
        assert parsed.data.content[0].text == record["response"]["data"]["content"][0]["text"]


@pytest.mark.parametrize(
    "record",
    CAPTURED
    + [case for case in CAPTURED_TODAY if case.values[0].get("response_status", 200) == 200],  # type: ignore[union-attr]
)
def test_the_sdk_client_sends_the_captured_bytes(
    record: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ApiClient`` builds its requests itself and sends them through its own transport:
    the bytes a real socket receives are the captured ones."""
    action, raw_target, body = record["action"], record["raw_target"], record["body_text"]
    query = dict(parse_qsl(raw_target.split("?", 1)[1]))
    form = dict(parse_qsl(body, keep_blank_values=True))
    key = (form.pop("Authorization", None) or query["Authorization"]).removeprefix("Bearer ")
    monkeypatch.setattr(sdk_client, "_timestamp", lambda: query["Timestamp"])
    monkeypatch.setattr(
        sdk_client.uuid, "uuid4", lambda: SimpleNamespace(hex=query["SignatureNonce"])
    )
    server = RawServer(lambda request: answer(json.dumps(record["response"]).encode()))
    try:
        api = sdk_client.ApiClient(api_key=key, endpoint=server.url, timeout_s=5)
        fields = typed_form(action, form)
        # The action's query-string fields (GetSessionDetail's SessionId) are fields too.
        own = [name for name in query_fields(action) if name != "Authorization"]
        fields.update({name: query[name] for name in own if name in query})
        assert api.call(action, fields).success is True
        api.close()
    finally:
        server.stop()
    (request,) = server.requests
    headers = request.httpx_headers
    recorded = Recorded(request.method, request.target, headers, request.body.decode())
    assert_same_wire(recorded, action, raw_target, body)
    sent_names = [name.lower() for name, _ in request.headers]
    assert {name.lower() for name, _ in record["headers"]} == set(sent_names)
    assert len(sent_names) == len(set(sent_names))  # no header sent twice
    assert headers["accept-encoding"] == "identity"
