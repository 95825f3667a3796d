"""Context actions over real HTTP: the store, paging, sync into and out of sessions, file URLs."""

from __future__ import annotations

import json
import os
import time
import uuid

import httpx
import pytest

from tests.runtime.e2e.api import Api, RpcError


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
        # As in the cloud, the context keeps the files under their paths in the session.
        files = api.call(
            "DescribeContextFiles", ContextId=context["Id"], ParentFolderPath="/root/data/a"
        )
        assert {f["FileName"] for f in files} == {"empty", "f.txt", "link"}
        assert {f["FilePath"] for f in files} == {
            "/root/data/a/empty",
            "/root/data/a/f.txt",
            "/root/data/a/link",
        }
    finally:
        api.call("ReleaseMcpSession", SessionId=second)
        api.call("DeleteContext", Id=context["Id"])


def test_a_session_link_cannot_redirect_a_download_to_the_host(api: Api) -> None:
    context = api.call("GetContext", Name=f"esc-{uuid.uuid4().hex[:8]}", AllowCreate=True)
    url = api.call(
        "GetContextFileUploadUrl", ContextId=context["Id"], FilePath="/root/esc/agentbay-escape"
    )
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
        (task,) = wait_for_tasks(api, session, ContextId=context["Id"])
        assert task["status"] == "Success"
        # The session's own link was followed inside the session: the file is in the
        # session's /etc, and the host's /etc is untouched.
        inside = "/etc/agentbay-escape"
        assert api.text(session, "shell", command=f"cat {inside}", timeout_ms=3000) == "x"
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
    for action in ("GetContextFileUploadUrl", "GetContextFileDownloadUrl"):
        for bad in ("/../../etc/x", "/dir/../../x", "/"):
            with pytest.raises(RpcError) as refused:
                api.call(action, ContextId=context["Id"], FilePath=bad)
            assert refused.value.code == "InvalidParameter.FilePath"
    api.call("DeleteContextFile", ContextId=context["Id"], FilePath="/dir/f.bin")
    api.call("DeleteContext", Id=context["Id"])


def test_presigned_urls_behave_like_object_storage(api: Api) -> None:
    """A URL for any well-formed path of an existing context; a GET of a missing file is 404."""
    context = api.call("GetContext", Name=f"oss-{uuid.uuid4().hex[:8]}", AllowCreate=True)
    try:
        never = api.call("GetContextFileDownloadUrl", ContextId=context["Id"], FilePath="/no/f")
        assert never["ExpireTime"] > time.time()
        missing = httpx.get(never["Url"], timeout=30)
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/xml")
        assert "<Code>NoSuchKey</Code>" in missing.text and len(missing.content) < 512
        # The same URL serves the file once it is uploaded, and 404s again after deletion.
        put = api.call("GetContextFileUploadUrl", ContextId=context["Id"], FilePath="/no/f")
        assert httpx.put(put["Url"], content=b"now here", timeout=30).status_code == 200
        assert httpx.get(never["Url"], timeout=30).content == b"now here"
        api.call("DeleteContextFile", ContextId=context["Id"], FilePath="/no/f")
        again = api.call("GetContextFileDownloadUrl", ContextId=context["Id"], FilePath="/no/f")
        assert httpx.get(again["Url"], timeout=30).status_code == 404
        forged = httpx.get(again["Url"].replace("signature=", "signature=0"), timeout=30)
        assert forged.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in forged.text
    finally:
        api.call("DeleteContext", Id=context["Id"])
    with pytest.raises(RpcError):  # the context must exist
        api.call("GetContextFileDownloadUrl", ContextId=context["Id"], FilePath="/no/f")
    assert httpx.get(never["Url"], timeout=30).status_code == 404  # its files went with it


def test_a_missing_context_fails_only_its_own_download(api: Api) -> None:
    """As in the cloud: the session is created, the missing context's download task is
    Failed naming the context, and the other mappings proceed as usual."""
    context = api.call("GetContext", Name=f"ok-{uuid.uuid4().hex[:8]}", AllowCreate=True)
    url = api.call("GetContextFileUploadUrl", ContextId=context["Id"], FilePath="/root/ok/k.txt")
    assert httpx.put(url["Url"], content=b"kept", timeout=30).status_code == 200
    ghost = "ctx-" + uuid.uuid4().hex[:16]
    syncs = [
        {"ContextId": ghost, "Path": "/root/ghost"},
        {"ContextId": context["Id"], "Path": "/root/ok"},
    ]
    session = api.create_session(PersistenceDataList=syncs)
    try:
        records = {str(r["contextId"]): r for r in wait_for_tasks(api, session)}
        assert records[ghost]["status"] == "Failed" and records[ghost]["taskType"] == "download"
        assert ghost in str(records[ghost]["errorMessage"])
        assert records[context["Id"]]["status"] == "Success"
        assert api.text(session, "read_file", path="/root/ok/k.txt") == "kept"
        # A later sync of every mapping reports the missing one again and creates nothing.
        api.call("SyncContext", SessionId=session, Mode="upload")
        uploads = wait_for_tasks(api, session, TaskType="upload")
        assert {str(r["contextId"]): r["status"] for r in uploads} == {
            ghost: "Failed",
            context["Id"]: "Success",
        }
        with pytest.raises(RpcError):
            api.call("DescribeContextFiles", ContextId=ghost, ParentFolderPath="/")
    finally:
        api.call("ReleaseMcpSession", SessionId=session)
        api.call("DeleteContext", Id=context["Id"])


def test_paths_with_dot_dot_are_refused_before_anything_syncs(api: Api) -> None:
    context = api.call("GetContext", Name=f"dots-{uuid.uuid4().hex[:8]}", AllowCreate=True)
    try:
        with pytest.raises(RpcError) as refused:
            api.create_session(
                PersistenceDataList=[{"ContextId": context["Id"], "Path": "/root/../etc"}]
            )
        assert refused.value.code == "InvalidParameter.PersistenceDataList"
        session = api.create_session()
        try:
            with pytest.raises(RpcError) as refused:
                api.call(
                    "SyncContext", SessionId=session, ContextId=context["Id"], Path="/tmp/../etc"
                )
            assert refused.value.code == "InvalidParameter.Path"
        finally:
            api.call("ReleaseMcpSession", SessionId=session)
    finally:
        api.call("DeleteContext", Id=context["Id"])
