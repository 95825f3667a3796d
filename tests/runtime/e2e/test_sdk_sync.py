"""The sync SDK (AgentBay, Session, managers) end to end against the local runtime."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentbay import AgentBay
from agentbay.context_sync import ContextSync, SyncPolicy
from agentbay.exceptions import SessionError
from agentbay.session import Session
from agentbay.session_params import CreateSessionParams, ListSessionParams
from tests.runtime.e2e.api import LINK_URL


@pytest.fixture
def session(bay: AgentBay) -> Iterator[Session]:
    created = bay.create()
    assert created.success, created.error_message
    assert created.session is not None
    yield created.session
    created.session.delete()


def test_create_get_list_delete(bay: AgentBay) -> None:
    params = CreateSessionParams(labels={"sdk": "sync-life"}, image_id="code_latest")
    created = bay.create(params)
    assert created.success and created.request_id
    session = created.session
    assert session.image_id == "code_latest"
    assert params.context_syncs == [], "create() must not modify the caller's params"

    listed = bay.list(labels={"sdk": "sync-life"})
    assert listed.success and listed.session_ids == [session.session_id]
    assert listed.total_count == 1
    with pytest.warns(DeprecationWarning):
        legacy = bay.list_by_labels(ListSessionParams(labels={"sdk": "sync-life"}))
    assert legacy.session_ids == [session.session_id]

    got = bay.get(session.session_id)
    assert got.success and got.session.session_id == session.session_id
    raw = bay.get_session(session.session_id)
    assert raw.success and raw.data.session_id == session.session_id

    deleted = bay.delete(session)
    assert deleted.success and deleted.request_id
    assert bay.list(labels={"sdk": "sync-life"}).session_ids == []
    gone = bay.get(session.session_id)
    assert not gone.success and session.session_id in gone.error_message
    assert bay.get("  ").error_message == "session_id is required"


def test_list_pages(bay: AgentBay) -> None:
    sessions = [bay.create(CreateSessionParams(labels={"sdk": "pages"})).session for _ in range(3)]
    try:
        first = bay.list(labels={"sdk": "pages"}, page=1, limit=2)
        second = bay.list(labels={"sdk": "pages"}, page=2, limit=2)
        assert len(first.session_ids) == 2 and len(second.session_ids) == 1
        assert set(first.session_ids + second.session_ids) == {s.session_id for s in sessions}
        beyond = bay.list(labels={"sdk": "pages"}, page=3, limit=2)
        assert beyond.error_message == "Cannot reach page 3: No more pages available"
        assert bay.list(page=0).error_message == "Cannot reach page 0: Page number must be >= 1"
    finally:
        for s in sessions:
            s.delete()


def test_labels_info_link_tools(session: Session) -> None:
    assert session.set_labels({"project": "demo", "environment": "testing"}).success
    assert session.get_labels().data == {"project": "demo", "environment": "testing"}
    bad = session.set_labels({})
    assert bad.success is False
    assert bad.error_message == "Labels cannot be empty. Please provide at least one label."
    assert session.set_labels({"k": " "}).error_message == (
        "Label values cannot be empty Please provide valid values. Label 'k' is ' '."
    )
    info = session.info()
    assert info.success and info.data.session_id == session.session_id
    assert info.data.resource_url.startswith("http")
    link = session.get_link("https", 30150)
    assert link.success and LINK_URL.fullmatch(link.data), link.data
    with pytest.raises(SessionError) as caught:
        session.get_link(port=8080)
    assert str(caught.value) == (
        "Invalid port value: 8080. Port must be an integer in the range [30100, 30199]."
    )
    tools = session.list_mcp_tools()
    assert "shell" in {tool.name for tool in tools.tools}
    assert session.mcp_tools == tools.tools
    import asyncio

    assert asyncio.run(session.get_link_async()).success


def test_command_and_code(session: Session) -> None:
    result = session.command.execute_command("echo hi", timeout_ms=5000)
    assert result.success and result.output == "hi\n"
    failing = session.command.execute_command("exit 7", timeout_ms=5000)
    assert failing.success is False and failing.error_message.startswith("Error in response:")
    code = session.code.run_code("print('py')", "python")
    assert code.success and code.result == "py\n"
    ruby = session.code.run_code("puts 1", "ruby")
    assert ruby.success is False and "Unsupported language: ruby" in ruby.error_message


def test_run_code_javascript(session: Session) -> None:
    js = session.code.run_code("console.log('js')", "javascript")
    assert js.success and js.result == "js\n"


def test_file_system(session: Session) -> None:
    fs = session.file_system
    assert fs.create_directory("/tmp/sdk/dir").success
    text = "".join(f"{i:06d} ✓ text\n" for i in range(20000))  # several chunks each way
    assert fs.write_file("/tmp/sdk/big.txt", text).success
    assert fs.read_file("/tmp/sdk/big.txt").content == text
    # A chunked write whose first chunk fails stops there, with that chunk's answer.
    into_dir, small_into_dir = (
        fs.write_file("/tmp/sdk/dir", text),
        fs.write_file("/tmp/sdk/dir", "x"),
    )
    assert not into_dir.success and into_dir.error_message == small_into_dir.error_message
    assert fs.list_directory("/tmp/sdk/dir").entries == []
    assert fs.write_file("/tmp/sdk/big.txt", "end", mode="append").success
    assert fs.read_file("/tmp/sdk/big.txt").content.endswith("text\nend")
    bad_mode = fs.write_file("/tmp/x", "y", mode="truncate")
    assert (
        bad_mode.error_message == "Invalid write mode: truncate. Must be 'overwrite' or 'append'."
    )
    info = fs.get_file_info("/tmp/sdk/big.txt")
    assert info.file_info["isDirectory"] is False and info.file_info["size"] > 51200
    assert fs.edit_file("/tmp/sdk/big.txt", [{"oldText": "end", "newText": "END"}]).success
    assert fs.read_file("/tmp/sdk/big.txt").content.endswith("END")
    assert fs.move_file("/tmp/sdk/big.txt", "/tmp/sdk/dir/moved.txt").success
    entries = fs.list_directory("/tmp/sdk").entries
    assert entries == [{"isDirectory": True, "name": "dir"}]
    fs.write_file("/tmp/sdk/a.txt", "alpha")
    multi = fs.read_multiple_files(["/tmp/sdk/a.txt"])
    assert multi.contents == {"/tmp/sdk/a.txt": "alpha"}
    assert fs.search_files("/tmp/sdk", "moved").matches == ["/tmp/sdk/dir/moved.txt"]
    none = fs.search_files("/tmp/sdk", "zzz")
    assert none.success is True and none.matches == [] and none.error_message == ""
    missing = fs.read_file("/tmp/sdk/nope")
    assert missing.success is False
    directory = fs.read_file("/tmp/sdk/dir")
    assert directory.error_message == "Path does not exist or is a directory: /tmp/sdk/dir"


def test_watch_directory(session: Session) -> None:
    fs = session.file_system
    fs.create_directory("/tmp/watched")
    seen: list[str] = []
    thread = fs.watch_directory(
        "/tmp/watched", lambda events: seen.extend(e.path for e in events), interval=0.1
    )
    thread.start()
    # The watch starts with its first snapshot: a write before it is part of that snapshot
    # and gives no event, so write until an event arrives (no guess at when the poll runs).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "/tmp/watched/new.txt" not in seen:
        fs.write_file("/tmp/watched/new.txt", "x")
        poll_end = time.monotonic() + 0.5
        while time.monotonic() < poll_end and "/tmp/watched/new.txt" not in seen:
            time.sleep(0.02)
    thread.stop_event.set()  # type: ignore[attr-defined]
    thread.join(5)
    assert "/tmp/watched/new.txt" in seen


def test_upload_and_download_file(session: Session, tmp_path: Path) -> None:
    source = tmp_path / "up.bin"
    payload = os.urandom(3 * 1024 * 1024 + 17)
    source.write_bytes(payload)
    progress: list[int] = []
    up = session.file_system.upload_file(
        str(source), "/tmp/transfer/up.bin", progress_cb=progress.append
    )
    assert up.success, up.error
    assert up.bytes_sent == len(payload) and progress[-1] == len(payload)
    size = session.command.execute_command("stat -c %s /tmp/transfer/up.bin", 5000).output
    assert int(size) == len(payload)
    target = tmp_path / "down.bin"
    down = session.file_system.download_file("/tmp/transfer/up.bin", str(target))
    assert down.success, down.error
    assert target.read_bytes() == payload


def test_context_sync_across_sessions(bay: AgentBay) -> None:
    context = bay.context.create("sdk-sync-ctx").context
    assert context is not None
    params = CreateSessionParams(
        context_syncs=[ContextSync.new(context.id, "/root/work", SyncPolicy())]
    )
    first = bay.create(params).session
    first.file_system.write_file("/root/work/notes/a.txt", "kept across sessions")
    first.command.execute_command("mkdir -p /root/work/empty && chmod 700 /root/work/notes", 3000)
    assert first.delete(sync_context=True).success
    second = bay.create(params).session
    try:
        assert (
            second.file_system.read_file("/root/work/notes/a.txt").content == "kept across sessions"
        )
        mode = second.command.execute_command("stat -c %a /root/work/notes", 3000).output.strip()
        assert mode == "700"
        assert second.file_system.get_file_info("/root/work/empty").file_info["isDirectory"] is True
    finally:
        second.delete()
        bay.context.delete(context)


def test_session_is_a_context_manager(bay: AgentBay) -> None:
    with bay.create().session as session:
        sid = session.session_id
        assert session.command.execute_command("true", 3000).success
    assert not bay.get(sid).success


def test_session_api_examples_run_as_written(bay: AgentBay) -> None:
    """The examples of session-api.md, with only the client construction adapted."""
    agent_bay = bay
    result = agent_bay.create()
    assert result.success
    session = result.session
    labels = {"project": "demo", "environment": "testing", "version": "1.0.0"}
    assert session.set_labels(labels).success
    assert session.get_labels().data == labels
    info = session.info().data
    assert info.session_id == session.session_id
    assert isinstance(info.app_id, str)
    assert session.get_link("https", 30150).success
    with pytest.raises(SessionError, match="Invalid port value: 8080"):
        session.get_link(port=8080)
    delete_result = session.delete(sync_context=True)
    assert delete_result.success and delete_result.request_id


def test_concurrent_use_from_threads(bay: AgentBay, session: Session) -> None:
    errors: list[str] = []

    def work(i: int) -> None:
        out = session.command.execute_command(f"echo {i}", 10000)
        if out.output != f"{i}\n":
            errors.append(out.error_message or out.output)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
