"""What a session's lifecycle is, from the fields a client sends at create, and when the
reaper releases it (a fake clock: no waiting)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentbay_local.running import RunningSessions
from agentbay_local.sessions.lifecycle import LifecycleDefaults, Reaper, policy_at_create
from agentbay_local.store import PAUSED, RUNNING, SessionRow, Store

DEFAULTS = LifecycleDefaults(idle_timeout_s=1800.0, max_runtime_s=86400.0)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, (1800.0, 86400.0)),  # 0.9.3 and every client that sets nothing
        ({"Timeout": 90}, (90.0, 86400.0)),  # the older idle_release_timeout: seconds
        ({"Timeout": 7, "MaxRuntime": 60}, (420.0, 3600.0)),  # LifecyclePolicy: minutes
        ({"ManualRelease": True}, (None, None)),
        ({"Timeout": 0}, (1800.0, 86400.0)),
    ],
)
def test_policy_at_create(fields: dict[str, object], expected: tuple[object, object]) -> None:
    assert policy_at_create(fields, DEFAULTS) == expected


def test_switched_off_defaults_stay_off() -> None:
    never = LifecycleDefaults(idle_timeout_s=None, max_runtime_s=None)
    assert policy_at_create({}, never) == (None, None)


def _row(
    session_id: str, status: str, created_at: float, idle: float | None, most: float | None
) -> SessionRow:
    return SessionRow(
        id=session_id,
        image_id="linux_latest",
        labels={},
        status=status,
        vpc=False,
        token="t-" + session_id,
        policy_id="",
        created_at=created_at,
        idle_timeout_s=idle,
        max_runtime_s=most,
    )


def test_the_reaper_finds_idle_and_expired_sessions_but_not_paused_ones(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.sqlite3")
    running = RunningSessions(store)
    for row in (
        _row("idle", RUNNING, 1000.0, 10.0, None),
        _row("busy", RUNNING, 1000.0, 10.0, None),
        _row("paused", PAUSED, 1000.0, 10.0, None),
        _row("old", PAUSED, 0.0, None, 500.0),
        _row("manual", RUNNING, 0.0, None, None),
    ):
        store.add_session(row, [])
        running.idle_s(row.id, 100.0)  # every clock starts at t=100
    running.used_now("busy")  # used just now (the real clock is far past t=111)

    async def release(session_id: str, why: str) -> None:
        raise AssertionError("not called")

    reaper = Reaper(store, running, release)
    due = dict(reaper.due(now_wall=1001.0, now=111.0))
    assert set(due) == {"idle", "old"}
    assert "idle for 10 s" in due["idle"] and "maximum run time" in due["old"]
    store.close()
