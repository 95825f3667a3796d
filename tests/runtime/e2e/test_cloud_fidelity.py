"""Answers cloud-written code relies on, through our SDK (the official client: see
test_official_client.py)."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import httpx

from agentbay import AgentBay
from agentbay.context_sync import ContextSync, SyncPolicy
from agentbay.session_params import CreateSessionParams
from tests.runtime.e2e.watch_steps import expected_stream, run_steps


def _resource_id(url: str) -> str:
    """What cloud code does: take ``resourceId`` out of the ResourceUrl."""
    parsed = urlsplit(url)
    assert parsed.path.endswith("/mcp.html"), url
    query = parse_qs(parsed.query)
    assert query["authcode"][0], url
    return query["resourceId"][0]


def test_resource_url_and_ids(bay: AgentBay) -> None:
    created = bay.create()
    assert created.success, created.error_message
    session = created.session
    try:
        created_url = session.resource_url
        resource_id = _resource_id(created_url)
        info = session.info()
        assert info.success and info.data.resource_id == resource_id
        assert _resource_id(info.data.resource_url) == resource_id
        assert info.data.auth_code and info.data.resource_url != created_url
        first, second = (bay.get_session(session.session_id).data for _ in range(2))
        assert first.resource_id == second.resource_id == resource_id
        assert first.app_instance_id and first.app_instance_id == second.app_instance_id
        assert first.resource_url != second.resource_url  # a fresh authcode each time
        got = bay.get(session.session_id)
        assert got.success and _resource_id(got.session.resource_url) == resource_id
        page = httpx.get(info.data.resource_url, timeout=10)
        assert page.status_code == 200 and session.session_id in page.text
    finally:
        session.delete()


def test_a_missing_context_does_not_fail_the_creation(bay: AgentBay) -> None:
    real = bay.context.create(f"fid-{uuid.uuid4().hex[:8]}")
    assert real.success
    ghost = "ctx-" + uuid.uuid4().hex[:16]
    params = CreateSessionParams(
        context_syncs=[
            ContextSync.new(ghost, "/root/ghost", SyncPolicy()),
            ContextSync.new(real.context_id, "/root/real", SyncPolicy()),
        ]
    )
    created = bay.create(params)
    try:
        assert created.success, created.error_message
        tasks = {t.context_id: t for t in created.session.context.info().context_status_data}
        assert tasks[ghost].status == "Failed" and tasks[ghost].task_type == "download"
        assert ghost in tasks[ghost].error_message
        assert tasks[real.context_id].status == "Success"
    finally:
        if created.session is not None:
            created.session.delete()
        bay.context.delete(real.context)


def test_download_urls_behave_like_object_storage(bay: AgentBay) -> None:
    made = bay.context.create(f"fid-url-{uuid.uuid4().hex[:8]}")
    try:
        url = bay.context.get_file_download_url(made.context_id, "/not/there.bin")
        assert url.success and url.url
        missing = httpx.get(url.url, timeout=10)
        assert missing.status_code == 404 and "NoSuchKey" in missing.text
        refused = bay.context.get_file_upload_url(made.context_id, "/../escape")
        assert refused.success is False
    finally:
        bay.context.delete(made.context)


def test_hostname_files_agree(bay: AgentBay) -> None:
    created = bay.create()
    assert created.success, created.error_message
    session = created.session
    try:
        out = session.command.execute_command(
            'hostname; cat /etc/hostname; getent hosts "$(hostname)"', timeout_ms=5000
        )
        assert out.success, out.error_message
        name, file_name, resolved = out.output.splitlines()
        assert name == file_name == session.session_id
        assert resolved.split() == ["127.0.1.1", name]
    finally:
        session.delete()


def test_watch_directory_delivers_inotify_events(bay: AgentBay) -> None:
    created = bay.create()
    assert created.success, created.error_message
    session = created.session
    try:
        got = run_steps(session, "/tmp/fid-watch")
        assert got["ready"], "the watcher never delivered the marker's event"
        assert got["stream"] == expected_stream()
    finally:
        session.delete()
