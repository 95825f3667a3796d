"""Nothing lost: a SIGKILL mid-upload keeps the previous version; concurrent syncs never mix."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.runtime.e2e.api import Api
from tests.support.spawn import free_port, serve_argv, stop_serve, wait_until_listening


def serve(data_dir: Path) -> tuple[subprocess.Popen[bytes], Api]:
    port = free_port()
    process = subprocess.Popen(
        serve_argv(data_dir, port, "k"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,  # a few warnings at most; why, should serve refuse to start
    )
    wait_until_listening(process, port)
    return process, Api(f"http://127.0.0.1:{port}", "k")


def test_sigkill_during_an_upload_keeps_the_previous_version(tmp_path: Path) -> None:
    process, api = serve(tmp_path)
    context = api.call("GetContext", Name="durable", AllowCreate=True)["Id"]
    url = api.call("GetContextFileUploadUrl", ContextId=context, FilePath="/model.bin")["Url"]
    assert httpx.put(url, content=b"version-1" * 1000, timeout=30).status_code == 200

    sent = threading.Event()

    def slow_body() -> Iterator[bytes]:
        yield b"version-2" * 100_000
        sent.set()
        time.sleep(30)  # the runtime is killed while it waits for the rest
        yield b"never"

    def upload() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server dies mid-request
            httpx.put(url, content=slow_body(), timeout=60)

    uploader = threading.Thread(target=upload, daemon=True)
    uploader.start()
    assert sent.wait(30)
    time.sleep(0.3)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    process, api = serve(tmp_path)
    try:
        got = api.call("GetContextFileDownloadUrl", ContextId=context, FilePath="/model.bin")
        assert httpx.get(got["Url"], timeout=30).content == b"version-1" * 1000
        leftovers = list((tmp_path / "contexts" / context / "tmp").glob("*"))
        assert leftovers == [], "partial files of the killed upload must be cleaned at start"
    finally:
        stop_serve(process)


def _wait_for_sync(api: Api, session: str, task_type: str) -> None:
    """Wait until every sync task of that type of the session succeeded (a deadline of 60 s)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = api.call("GetContextInfo", SessionId=session)["ContextStatus"]
        records = json.loads(json.loads(status)[0]["data"]) if status else []
        tasks = [r for r in records if r["taskType"] == task_type]
        if tasks and all(r["status"] == "Success" for r in tasks):
            return
        failed = [r for r in tasks if r["status"] == "Failed"]
        assert not failed, (task_type, failed[0].get("errorMessage"))
        time.sleep(0.05)
    raise AssertionError(f"the {task_type} of {session} did not finish")


def test_concurrent_syncs_into_one_context_never_interleave(tmp_path: Path) -> None:
    process, api = serve(tmp_path)
    try:
        context = api.call("GetContext", Name="shared", AllowCreate=True)["Id"]
        sync = [{"ContextId": context, "Path": "/work"}]
        writers = [api.create_session(PersistenceDataList=sync) for _ in range(2)]
        for session in writers:  # their (empty) downloads first: they must not race the writes
            _wait_for_sync(api, session, "download")
        for index, session in enumerate(writers):
            api.text(
                session,
                "shell",
                timeout_ms=20000,
                command=f"mkdir -p /work && for i in $(seq 1 300); do "
                f"head -c 20000 /dev/urandom > /work/f$i; echo w{index} >> /work/f$i; done",
            )
        for session in writers:
            api.call(
                "SyncContext", SessionId=session, ContextId=context, Path="/work", Mode="upload"
            )
        for session in writers:
            _wait_for_sync(api, session, "upload")
        reader = api.create_session(PersistenceDataList=sync)
        # The download into a new session runs in the background, as in the cloud.
        _wait_for_sync(api, reader, "download")
        owners = api.text(
            reader, "shell", timeout_ms=20000, command="tail -c 3 -q /work/f* | sort | uniq -c"
        )
        lines = owners.strip().splitlines()
        assert len(lines) == 1, f"files of both uploads are mixed: {owners}"
        assert lines[0].split()[0] == "300"
    finally:
        stop_serve(process)
