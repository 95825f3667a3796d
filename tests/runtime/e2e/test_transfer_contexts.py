"""File transfers of different sessions never mix, even on the same path at the same time."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agentbay import AgentBay


def test_two_sessions_transfer_the_same_path_at_once(bay: AgentBay, tmp_path: Path) -> None:
    sessions = [bay.create().session for _ in range(2)]
    try:
        assert sessions[0].file_transfer_context_id != sessions[1].file_transfer_context_id

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
