"""Direct context mounts (0.22's BetaContextMount, ``PersistenceDataList`` entries of
``Type`` ``mount``) over real HTTP, through our SDK (sync and async) and the official
client 0.22.3: two sessions share what one writes at once, READ_ONLY refuses writes,
``SourcePath`` picks a folder, the context holds the writes after the last release, and
a hostile session's links and setuid files neither leave the context nor work elsewhere;
DescribeSessionContexts lists mounts; while a context is mounted, whatever would write its
stored copy (and be replaced by the mounted copy at the release) is refused at once."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentbay import (
    AgentBay,
    AsyncAgentBay,
    BetaContextMount,
    BetaContextMountAccessMode,
    Config,
    ContextSync,
    CreateSessionParams,
)
from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.api import Api, RpcError
from tests.runtime.e2e.conftest import API_KEY
from tests.support.official import official_python, run_driver

DRIVER = Path(__file__).with_name("official_mount_driver.py")


def mount_entry(
    context_id: str, path: str, access: str = "readWrite", source: str = ""
) -> dict[str, object]:
    """A mount as 0.22.3 sends it."""
    config = {"AccessMode": access, "StorageMode": "standard", "SourcePath": source}
    return {"ContextId": context_id, "Path": path, "Type": "mount", "MountConfig": config}


def stored(api: Api, context_id: str, path: str) -> bytes | None:
    """A file of the context as stored (None: not there)."""
    url = api.call("GetContextFileDownloadUrl", ContextId=context_id, FilePath=path)["Url"]
    got = httpx.get(url, timeout=30)
    return got.content if got.status_code == 200 else None


def sh(api: Api, session_id: str, command: str) -> dict[str, object]:
    """A shell command's stdout, stderr and exit code."""
    data = api.tool(session_id, "shell", command=command, timeout_ms=10000)
    result = data.get("structuredContent") or {}
    assert isinstance(result, dict)
    return result


@pytest.fixture
def context_id(api: Api) -> Iterator[str]:
    made = api.call("GetContext", Name=f"mount-{uuid.uuid4().hex[:8]}", AllowCreate=True)
    yield str(made["Id"])
    api.raw("DeleteContext", Id=made["Id"])


def test_two_sessions_share_a_mount_and_the_context_keeps_it(api: Api, context_id: str) -> None:
    first = api.create_session(PersistenceDataList=[mount_entry(context_id, "/mnt/data")])
    second = api.create_session()
    api.call(
        "BindContexts",
        SessionId=second,
        PersistenceDataList=[mount_entry(context_id, "/mnt/shared")],
    )
    sh(api, first, "mkdir -p /mnt/data/d && echo one > /mnt/data/d/f")
    assert sh(api, second, "cat /mnt/shared/d/f")["stdout"] == "one\n"  # no sync, at once
    sh(api, second, "echo two >> /mnt/shared/d/f")
    assert sh(api, first, "cat /mnt/data/d/f")["stdout"] == "one\ntwo\n"
    api.call("ReleaseMcpSession", SessionId=first)
    assert sh(api, second, "cat /mnt/shared/d/f")["stdout"] == "one\ntwo\n"
    api.call("ReleaseMcpSession", SessionId=second)
    assert stored(api, context_id, "/d/f") == b"one\ntwo\n"  # published at the last release
    third = api.create_session(PersistenceDataList=[mount_entry(context_id, "/srv", source="d")])
    assert sh(api, third, "cat /srv/f")["stdout"] == "one\ntwo\n"
    api.call("ReleaseMcpSession", SessionId=third)


def test_read_only_refuses_writes(api: Api, context_id: str) -> None:
    writer = api.create_session(PersistenceDataList=[mount_entry(context_id, "/mnt/w")])
    sh(api, writer, "echo kept > /mnt/w/k")
    reader = api.create_session(PersistenceDataList=[mount_entry(context_id, "/mnt/r", "readOnly")])
    assert sh(api, reader, "cat /mnt/r/k")["stdout"] == "kept\n"
    refused = sh(api, reader, "echo x > /mnt/r/k; rm -f /mnt/r/k; umount /mnt/r; cat /mnt/r/k")
    assert "Read-only file system" in str(refused["stderr"])
    assert refused["stdout"] == "kept\n"
    for sid in (writer, reader):
        api.call("ReleaseMcpSession", SessionId=sid)
    assert stored(api, context_id, "/k") == b"kept\n"


