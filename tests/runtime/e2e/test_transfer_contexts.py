"""File transfers of different sessions never mix, even on the same path at the same time."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agentbay import AgentBay


def test_two_sessions_transfer_the_same_path_at_once(bay: AgentBay, tmp_path: Path) -> None:
    sessions = [bay.create().session for _ in range(2)]
    try:

        def round_trips(index: int) -> None:
            session = sessions[index]
            for attempt in range(3):
                payload = os.urandom(300_000)
                source, back = tmp_path / f"up-{index}-{attempt}", tmp_path / f"down-{index}"
                source.write_bytes(payload)
                assert session.file_system.upload_file(str(source), "/tmp/same.bin").success
                digest = session.command.execute_command("sha256sum /tmp/same.bin").output
                assert digest.split()[0] == hashlib.sha256(payload).hexdigest()
                assert session.file_system.download_file("/tmp/same.bin", str(back)).success
                assert back.read_bytes() == payload

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(round_trips, range(2)))
        first, second = (session.file_transfer_context_id for session in sessions)
        assert first and second and first != second
    finally:
        for session in sessions:
            session.delete()


def test_transfers_inside_the_file_transfer_mount_move_files(bay: AgentBay, tmp_path: Path) -> None:
    # upload_file/download_file name the context file by the full remote path, also when
    # that path lies below the file-transfer context's own mount (/temp/file-transfer).
    session = bay.create().session
    try:
        for remote in ("/temp/file-transfer/a.bin", "/temp/file-transfer/sub/b.bin"):
            payload = os.urandom(70_000)
            source, back = tmp_path / "up", tmp_path / "down"
            source.write_bytes(payload)
            up = session.file_system.upload_file(str(source), remote)
            assert up.success, up.error
            info = session.file_system.get_file_info(remote).file_info
            assert info["isFile"] is True and info["size"] == len(payload)
            session.command.execute_command(f"echo more >> {remote}")
            down = session.file_system.download_file(remote, str(back))
            assert down.success, down.error
            assert back.read_bytes() == payload + b"more\n"
    finally:
        session.delete()


def test_the_file_transfer_context_is_made_by_the_first_transfer_and_goes_with_the_session(
    bay: AgentBay, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="agentbay.http")
    made = bay.create()
    assert made.success, made.error_message
    session = made.session
    sent = [record.getMessage().split(":")[0] for record in caplog.records]
    assert sent == ["CreateMcpSession"]  # no context is made for a create
    assert session.file_transfer_context_id is None
    name = f"file-transfer-{session.session_id}"
    try:
        assert not bay.context.get(name).success
        source = tmp_path / "up"
        source.write_bytes(b"payload")
        assert session.file_system.upload_file(str(source), "/tmp/up.bin").success
        context_id = session.file_transfer_context_id
        assert context_id and bay.context.get(name).context_id == context_id
        assert session.file_system.download_file("/tmp/up.bin", str(tmp_path / "d")).success
        assert session.file_transfer_context_id == context_id  # asked for once
        # The session's own context is not deleted from under it.
        refused = bay.context.delete(bay.context.get(name).context)  # type: ignore[arg-type]
        assert not refused.success and session.session_id in refused.error_message
        # A sync of every context leaves the staging area out (nothing to lose there).
        assert asyncio.run(session.context.sync()).success
    finally:
        assert session.delete(sync_context=True).success
    gone = bay.context.get(name)
    assert not gone.success and "InvalidContext.NotFound" in gone.error_message
