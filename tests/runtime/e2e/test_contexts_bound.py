"""Contexts of today's API over real HTTP with the generated client: BindContexts and
DescribeSessionContexts on a running session, ClearContext, GetAndLoadInternalContext."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.runtime.e2e.api import Api, RpcError


def new_context(api: Api) -> str:
    return str(api.call("GetContext", Name=f"bound-{uuid.uuid4().hex[:8]}", AllowCreate=True)["Id"])


def put(api: Api, context_id: str, path: str, data: bytes) -> None:
    """A file into a context through its pre-signed upload URL."""
    url = api.call("GetContextFileUploadUrl", ContextId=context_id, FilePath=path)["Url"]
    assert httpx.put(url, content=data, timeout=30).status_code == 200


def files(api: Api, context_id: str, folder: str = "/") -> set[str]:
    listing = api.call("DescribeContextFiles", ContextId=context_id, ParentFolderPath=folder)
    return {item["FileName"] for item in listing}


def test_bind_downloads_now_and_uploads_at_release(api: Api) -> None:
    source, target = new_context(api), new_context(api)
    first = api.create_session(PersistenceDataList=[{"ContextId": source, "Path": "/root/in"}])
    api.text(
        first, "shell", command="mkdir -p /root/in && echo seed > /root/in/seed", timeout_ms=5000
    )
    api.call("SyncContext", SessionId=first, ContextId=source, Path="/root/in", Mode="upload")
    api.call("ReleaseMcpSession", SessionId=first)  # the policy-less mapping: synced above

    sid = api.create_session()
    policy = json.dumps({"uploadPolicy": {"autoUpload": True}})
    api.call(
        "BindContexts",
        SessionId=sid,
        PersistenceDataList=[
            {"ContextId": source, "Path": "/root/in"},
            {"ContextId": target, "Path": "/root/out", "Policy": policy},
        ],
    )
    bound = api.call("DescribeSessionContexts", SessionId=sid)
    assert {(b["ContextId"], b["Path"]) for b in bound} == {
        (source, "/root/in"),
        (target, "/root/out"),
    }
    assert api.text(sid, "shell", command="cat /root/in/seed", timeout_ms=5000) == "seed\n"
    write = "mkdir -p /root/out && echo out > /root/out/o"
    api.text(sid, "shell", command=write, timeout_ms=5000)
    api.call("ReleaseMcpSession", SessionId=sid)
    assert files(api, target, "/root/out") == {"o"}
    for context_id in (source, target):
        api.call("DeleteContext", Id=context_id)


def test_bind_refuses_a_missing_context_before_binding_any(api: Api, session_id: str) -> None:
    real = new_context(api)
    with pytest.raises(RpcError) as refused:
        api.call(
            "BindContexts",
            SessionId=session_id,
            PersistenceDataList=[
                {"ContextId": real, "Path": "/root/a"},
                {"ContextId": "ctx-none-0000", "Path": "/root/b"},
            ],
        )
    assert refused.value.code == "InvalidContext.NotFound"
    assert api.call("DescribeSessionContexts", SessionId=session_id) == []
    api.call("DeleteContext", Id=real)


def test_clear_empties_the_context_and_keeps_it(api: Api) -> None:
    context_id = new_context(api)
    put(api, context_id, "/a/b.txt", b"data")
    assert files(api, context_id, "/a") == {"b.txt"}
    assert api.call("ClearContext", Id=context_id) is None
    assert api.call("GetContext", ContextId=context_id)["State"] == "available"
    assert files(api, context_id) == set()
    api.call("DeleteContext", Id=context_id)


def test_internal_file_transfer_context(api: Api, session_id: str) -> None:
    first = api.call(
        "GetAndLoadInternalContext", SessionId=session_id, **{"ContextTypes.1": "file_transfer"}
    )
    again = api.call(
        "GetAndLoadInternalContext", SessionId=session_id, **{"ContextTypes.1": "file_transfer"}
    )
    assert first == again and len(first) == 1
    assert first[0]["ContextType"] == "file_transfer"
    assert first[0]["ContextPath"] == "/tmp/file-transfer"
    bound = api.call("DescribeSessionContexts", SessionId=session_id)
    assert [b["ContextId"] for b in bound] == [first[0]["ContextId"]]
    api.call("ReleaseMcpSession", SessionId=session_id)
    with pytest.raises(RpcError) as gone:  # deleted with the session that asked for it
        api.call("GetContext", ContextId=first[0]["ContextId"])
    assert gone.value.code == "InvalidContext.NotFound"