def test_a_hostile_session_plants_nothing_usable(api: Api, context_id: str) -> None:
    hostile = api.create_session(PersistenceDataList=[mount_entry(context_id, "/mnt/c")])
    sh(
        api,
        hostile,
        "cp /usr/bin/id /mnt/c/sid && chmod 4755 /mnt/c/sid; ln -s /etc /mnt/c/etc;"
        " ln -s / /mnt/c/up; mkdir -p /mnt/c/real",
    )
    other = api.create_session()
    # Its links: a SourcePath through them is refused (never followed on the host) ...
    with pytest.raises(RpcError) as refused:
        api.call(
            "BindContexts",
            SessionId=other,
            PersistenceDataList=[mount_entry(context_id, "/mnt/x", source="up/etc")],
        )
    assert refused.value.code == "InvalidParameter.PersistenceDataList"
    # ... and its setuid file runs as whoever runs it in another session (nosuid).
    api.call("BindContexts", SessionId=other, PersistenceDataList=[mount_entry(context_id, "/m")])
    who = sh(api, other, "setpriv --reuid=65534 --regid=65534 --clear-groups /m/sid -u")
    assert who["stdout"] == "65534\n"
    # A mount path through the session's own link stays in the session.
    sh(api, other, "ln -s /etc /mnt/via")
    api.call(
        "BindContexts",
        SessionId=other,
        PersistenceDataList=[mount_entry(context_id, "/mnt/via/ctx", "readOnly", "real")],
    )
    assert sh(api, other, "test -d /etc/ctx && echo in-session")["stdout"] == "in-session\n"
    for sid in (hostile, other):
        api.call("ReleaseMcpSession", SessionId=sid)
    # Stored: links as links, the setuid bit gone.
    listing = {
        f["FileName"]: f
        for f in api.call("DescribeContextFiles", ContextId=context_id, ParentFolderPath="/")
    }
    assert {"sid", "etc", "up", "real"} <= set(listing)


def test_a_mount_of_a_missing_context_is_refused(api: Api) -> None:
    before = api.call("ListSession")
    with pytest.raises(RpcError) as refused:
        api.create_session(PersistenceDataList=[mount_entry("ctx-none-0000", "/mnt/data")])
    assert refused.value.code == "InvalidContext.NotFound"
    assert api.call("ListSession") == before


def test_our_sdk_mounts(bay: AgentBay, context_id: str) -> None:
    first = bay.create(
        CreateSessionParams(beta_context_mounts=[BetaContextMount(context_id, "/mnt/data")])
    ).session
    second = bay.create().session
    assert first is not None and second is not None
    read_only = BetaContextMountAccessMode.READ_ONLY
    bound = second.context.bind(
        ContextSync.new(context_id, "/tmp/synced"),
        BetaContextMount.new(context_id, "/mnt/ro", read_only),
    )
    assert bound.success, bound.error_message
    assert first.file_system.write_file("/mnt/data/a.txt", "from sdk").success
    assert second.file_system.read_file("/mnt/ro/a.txt").content == "from sdk"
    assert not second.file_system.write_file("/mnt/ro/b.txt", "no").success
    first.delete()
    second.delete()


