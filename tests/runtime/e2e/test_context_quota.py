"""A context holds at most its quota (serve --context-quota): an upload by URL or a sync from
a session past it fails with an error naming the quota, and what the context held is kept;
a session writing into a direct mount of it (BetaContextMount) gets ENOSPC at the quota in
root mode (the mount is a filesystem of the quota's size) and the host's disk holds no more
than the quota."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentbay_local.sandbox import disk
from agentbay_local.sandbox.limits import disk_usage
from tests.runtime.e2e.api import Api
from tests.runtime.e2e.conftest import own_runtime
from tests.runtime.e2e.test_contexts import wait_for_tasks

KEY = "akm-quota"
KIB = 1024
QUOTA = 1024 * KIB


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("quota")


@pytest.fixture(scope="module")
def small(data_dir: Path) -> Iterator[Api]:
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


def test_writes_into_a_mount_stop_at_the_quota(small: Api, data_dir: Path) -> None:
    context = small.call("GetContext", Name=f"q-{uuid.uuid4().hex[:8]}", AllowCreate=True)["Id"]
    mount = {"AccessMode": "readWrite", "StorageMode": "standard", "SourcePath": ""}
    entry = {"ContextId": context, "Path": "/mnt/q", "Type": "mount", "MountConfig": mount}
    session = small.create_session(PersistenceDataList=[entry])
    kernel_limit = disk.problem() is None  # root with loop devices (else: rootless)
    try:
        wrote = small.tool(
            session,
            "shell",
            command="head -c 4194304 /dev/zero > /mnt/q/big.bin; stat -c %s /mnt/q/big.bin",
            timeout_ms=20_000,
        )["structuredContent"]
        assert wrote["stdout"].strip().isdigit(), wrote
        size = int(wrote["stdout"])
        store = data_dir / "contexts" / context
        os.sync()  # the session's writes reach the image file
        on_host = disk_usage([store])  # the live copy and its image, while mounted
        print(f"mounted: {size} bytes written, the context's store {on_host} bytes on the host")
        if kernel_limit:
            assert "No space left on device" in wrote["stderr"], wrote
            assert 0 < size < QUOTA
            assert on_host <= QUOTA + 64 * KIB, on_host  # 4 MiB asked for
            assert (store / "live.img").stat().st_blocks * 512 <= QUOTA
        else:
            print("rootless: no kernel limit on the mount; the quota holds at release")
            assert size == 4 * QUOTA and wrote["stderr"] == ""
    finally:
        small.call("ReleaseMcpSession", SessionId=session)
    listed = small.call("DescribeContextFiles", ContextId=context, ParentFolderPath="/")
    if kernel_limit:
        # What was written before the limit is the context's now, and the filesystem went.
        assert [(e["FileName"], e["Size"]) for e in listed] == [("big.bin", size)]
        assert _get(small, context, "/big.bin") == b"\0" * size
        assert not (store / "live").exists() and not (store / "live.img").exists()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
        assert not any(line.split()[4].startswith(str(store)) for line in mounts)
    else:
        # Over the quota nothing is published; the live copy is kept for the next mount.
        assert listed == []
        assert os.path.getsize(store / "live" / "big.bin") == size
