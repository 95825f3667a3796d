"""Contexts of today's API over real HTTP with the generated client: BindContexts and
DescribeSessionContexts on a running session, ClearContext, GetAndLoadInternalContext."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

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


#: What a PUT sends before it waits: more than every buffer between this process and the
#: runtime's handler holds (the kernel's socket buffers grow to net.core.rmem_max, 32 MiB
#: here, plus the sender's), so the handler has been reading it, holding the context's lock.
PAST_THE_BUFFERS = 48 * 1024 * 1024


@contextlib.contextmanager
def context_lock_held(api: Api, context_id: str) -> Iterator[None]:
    """A PUT into the context whose body stops until the block is left: the runtime holds
    the context's lock while it receives a file, so the context's syncs wait meanwhile."""
    url = api.call("GetContextFileUploadUrl", ContextId=context_id, FilePath="/held/blob")["Url"]
    sent, resume = threading.Event(), threading.Event()

    def body() -> Iterator[bytes]:
        block = b"x" * (1024 * 1024)
        for _ in range(PAST_THE_BUFFERS // len(block)):
            yield block
        sent.set()
        resume.wait(120)
        yield b"end"

    with ThreadPoolExecutor(1) as pool:
        put = pool.submit(httpx.put, url, content=body(), timeout=120)
        try:
            assert sent.wait(60), "the runtime did not read the held PUT's body"
            yield
        finally:
            resume.set()
        assert put.result().status_code == 200


def test_release_lets_a_running_upload_finish(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    """Released right after SyncContext (no polling of GetContextInfo until the task ended),
    the session keeps the upload it asked for: the release waits for the running sync.
    Without that, the release ended the session under the upload (the rootless CI's one
    failure of the test below: the context had no ``seed`` for the next session)."""
    caplog.set_level(logging.INFO, logger="agentbay.local.contexts")
    context_id = new_context(api)
    sid = api.create_session(PersistenceDataList=[{"ContextId": context_id, "Path": "/root/in"}])
    write = "mkdir -p /root/in && echo seed > /root/in/seed"
    api.text(sid, "shell", command=write, timeout_ms=5000)

    def release_waits() -> bool:
        return any(
            getattr(record, "event", None) == "release_waits_for_syncs"
            and getattr(record, "session", None) == sid
            for record in caplog.records
        )

    with ThreadPoolExecutor(1) as pool, context_lock_held(api, context_id):
        # The upload waits for the lock: it is still to run when the release comes.
        api.call("SyncContext", SessionId=sid, ContextId=context_id, Path="/root/in", Mode="upload")
        release = pool.submit(api.call, "ReleaseMcpSession", SessionId=sid)
        deadline = time.monotonic() + 60
        while not (release.done() or release_waits()) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not release.done(), "the release answered while the upload was still to run"
    release.result(timeout=60)
    assert files(api, context_id, "/root/in") == {"seed"}
    api.call("DeleteContext", Id=context_id)


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