def test_our_async_sdk_mounts(runtime: EmbeddedRuntime, context_id: str) -> None:
    async def run() -> str:
        cfg = Config(endpoint=runtime.endpoint, timeout_ms=60000)
        async with AsyncAgentBay(api_key=API_KEY, cfg=cfg) as bay:
            mount = BetaContextMount(context_id, "/mnt/data")
            session = (await bay.create(CreateSessionParams(beta_context_mounts=[mount]))).session
            assert session is not None
            await session.file_system.write_file("/mnt/data/x", "async")
            await session.delete()
            other = (await bay.create(CreateSessionParams(beta_context_mounts=[mount]))).session
            assert other is not None
            text = (await other.file_system.read_file("/mnt/data/x")).content
            await other.delete()
            return str(text)

    assert asyncio.run(run()) == "async"


def test_official_0223_client_mounts(runtime: EmbeddedRuntime, tmp_path: Path) -> None:
    got = run_driver(official_python("0.22.3"), DRIVER, runtime.endpoint, API_KEY, tmp_path, 300)
    assert got["create_success"] is True, got
    assert got["bind_success"] is True, got
    assert got["seen_by_other"] == "official"
    assert got["read_only_write"] is False
    # list_bindings: the sync and the read-only mount, as 0.22.3 reads them.
    by_path = {b["path"]: b for b in got["bindings"]}
    assert set(by_path) == {"/tmp/synced", "/mnt/ro"}, got["bindings"]
    assert by_path["/mnt/ro"]["policy"] == "" and by_path["/mnt/ro"]["bind_time"]


def test_describe_session_contexts_lists_mounts(api: Api, bay: AgentBay, context_id: str) -> None:
    sid = api.create_session(
        PersistenceDataList=[
            mount_entry(context_id, "/mnt/data"),
            {"ContextId": context_id, "Path": "/tmp/synced"},
        ]
    )
    api.call(
        "BindContexts",
        SessionId=sid,
        PersistenceDataList=[mount_entry(context_id, "/mnt/ro", "readOnly", "sub/dir")],
    )
    listed = api.call("DescribeSessionContexts", SessionId=sid)
    by_path = {entry["Path"]: entry for entry in listed}
    assert set(by_path) == {"/mnt/data", "/tmp/synced", "/mnt/ro"}, listed
    name = api.call("GetContext", ContextId=context_id)["Name"]
    ro = by_path["/mnt/ro"]
    assert ro["ContextId"] == context_id and ro["ContextName"] == name
    assert ro["Type"] == "mount" and ro["Policy"] == ""
    assert ro["MountConfig"] == {
        "AccessMode": "readOnly",
        "StorageMode": "standard",
        "SourcePath": "sub/dir",
    }
    assert by_path["/mnt/data"]["MountConfig"]["AccessMode"] == "readWrite"
    assert by_path["/mnt/data"]["BindTime"].endswith("Z")
    assert "Type" not in by_path["/tmp/synced"]
    # Our SDK's list_bindings (0.22's shape) sees them too; a released session lists none.
    session = bay.get(sid).session
    assert session is not None
    paths = {b.path for b in session.context.list_bindings().bindings}
    assert paths == {"/mnt/data", "/tmp/synced", "/mnt/ro"}
    api.call("ReleaseMcpSession", SessionId=sid)
    status, answer = api.raw("DescribeSessionContexts", SessionId=sid)
    assert status == 400 or answer.get("Data") == [], answer


def test_a_mounted_context_is_not_deleted_by_accident(api: Api, context_id: str) -> None:
    sid = api.create_session(PersistenceDataList=[mount_entry(context_id, "/mnt/data")])
    with pytest.raises(RpcError) as refused:
        api.call("DeleteContext", Id=context_id)
    assert refused.value.code == "InvalidContext.InUse"
    assert sid in refused.value.answer["Message"]
    api.call("ReleaseMcpSession", SessionId=sid)


UPLOADING = json.dumps({"uploadPolicy": {"autoUpload": True}})
KEEP_LOCAL = json.dumps({"uploadPolicy": {"autoUpload": False}})


def refused_in_use(call: object) -> str:
    """The message of an ``InvalidContext.InUse`` refusal ``call`` raised."""
    with pytest.raises(RpcError) as refused:
        assert callable(call)
        call()
    assert refused.value.code == "InvalidContext.InUse", refused.value.answer
    return str(refused.value.answer["Message"])


