"""After a crash and restart, old sessions are reported released and contexts are kept."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from pathlib import Path

import pytest

from tests.runtime.e2e.api import Api, RpcError
from tests.runtime.e2e.test_contexts import wait_for_tasks
from tests.support.spawn import free_port, serve_argv, stop_serve, wait_until_listening


def serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    argv = serve_argv(data_dir, port, "k1")
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_until_listening(process, port)
    return process


def running(command: str) -> list[int]:
    """The host's processes whose command line contains ``command`` (read from /proc, as
    ``pgrep -f`` would: a minimal system has no pgrep)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
        except OSError:  # ended meanwhile, or not ours to read
            continue
        if command.encode() in argv.replace(b"\0", b" "):
            found.append(int(entry.name))
    return found


def test_crash_then_restart(tmp_path: Path) -> None:
    port = free_port()
    first = serve(tmp_path, port)
    api = Api(f"http://127.0.0.1:{port}", "k1")
    context_id = api.call("GetContext", Name="survivor", AllowCreate=True)["Id"]
    session_id = api.create_session()
    (internal,) = api.call(
        "GetAndLoadInternalContext", SessionId=session_id, **{"ContextTypes.1": "file_transfer"}
    )
    api.text(session_id, "shell", command="echo staged > /tmp/staged", timeout_ms=3000)
    api.call(
        "SyncContext",
        SessionId=session_id,
        ContextId=internal["ContextId"],
        Path="/tmp/staged",
        Mode="upload",
    )
    (staged,) = wait_for_tasks(api, session_id, ContextId=internal["ContextId"])
    assert staged["status"] == "Success", staged
    assert (tmp_path / "contexts" / internal["ContextId"]).exists()
    # A duration no other process on this shared machine sleeps for: only ours match.
    sleeper = f"sleep 300.{secrets.randbelow(10**9):09d}"
    pids = api.text(session_id, "shell", command=f"{sleeper} & echo $$", timeout_ms=3000)
    assert pids.strip()
    os.kill(first.pid, signal.SIGKILL)
    first.wait()

    port = free_port()
    second = serve(tmp_path, port)
    try:
        api = Api(f"http://127.0.0.1:{port}", "k1")
        with pytest.raises(RpcError) as caught:
            api.call("GetSession", SessionId=session_id)
        assert "released" in caught.value.answer["Message"]
        assert api.call("GetContext", Name="survivor", AllowCreate=False)["Id"] == context_id
        # The released session's own file-transfer context went with it.
        with pytest.raises(RpcError) as caught:
            api.call("GetContext", Name=f"file-transfer-{session_id}", AllowCreate=False)
        assert caught.value.code == "InvalidContext.NotFound"
        assert not (tmp_path / "contexts" / internal["ContextId"]).exists()
        assert not (tmp_path / "sessions" / session_id).exists()
        assert running(sleeper) == [], "processes of the crashed runtime's sessions remain"
    finally:
        assert stop_serve(second) == 0


def test_user_images_survive_a_restart(tmp_path: Path) -> None:
    from agentbay_local.images import user_images

    port = free_port()
    first = serve(tmp_path, port)
    try:
        user_images.build_image(
            "imgc-kept", base="code_latest", run=["echo kept > /opt/kept"], data_dir=tmp_path
        )
    finally:
        assert stop_serve(first) == 0
    port = free_port()
    second = serve(tmp_path, port)
    try:
        api = Api(f"http://127.0.0.1:{port}", "k1")
        session_id = api.create_session(ImageId="imgc-kept")
        assert api.text(session_id, "shell", command="cat /opt/kept", timeout_ms=30000) == "kept\n"
        api.call("ReleaseMcpSession", SessionId=session_id)
    finally:
        assert stop_serve(second) == 0
    assert [info.name for info in user_images.list_images(tmp_path)] == ["imgc-kept"]
