"""Context actions over real HTTP: the store, paging, sync into and out of sessions, file URLs."""

from __future__ import annotations

import json
import os
import time
import uuid

import httpx
import pytest

from tests.e2e.api import Api, RpcError


def wait_for_tasks(api: Api, session_id: str, **filters: str) -> list[dict[str, object]]:
    for _ in range(200):
        status = api.call("GetContextInfo", SessionId=session_id, **filters)["ContextStatus"]
        records = json.loads(json.loads(status)[0]["data"]) if status else []
        if records and all(r["status"] in ("Success", "Failed") for r in records):
            return records
        time.sleep(0.05)
    raise AssertionError("sync tasks did not finish")


def test_get_create_rename_list_delete(api: Api) -> None:
    name = f"ctx-{uuid.uuid4().hex[:8]}"
    with pytest.raises(RpcError) as caught:
        api.call("GetContext", Name=name, AllowCreate=False)
    assert caught.value.code == "InvalidContext.NotFound"
    created = api.call("GetContext", Name=name, AllowCreate=True)
    assert created["Name"] == name and created["State"] == "available"
    assert api.call("GetContext", Name=name, AllowCreate=True)["Id"] == created["Id"]
    api.call("ModifyContext", Id=created["Id"], Name=name + "-renamed")
    assert api.call("GetContext", Name=name + "-renamed")["Id"] == created["Id"]
    other = api.call("GetContext", Name=name + "-other", AllowCreate=True)
    with pytest.raises(RpcError) as caught:
        api.call("ModifyContext", Id=other["Id"], Name=name + "-renamed")
    assert caught.value.code == "InvalidContext.NameExists"

    seen, token = [], ""
    while True:
        fields = {"MaxResults": 1, **({"NextToken": token} if token else {})}
        _, page = api.raw("ListContexts", **fields)
        seen += [item["Id"] for item in page["Data"]]
        token = page["NextToken"]
        if not token:
            break
    assert {created["Id"], other["Id"]} <= set(seen)
    assert len(seen) == page["TotalCount"]

    for context in (created, other):
        api.call("DeleteContext", Id=context["Id"])
    with pytest.raises(RpcError):
        api.call("DeleteContext", Id=created["Id"])


def test_session_start_download_and_sync_upload(api: Api) -> None:
    context = api.call("GetContext", Name=f"sync-{uuid.uuid4().hex[:8]}", AllowCreate=True)
    policy = json.dumps({"uploadPolicy": {"autoUpload": True}})
    sync = [{"ContextId": context["Id"], "Path": "/root/data", "Policy": policy}]
    first = api.create_session(PersistenceDataList=sync)
    api.text(
        first,
        "shell",
        command="mkdir -p /root/data/a/empty && echo hi > /root/data/a/f.txt "
        "&& chmod 640 /root/data/a/f.txt && ln -s f.txt /root/data/a/link",
        timeout_ms=5000,
    )
    api.call(
        "SyncContext", SessionId=first, ContextId=context["Id"], Path="/root/data", Mode="upload"
    )
    records = wait_for_tasks(api, first, TaskType="upload")
    assert records[0]["status"] == "Success" and records[0]["taskType"] == "upload"
    api.call("ReleaseMcpSession", SessionId=first)

    second = api.create_session(PersistenceDataList=sync)
    try:
        downloads = wait_for_tasks(api, second, TaskType="download")
        assert downloads[0]["status"] == "Success"
        listing = api.text(
            second,
            "shell",
            command="cd /root/data/a && stat -c '%n %a %F' * | sort",
            timeout_ms=5000,
        )
        assert listing.splitlines() == [
            "empty 755 directory",
            "f.txt 640 regular file",
            "link 777 symbolic link",
        ]
        files = api.call("DescribeContextFiles", ContextId=context["Id"], ParentFolderPath="/a")
        assert {f["FileName"] for f in files} == {"empty", "f.txt", "link"}
    finally:
        api.call("ReleaseMcpSession", SessionId=second)
        api.call("DeleteContext", Id=context["Id"])


def test_a_session_link_cannot_redirect_a_download_to_the_host(api: Api) -> None:
    context = api.call("GetContext", Name=f"esc-{uuid.uuid4().hex[:8]}", AllowCreate=True)
    url = api.call("GetContextFileUploadUrl", ContextId=context["Id"], FilePath="/agentbay-escape")
    assert httpx.put(url["Url"], content=b"x", timeout=30).status_code == 200
    session = api.create_session()
    try:
        api.text(session, "shell", command="ln -s /etc /root/esc", timeout_ms=3000)
        api.call(
            "SyncContext",
            SessionId=session,
            ContextId=context["Id"],
            Path="/root/esc/agentbay-escape",
            Mode="download",
        )
        time.sleep(0.5)
        assert not os.path.exists("/etc/agentbay-escape")
    finally:
        api.call("ReleaseMcpSession", SessionId=session)
        api.call("DeleteContext", Id=context["Id"])


def test_presigned_urls(api: Api) -> None:
    context = api.call("GetContext", Name=f"url-{uuid.uuid4().hex[:8]}", AllowCreate=True)
    put = api.call("GetContextFileUploadUrl", ContextId=context["Id"], FilePath="/dir/f.bin")
    assert put["ExpireTime"] > time.time()
    payload = os.urandom(300_000)
    assert httpx.put(put["Url"], content=payload, timeout=30).status_code == 200
    get = api.call("GetContextFileDownloadUrl", ContextId=context["Id"], FilePath="/dir/f.bin")
    assert httpx.get(get["Url"], timeout=30).content == payload
    tampered = get["Url"].replace("f.bin", "g.bin")
    assert httpx.get(tampered, timeout=30).status_code == 403
    assert httpx.put(get["Url"], content=b"no", timeout=30).status_code == 403  # GET-only URL
    with pytest.raises(RpcError):
        api.call("GetContextFileUploadUrl", ContextId=context["Id"], FilePath="/../../etc/x")
    api.call("DeleteContextFile", ContextId=context["Id"], FilePath="/dir/f.bin")
    with pytest.raises(RpcError):
        api.call("GetContextFileDownloadUrl", ContextId=context["Id"], FilePath="/dir/f.bin")
    api.call("DeleteContext", Id=context["Id"])
