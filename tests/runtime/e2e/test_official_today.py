"""Today's official clients (0.22.3, and 0.13.1 and 0.15.2 where they have the method),
unchanged, against `agentbay local serve`: status, list filters, keep-alive, pause and
resume of a running process, delete, lifecycles set at create, cloud-only parts.

Each client runs in its own virtual environment (tests/support/official.py).
"""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.runtime.e2e.api import Api
from tests.support.official import official_python, run_driver
from tests.support.spawn import serving, stop_serve

DRIVER = Path(__file__).with_name("official_today_driver.py")
KEY = "akm-official-today"
NEEDS_CLOUD = "needs the AgentBay cloud"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    """`agentbay local serve` in the foreground of a child process."""
    data_dir = tmp_path / "serve"
    with serving(data_dir, KEY) as (endpoint, process):
        yield endpoint, data_dir, process


def gone_within(api: Api, session_id: str, timeout_s: float) -> bool:
    """Whether GetSessionDetail answers FINISH for the session (the cloud's status of a
    deleted session) before the deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if api.call("GetSessionDetail", SessionId=session_id)["Status"] == "FINISH":
            return True
        time.sleep(0.2)
    return False


def stored_policy(data_dir: Path, session_id: str) -> tuple[Any, Any]:
    """(idle timeout, maximum run time) in seconds as the runtime stored them."""
    with sqlite3.connect(f"file:{data_dir / 'state.sqlite3'}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT idle_timeout_s, max_runtime_s FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
    return row[0], row[1]


def frozen_for(ticks: str) -> float:
    """The longest pause of the ticker, checking that one process ran throughout: the same
    token (its memory) and consecutive counts (not restarted)."""
    lines = [line.split() for line in ticks.splitlines() if line.strip()]
    assert lines, "the ticker never wrote"
    assert len({token for token, _, _ in lines}) == 1, "the ticker was restarted"
    counts = [int(n) for _, n, _ in lines]
    assert counts == list(range(counts[0], counts[0] + len(counts))), "ticks were lost"
    times = [float(t) for _, _, t in lines]
    return max(later - earlier for earlier, later in itertools.pairwise(times))


def test_official_022_client_today_flows(
    served: tuple[str, Path, subprocess.Popen[str]], tmp_path: Path
) -> None:
    endpoint, data_dir, process = served
    got = run_driver(official_python("0.22.3"), DRIVER, endpoint, KEY, tmp_path, 600)

    assert got["status_running"] == "RUNNING"
    assert got["command"] == "today\n"
    assert got["command_exit"] == [False, 3]
    assert got["command_streams"] == ["out\n", "err\n"]
    assert got["command_cwd_envs"] == [0, "/usr\nyes\n"]
    assert got["command_envs_once"] == "unset\n"  # envs are for that command only
    assert got["list_running_linux"] is True and got["list_running_code"] is False
    assert got["list_paused_before"] is False
    assert got["keep_alive"] == [True, ""]
    assert got["upload"] == [True, ""] and got["uploaded"] == "uploaded by today's client"
    assert got["download"] == [True, ""] and got["downloaded"] == "from the session\n"
    assert got["read_bytes"] == [True, "", True]  # read_file(format="bytes"): base64 on the wire
    assert "browser_error" not in got, got.get("browser_error")
    assert got["browser_init"] is True
    assert got["cdp_url"].startswith("ws://") and "/devtools/browser/" in got["cdp_url"]
    assert "/devtools/browser/" in got["cdp_link_at_create"]  # no InitBrowser needed
    assert got["env_set"] == [True, ""] and got["env_seen"] == "set by 0.22\n"
    assert got["env_get"] == {"TODAY_VAR": "set by 0.22"}
    assert got["metrics"] == [True, ""] and got["metrics_mem_used"] > 0
    assert got["delete_file"] == [True, ""] and got["deleted_gone"] == "1\n"
    assert got["bind"] == [True, ""] and got["bound_listed"] is True
    assert got["sync_upload"] is True and got["files_before_clear"] == ["one.txt"]
    assert got["clear"] == [True, "", "available"] and got["files_after_clear"] == []

    assert got["pause"] == [True, "", "PAUSED"]
    assert got["status_paused"] == "PAUSED" and got["list_paused"] is True
    ran, message = got["command_while_paused"]
    assert ran is False and "paused" in message, message
    assert got["resume"] == [True, "", "RUNNING"]
    assert got["status_resumed"] == "RUNNING"
    assert frozen_for(got["ticks"]) >= 1.0  # nothing ran while paused; then it continued
    assert got["after_resume"] == "resumed\n"

    adb_ok, adb_message = got["adb"]
    assert adb_ok is False and NEEDS_CLOUD in adb_message
    mobile_ok, mobile_message = got["create_mobile"]
    assert mobile_ok is False and NEEDS_CLOUD in mobile_message
    assert NEEDS_CLOUD in got["skills"][1]

    assert got["delete"] == [True, ""]
    assert got["status_deleted"] == "FINISH"  # as the cloud answers after a delete
    assert got["list_deleted"] is True and got["list_live_after_delete"] is False

    # Sessions the client never deleted: released once idle (keep-alive held one meanwhile).
    never = got["never_deleted"]
    assert got["kept_status_after_6s"] == "RUNNING"
    api = Api(endpoint, KEY)
    assert gone_within(api, never["idle_3s"], 60), "an idle session leaked"
    assert gone_within(api, never["kept_then_idle"], 60), "a kept-alive session leaked"
    assert got["create_lifecycle"] == [True, ""] and got["create_manual"] == [True, ""]
    assert stored_policy(data_dir, never["lifecycle_1min"]) == (60.0, 120.0)
    assert stored_policy(data_dir, never["manual"]) == (None, None)
    assert api.call("GetSessionDetail", SessionId=never["manual"])["Status"] == "RUNNING"

    assert stop_serve(process) == 0  # releases the rest
    sessions = data_dir / "sessions"
    assert not sessions.exists() or not any(sessions.iterdir())


@pytest.mark.parametrize("version", ["0.13.1", "0.15.2"])
def test_older_official_clients_pause_resume_and_delete(
    version: str, served: tuple[str, Path, subprocess.Popen[str]], tmp_path: Path
) -> None:
    endpoint, _, _ = served
    got = run_driver(official_python(version), DRIVER, endpoint, KEY, tmp_path, 600)
    assert got["status_running"] == "RUNNING" and got["command"] == "today\n"
    assert got["upload"] == [True, ""] and got["download"] == [True, ""]
    assert got["pause"][:2] == [True, ""] and got["status_paused"] == "PAUSED"
    assert got["resume"][:2] == [True, ""] and got["status_resumed"] == "RUNNING"
    assert frozen_for(got["ticks"]) >= 1.0
    assert got["delete"] == [True, ""]
    # 0.15.2 reads GetSessionDetail (FINISH, as the cloud), 0.13.1 GetSession (not found).
    assert got["status_deleted"] == "FINISH" or "not found" in got["status_deleted"].lower()
