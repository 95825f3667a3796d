"""Session states and lifecycles over real HTTP with the generated client: GetSessionDetail,
DeleteSessionAsync, ListSession by status and image, PauseSessionAsync/ResumeSessionAsync,
RefreshSessionIdleTime, idle release and maximum run time, and the actions the local runtime
refuses at once (cloud-only, not yet served)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentbay_local.runtime import RuntimeOptions
from agentbay_local.server import EmbeddedRuntime, start_in_thread
from agentbay_local.sessions.lifecycle import LifecycleDefaults
from tests.runtime.e2e.api import Api, RpcError
from tests.runtime.e2e.conftest import API_KEY


def status(api: Api, session_id: str) -> str:
    """GetSessionDetail's status (FINISH once the session is gone), or the error code."""
    try:
        return str(api.call("GetSessionDetail", SessionId=session_id)["Status"])
    except RpcError as exc:
        return str(exc.code)


def wait_for(api: Api, session_id: str, wanted: str, timeout_s: float) -> None:
    """Poll the status until ``wanted`` (fails past the deadline)."""
    started = time.monotonic()
    while (seen := status(api, session_id)) != wanted:
        assert time.monotonic() - started < timeout_s, f"{session_id} stays {seen}"
        time.sleep(0.1)


def listed(api: Api, **filters: str) -> list[str]:
    return [item["SessionId"] for item in api.call("ListSession", MaxResults=100, **filters)]


def context_with_sync(api: Api) -> tuple[str, list[dict[str, str]]]:
    """A new context and a PersistenceDataList uploading /root/data into it at release."""
    context = api.call("GetContext", Name=f"life-{uuid.uuid4().hex[:8]}", AllowCreate=True)
    policy = json.dumps({"uploadPolicy": {"autoUpload": True}})
    return context["Id"], [{"ContextId": context["Id"], "Path": "/root/data", "Policy": policy}]


def write_data(api: Api, session_id: str, name: str) -> None:
    """A file under the session's synced /root/data."""
    command = f"mkdir -p /root/data && echo {name} > /root/data/{name}"
    api.text(session_id, "shell", command=command, timeout_ms=5000)


def context_files(api: Api, context_id: str) -> set[str]:
    """The names of the files the context holds under /root/data (their session paths)."""
    files = api.call("DescribeContextFiles", ContextId=context_id, ParentFolderPath="/root/data")
    return {item["FileName"] for item in files}


def test_detail_list_and_delete_async(api: Api, runtime: EmbeddedRuntime) -> None:
    context_id, sync = context_with_sync(api)
    sid = api.create_session(PersistenceDataList=sync, Labels={"life": "detail"})
    detail = api.call("GetSessionDetail", SessionId=sid)
    assert detail["Id"] == sid and detail["Status"] == "RUNNING"
    assert detail["ImageId"] == "linux_latest"
    assert sid in listed(api, Status="RUNNING", ImageId="linux_latest")
    assert sid not in listed(api, ImageId="code_latest")
    assert sid not in listed(api, Status="PAUSED")
    write_data(api, sid, "f")

    assert api.call("DeleteSessionAsync", SessionId=sid) is None
    first = status(api, sid)
    assert first in ("DELETING", "FINISH")
    wait_for(api, sid, "FINISH", 60)  # the cloud's status of a deleted session
    # Gone means gone: the upload the policy asks for happened before, the sandbox is no more.
    assert context_files(api, context_id) == {"f"}
    assert not (runtime.data_dir / "sessions" / sid).exists()
    assert sid in listed(api, Status="DELETED")
    assert sid not in listed(api)
    with pytest.raises(RpcError) as again:
        api.call("DeleteSessionAsync", SessionId=sid)
    assert again.value.code == "InvalidMcpSession.NotFound"
    api.call("DeleteContext", Id=context_id)


def test_pause_freezes_and_resume_continues(api: Api, session_id: str) -> None:
    api.text(
        session_id,
        "shell",
        command="echo before > /tmp/state && (sleep 30 & echo $! > /tmp/sleeper)",
        timeout_ms=5000,
    )
    assert api.call("PauseSessionAsync", SessionId=session_id) is None
    assert status(api, session_id) == "PAUSED"
    assert api.call("GetSession", SessionId=session_id)["Status"] == "PAUSED"
    assert session_id in listed(api, Status="PAUSED")
    with pytest.raises(RpcError) as paused:
        api.tool(session_id, "shell", command="echo no", timeout_ms=5000)
    assert paused.value.code == "InvalidMcpSession.Paused"
    assert "paused" in paused.value.answer["Message"]
    # Pausing a paused session fails, as the cloud answers it (the official suite's
    # test_pause_already_paused_session); so does resuming a running one, below.
    with pytest.raises(RpcError) as again:
        api.call("PauseSessionAsync", SessionId=session_id)
    assert again.value.code == "InvalidMcpSession.Status" and "PAUSED" in str(again.value)
    assert api.call("ResumeSessionAsync", SessionId=session_id) is None
    assert status(api, session_id) == "RUNNING"
    # Files and processes as they were: the sleeper still sleeps.
    text = api.text(
        session_id,
        "shell",
        command="cat /tmp/state && kill -0 $(cat /tmp/sleeper) && echo alive",
        timeout_ms=5000,
    )
    assert text == "before\nalive\n"
    with pytest.raises(RpcError) as running:
        api.call("ResumeSessionAsync", SessionId=session_id)
    assert running.value.code == "InvalidMcpSession.Status"
    assert "session" in running.value.answer["Message"]