def put(api: Api, context_id: str, path: str, data: bytes) -> httpx.Response:
    url = api.call("GetContextFileUploadUrl", ContextId=context_id, FilePath=path)["Url"]
    return httpx.put(url, content=data, timeout=30)


def test_writes_to_a_mounted_context_are_refused_at_once(api: Api, context_id: str) -> None:
    assert put(api, context_id, "/before.txt", b"stored\n").status_code == 200
    mounting = api.create_session(PersistenceDataList=[mount_entry(context_id, "/mnt/data")])
    other = api.create_session()
    sh(api, other, "mkdir -p /up && echo from-sync > /up/s.txt")
    sh(api, mounting, "echo mounted > /mnt/data/m.txt")
    # An upload from a session, by URL, a file deleted, a clear: each would be replaced by
    # the mounted copy at the release, so each is refused, naming the mounting session.
    message = refused_in_use(
        lambda: api.call(
            "SyncContext", SessionId=other, ContextId=context_id, Path="/up", Mode="upload"
        )
    )
    assert mounting in message and "nothing was changed" in message
    refused = put(api, context_id, "/before.txt", b"replaced\n")
    assert refused.status_code == 400 and "InvalidContext.InUse" in refused.text
    refused_in_use(
        lambda: api.call("DeleteContextFile", ContextId=context_id, FilePath="/before.txt")
    )
    refused_in_use(lambda: api.call("ClearContext", Id=context_id))
    # A sync uploaded at release is refused before anything starts (no session made) ...
    before = api.call("ListSession")
    sync = {"ContextId": context_id, "Path": "/tmp/s", "Policy": UPLOADING}
    refused_in_use(lambda: api.create_session(PersistenceDataList=[sync]))
    assert api.call("ListSession") == before
    refused_in_use(lambda: api.call("BindContexts", SessionId=other, PersistenceDataList=[sync]))
    # ... a sync that keeps its changes local may go with the mount, and reads the context.
    local = {"ContextId": context_id, "Path": "/tmp/local", "Policy": KEEP_LOCAL}
    api.call("BindContexts", SessionId=other, PersistenceDataList=[local])
    api.call("ReleaseMcpSession", SessionId=mounting)
    # Released: the mounted writes are the context's, what came before is kept, nothing
    # of the refused writes is there, and the context takes writes again.
    assert stored(api, context_id, "/m.txt") == b"mounted\n"
    assert stored(api, context_id, "/before.txt") == b"stored\n"
    assert stored(api, context_id, "/up/s.txt") is None
    assert put(api, context_id, "/after.txt", b"ok").status_code == 200
    api.call("SyncContext", SessionId=other, ContextId=context_id, Path="/up", Mode="upload")
    api.call("ReleaseMcpSession", SessionId=other)


def test_a_mount_and_an_uploading_sync_of_one_context_exclude_each_other(
    api: Api, context_id: str
) -> None:
    syncing = api.create_session(
        PersistenceDataList=[{"ContextId": context_id, "Path": "/tmp/s", "Policy": UPLOADING}]
    )
    # Its release uploads the context: a mount of it now would lose that upload or this one.
    message = refused_in_use(
        lambda: api.create_session(PersistenceDataList=[mount_entry(context_id, "/mnt/data")])
    )
    assert syncing in message
    with pytest.raises(RpcError) as both:
        api.call(
            "BindContexts",
            SessionId=syncing,
            PersistenceDataList=[
                mount_entry(context_id, "/mnt/data"),
                {"ContextId": context_id, "Path": "/tmp/t", "Policy": UPLOADING},
            ],
        )
    assert both.value.code == "InvalidParameter.PersistenceDataList"
    assert "both mounted and synced" in str(both.value.answer["Message"])
    api.call("ReleaseMcpSession", SessionId=syncing)
    mounting = api.create_session(PersistenceDataList=[mount_entry(context_id, "/mnt/data")])
    api.call("ReleaseMcpSession", SessionId=mounting)
