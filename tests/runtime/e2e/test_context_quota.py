"""A context holds at most its quota (serve --context-quota): an upload by URL or a sync from
a session past it fails with an error naming the quota, and what the context held is kept."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.runtime.e2e.api import Api
from tests.runtime.e2e.conftest import own_runtime
from tests.runtime.e2e.test_contexts import wait_for_tasks

KEY = "akm-quota"
KIB = 1024
QUOTA = 1024 * KIB


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data_dir = tmp_path_factory.mktemp("quota")
    with own_runtime(data_dir, KEY, network="none", context_quota_bytes=QUOTA) as embedded:
        yield Api(embedded.endpoint, KEY)


def _put(api: Api, context_id: str, path: str, data: bytes) -> httpx.Response:
    url = api.call("GetContextFileUploadUrl", ContextId=context_id, FilePath=path)["Url"]
    return httpx.put(url, content=data, timeout=30)


def _get(api: Api, context_id: str, path: str) -> bytes:
    url = api.call("GetContextFileDownloadUrl", ContextId=context_id, FilePath=path)["Url"]
    return httpx.get(url, timeout=30).raise_for_status().content


def test_an_upload_past_the_quota_is_refused_and_loses_nothing(small: Api) -> None:
    context = small.call("GetContext", Name=f"q-{uuid.uuid4().hex[:8]}", AllowCreate=True)["Id"]
    first = b"a" * (600 * KIB)
    assert _put(small, context, "/first.bin", first).status_code == 200
    refused = _put(small, context, "/second.bin", b"b" * (600 * KIB))
    assert refused.status_code == 413
    assert "ContextQuotaExceeded" in refused.text and "quota of 1.0 MiB" in refused.text
    # A body without a declared length is stopped as it arrives.
    streamed = httpx.put(
        small.call("GetContextFileUploadUrl", ContextId=context, FilePath="/s.bin")["Url"],
        content=iter([b"c" * (256 * KIB)] * 4),
        timeout=30,
    )
    assert streamed.status_code == 413
    assert _get(small, context, "/first.bin") == first
    listed = small.call("DescribeContextFiles", ContextId=context, ParentFolderPath="/")
    assert [entry["FileName"] for entry in listed] == ["first.bin"]
    # Replacing a file counts its new size, not both.
    assert _put(small, context, "/first.bin", b"d" * (900 * KIB)).status_code == 200


def test_a_sync_past_the_quota_fails_and_keeps_the_context(small: Api) -> None:
    context = small.call("GetContext", Name=f"q-{uuid.uuid4().hex[:8]}", AllowCreate=True)["Id"]
    kept = b"k" * (100 * KIB)
    assert _put(small, context, "/data/kept.bin", kept).status_code == 200
    policy = json.dumps({"uploadPolicy": {"autoUpload": False}})
    session = small.create_session(
        PersistenceDataList=[{"ContextId": context, "Path": "/root/data", "Policy": policy}]
    )
    try:
        wait_for_tasks(small, session, TaskType="download")
        small.text(
            session,
            "shell",
            command="head -c 2097152 /dev/zero > /root/data/big.bin",
            timeout_ms=10_000,
        )
        small.call(
            "SyncContext", SessionId=session, ContextId=context, Path="/root/data", Mode="upload"
        )
        (record,) = wait_for_tasks(small, session, TaskType="upload")
        assert record["status"] == "Failed"
        assert "quota of 1.0 MiB" in str(record["errorMessage"]), record
    finally:
        small.call("ReleaseMcpSession", SessionId=session)
    assert _get(small, context, "/data/kept.bin") == kept
    listed = small.call("DescribeContextFiles", ContextId=context, ParentFolderPath="/data")
    assert [entry["FileName"] for entry in listed] == ["kept.bin"]
