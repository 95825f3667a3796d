"""Session lifecycles: the idle release and maximum run time a client sets at create (or the
runtime's defaults), and the reaper that releases a session once either has passed.

What the clients send (CreateMcpSession, docs/compatibility.md): 0.22's
``LifecyclePolicy(idle_release_timeout, max_runtime)`` as ``Timeout`` and ``MaxRuntime`` in
minutes, ``LifecyclePolicy(manual_release=True)`` as ``ManualRelease=True`` (never released
automatically), the older ``idle_release_timeout`` as ``Timeout`` alone, in seconds. Without
any of them the runtime's defaults apply (``serve --session-idle-timeout`` and
``--session-max-runtime``), so a session a client forgets is released all the same.

Idle means: no API call and no tool call named the session (``RunningSessions.get``; reading
its status does not count) and no ``RefreshSessionIdleTime`` since. A paused session is not
idle (its clock starts again when it resumes); the maximum run time counts from creation,
paused or not. A released session's contexts are uploaded as on delete.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from agentbay.contract import get_logger
from agentbay_local.running import RunningSessions
from agentbay_local.store import DELETING, RUNNING, Store

log = get_logger("agentbay.local")

#: How often the reaper looks for sessions to release.
REAP_INTERVAL_S = 0.5


@dataclass(frozen=True)
class LifecycleDefaults:
    """What a session gets when its client sets no lifecycle (None: no limit).

    Attributes:
        idle_timeout_s: released after this long without activity.
        max_runtime_s: released this long after creation.
    """

    idle_timeout_s: float | None = 30 * 60.0
    max_runtime_s: float | None = 24 * 3600.0


def policy_at_create(
    fields: dict[str, Any], defaults: LifecycleDefaults
) -> tuple[float | None, float | None]:
    """(idle timeout, maximum run time) in seconds of a new session, from its
    CreateMcpSession fields; None: never (ManualRelease, or a default switched off)."""
    if fields.get("ManualRelease"):
        return None, None
    timeout = fields.get("Timeout") or None  # 0 is "not set", as the clients never send it
    max_runtime = fields.get("MaxRuntime") or None
    if "MaxRuntime" in fields:  # a LifecyclePolicy: both in minutes
        return (
            timeout * 60.0 if timeout else defaults.idle_timeout_s,
            max_runtime * 60.0 if max_runtime else defaults.max_runtime_s,
        )
    if timeout:  # the older idle_release_timeout: seconds
        return float(timeout), defaults.max_runtime_s
    return defaults.idle_timeout_s, defaults.max_runtime_s


class Reaper:
    """Releases sessions whose idle timeout or maximum run time has passed."""

    def __init__(
        self,
        store: Store,
        running: RunningSessions,
        release: Callable[[str, str], Awaitable[None]],
    ) -> None:
        self._store = store
        self._running = running
        self._release = release  # (session id, why) -> released, contexts uploaded
        self._task: asyncio.Task[None] | None = None

    def due(self, now_wall: float, now: float) -> list[tuple[str, str]]:
        """(session id, why) of every session to release now."""
        found = []
        for row in self._store.live_rows():
            if row.status == DELETING:
                continue
            if row.max_runtime_s is not None and now_wall - row.created_at >= row.max_runtime_s:
                found.append((row.id, f"its maximum run time ({row.max_runtime_s:g} s) passed"))
            elif (
                row.status == RUNNING
                and row.idle_timeout_s is not None
                and self._running.idle_s(row.id, now) >= row.idle_timeout_s
            ):
                found.append((row.id, f"it was idle for {row.idle_timeout_s:g} s"))
        return found

    async def reap_once(self) -> None:
        """Release what is due now (one failure does not stop the others)."""
        for session_id, why in self.due(time.time(), time.monotonic()):
            log.info("releasing session %s: %s", session_id, why)
            try:
                await self._release(session_id, why)
            except Exception:
                log.exception("releasing %s (%s) failed", session_id, why)

    def start(self) -> None:
        """Look for due sessions every REAP_INTERVAL_S from now on."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(REAP_INTERVAL_S)
                await self.reap_once()

        self._task = asyncio.get_running_loop().create_task(loop())

    async def stop(self) -> None:
        """Stop looking (before the runtime releases every session itself)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