def test_a_paused_session_can_be_released(api: Api) -> None:
    sid = api.create_session()
    api.call("PauseSessionAsync", SessionId=sid)
    api.call("ReleaseMcpSession", SessionId=sid)
    assert status(api, sid) == "FINISH"


def test_idle_release_uploads_contexts_and_spares_paused_sessions(api: Api) -> None:
    context_id, sync = context_with_sync(api)
    idle = api.create_session(PersistenceDataList=sync, Timeout=2)  # seconds (no MaxRuntime)
    paused = api.create_session(Timeout=2)
    write_data(api, idle, "g")
    api.call("PauseSessionAsync", SessionId=paused)
    wait_for(api, idle, "FINISH", 60)
    assert context_files(api, context_id) == {"g"}  # synced as on delete
    # Paused for longer than its idle timeout, and still there; once resumed, it idles out.
    assert status(api, paused) == "PAUSED"
    api.call("ResumeSessionAsync", SessionId=paused)
    wait_for(api, paused, "FINISH", 60)
    api.call("DeleteContext", Id=context_id)


def test_keep_alive_and_activity_hold_off_the_idle_release(api: Api) -> None:
    kept = api.create_session(Timeout=2)
    busy = api.create_session(Timeout=2)
    started = time.monotonic()
    while time.monotonic() - started < 5:  # more than twice the idle timeout
        api.call("RefreshSessionIdleTime", SessionId=kept)
        api.text(busy, "shell", command="true", timeout_ms=5000)
        time.sleep(0.5)
    assert status(api, kept) == "RUNNING" and status(api, busy) == "RUNNING"
    wait_for(api, kept, "FINISH", 60)
    wait_for(api, busy, "FINISH", 60)
    with pytest.raises(RpcError) as gone:
        api.call("RefreshSessionIdleTime", SessionId=kept)
    assert gone.value.code == "InvalidMcpSession.NotFound"


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A runtime whose sessions run at most 2 s unless their client says otherwise."""
    data_dir: Path = tmp_path_factory.mktemp("short-lived")
    embedded = start_in_thread(
        RuntimeOptions(
            data_dir=data_dir,
            api_keys=[API_KEY],
            port=0,
            pool_size=1,
            lifecycle=LifecycleDefaults(idle_timeout_s=None, max_runtime_s=2.0),
        )
    )
    yield Api(embedded.endpoint, API_KEY)
    embedded.stop()


def test_maximum_run_time_ends_even_a_busy_session(short_lived: Api) -> None:
    api = short_lived
    busy = api.create_session()
    manual = api.create_session(ManualRelease=True)
    deadline = time.monotonic() + 60
    while status(api, busy) == "RUNNING":
        assert time.monotonic() < deadline, "the maximum run time was not enforced"
        refreshed, _ = api.raw("RefreshSessionIdleTime", SessionId=busy)  # 400 once released
        assert refreshed in (200, 400)
        time.sleep(0.2)
    wait_for(api, busy, "FINISH", 60)  # DELETING until really gone
    assert status(api, manual) == "RUNNING"  # released only by its client
    api.call("DeleteSessionAsync", SessionId=manual)
    wait_for(api, manual, "FINISH", 60)


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("GetAdbLink", {"Option": {"adbkey_pub": "k"}}),
        ("GetSkillMetaData", {}),
        ("ListSkillMetaData", {"SkillIdList": ["s-1"]}),
        ("BindContextSkillAsync", {"ContextSkillBindItems": []}),
        ("UnbindContextSkillAsync", {"ContextSkillUnbindItems": []}),
    ],
)
def test_cloud_only_actions_answer_at_once(
    api: Api, session_id: str, action: str, fields: dict[str, object]
) -> None:
    if action == "GetAdbLink":
        fields = {**fields, "SessionId": session_id}
    status_code, answer = api.raw(action, **fields)
    assert status_code == 400 and answer["Code"] == "Unsupported.NeedsCloud"
    assert "needs the AgentBay cloud" in answer["Message"]


def test_get_adb_link_of_an_unknown_session_is_not_found(api: Api) -> None:
    # As the cloud answers it (the official suite's test_get_adb_link_with_invalid_session).
    status_code, answer = api.raw(
        "GetAdbLink", SessionId="invalid-session-id-12345", Option={"adbkey_pub": "k"}
    )
    assert status_code == 400 and answer["Code"] == "InvalidMcpSession.NotFound"


def test_cloud_only_images_and_tools_say_so(api: Api, session_id: str) -> None:
    with pytest.raises(RpcError) as mobile:
        api.create_session(ImageId="mobile_latest")
    assert "needs the AgentBay cloud" in mobile.value.answer["Message"]
    operator = api.tool(session_id, "page_use_observe_async", context_id=0, instruction="x")
    assert operator["isError"] is True
    assert "needs the AgentBay cloud" in operator["content"][0]["text"]
    for name in ("browser_use_execute_task", "browser_use_get_task_status"):  # 0.22's agent
        task = api.tool(session_id, name, task="x", task_id="t-1")
        assert task["isError"] is True, name
        assert "needs the AgentBay cloud" in task["content"][0]["text"], name


def test_get_cdp_link_needs_a_started_browser(api: Api, session_id: str) -> None:
    with pytest.raises(RpcError) as refused:
        api.call("GetCdpLink", SessionId=session_id)
    assert refused.value.code == "InvalidOperation.BrowserNotStarted"


def test_get_context_by_id_alone(api: Api) -> None:
    context = api.call("GetContext", Name=f"by-id-{uuid.uuid4().hex[:8]}", AllowCreate=True)
    assert api.call("GetContext", ContextId=context["Id"])["Name"] == context["Name"]
    api.call("DeleteContext", Id=context["Id"])
