"""A session's states after create: pause and resume, keep-alive, asynchronous delete, and the
status the clients poll (GetSessionDetail, and GetSession's ``Status``).

RUNNING -> PAUSING -> PAUSED -> RESUMING -> RUNNING; any of them -> DELETING -> gone. The
clients poll until the state they wait for (docs/compatibility.md): PAUSED after a pause,
RUNNING after a resume, ``FINISH`` (GetSessionDetail) or an ``InvalidMcpSession.NotFound``
error (GetSession, every other action) after a delete — so a session answers them only once
it is really gone, and a deleted session is listed by ``ListSession(Status=DELETED)`` only.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from agentbay.contract import get_logger
from agentbay_local.protocol.envelope import ApiError
from agentbay_local.sandbox.freezer import FreezeError
from agentbay_local.sessions.resource_page import app_instance_id
from agentbay_local.store import (
    DELETING,
    FAILED,
    FINISH,
    PAUSED,
    PAUSING,
    RELEASED,
    RESUMING,
    RUNNING,
)

log = get_logger("agentbay.local")

if TYPE_CHECKING:
    from agentbay_local.running import RunningSessions
    from agentbay_local.sandbox import SandboxManager
    from agentbay_local.sandbox.freezer import Freezer
    from agentbay_local.sessions.actions import SessionActions
    from agentbay_local.sessions.session_socket import SessionSockets
    from agentbay_local.store import SessionRow, Store


class SessionStates:
    """PauseSessionAsync, ResumeSessionAsync, RefreshSessionIdleTime, DeleteSessionAsync and
    GetSessionDetail of one runtime."""

    def __init__(
        self,
        *,
        store: Store,
        running: RunningSessions,
        sandboxes: SandboxManager,
        freezer: Freezer,
        sessions: SessionActions,
        sockets: SessionSockets,
    ) -> None:
        self._store = store
        self._running = running
        self._sandboxes = sandboxes
        self._freezer = freezer
        self._sessions = sessions
        self._sockets = sockets
        self._deletions: set[asyncio.Task[None]] = set()

    def detail(self, fields: dict[str, Any]) -> dict[str, Any]:
        """GetSessionDetail (SessionId in the query string). A released session answers
        ``FINISH`` (``IsDeleted`` 1), as the cloud does after a delete: the official suite
        reads that status after ``delete()``, and 0.15+ end their delete poll on it."""
        stored = self._store.session(fields["SessionId"])
        if stored is not None and stored.status == RELEASED:
            row, status, deleted = stored, FINISH, 1
        else:
            row = self._running.get(fields["SessionId"], any_state=True, status_read=True)
            status, deleted = row.status, 0
        return {
            "Id": row.id,
            "Status": status,
            "ImageId": row.image_id,
            "ImageType": "User" if row.image_id.startswith("imgc-") else "System",
            "AppInstanceId": app_instance_id(row.id),
            "PolicyId": row.policy_id,
            "IsDeleted": deleted,
            "RegionId": "local",
        }

    def refresh(self, fields: dict[str, Any]) -> None:
        """RefreshSessionIdleTime: the session's idle clock starts again."""
        row = self._running.get(fields["SessionId"], any_state=True)
        if row.status in (FAILED, DELETING):
            raise _not_now(row, "kept alive")
        self._running.used_now(row.id)

    async def pause(self, fields: dict[str, Any]) -> None:
        """PauseSessionAsync: freeze every process of the session (done before the answer:
        the first poll sees PAUSED). Pausing a session that is not running fails, a paused
        one too, as in the cloud (the official suite's test_pause_already_paused_session)."""
        row = self._running.get(fields["SessionId"], any_state=True)
        if row.status != RUNNING:
            raise _not_now(row, "paused")
        sandbox = self._sandboxes.get(row.id)
        if sandbox is None:
            raise ApiError(400, "InvalidMcpSession.Failed", f"The session {row.id} has no sandbox.")
        self._store.set_status(row.id, PAUSING)
        # Its sockets close (their terminals live on, frozen: pty.connect after resume).
        self._sockets.close_session(row.id, "the session was paused")
        try:
            await asyncio.to_thread(self._freezer.freeze, row.id, sandbox)
        except FreezeError as exc:
            self._store.set_status(row.id, RUNNING)
            raise ApiError(
                400, "OperationFailed.Pause", f"{exc}; the session keeps running."
            ) from None
        if self._status(row.id) == PAUSING:
            self._store.set_status(row.id, PAUSED)

    async def resume(self, fields: dict[str, Any]) -> None:
        """ResumeSessionAsync: every process continues where it stopped; the idle clock
        starts again. Resuming a session that is not paused fails, a running one too, as in
        the cloud (the official suite's test_resume_already_running_session)."""
        row = self._running.get(fields["SessionId"], any_state=True)
        if row.status != PAUSED:
            raise _not_now(row, "resumed")
        sandbox = self._sandboxes.get(row.id)
        self._store.set_status(row.id, RESUMING)
        if sandbox is not None:
            await asyncio.to_thread(self._freezer.thaw, row.id, sandbox)
        if self._status(row.id) == RESUMING:
            self._store.set_status(row.id, RUNNING)
        self._running.used_now(row.id)

    def delete(self, fields: dict[str, Any]) -> None:
        """DeleteSessionAsync: the session is DELETING from now on and released in the
        background (contexts uploaded as the policies ask); it answers NotFound once gone."""
        row = self._running.get(fields["SessionId"], any_state=True)
        if row.status == DELETING:
            return
        self._store.set_status(row.id, DELETING)
        task = asyncio.get_running_loop().create_task(self._sessions.end(row.id, row.status))
        self._deletions.add(task)
        task.add_done_callback(self._deletion_done)

    def _deletion_done(self, task: asyncio.Task[None]) -> None:
        self._deletions.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("deleting a session failed", exc_info=task.exception())

    async def close(self) -> None:
        """Wait for deletions under way (at shutdown)."""
        if self._deletions:
            await asyncio.gather(*self._deletions, return_exceptions=True)

    def _status(self, session_id: str) -> str:
        row = self._store.session(session_id)
        return "" if row is None else row.status


def _not_now(row: SessionRow, what: str) -> ApiError:
    """A session in a state that cannot be ``what`` (paused, resumed, kept alive)."""
    return ApiError(
        400,
        "InvalidMcpSession.Status",
        f"The session {row.id} is {row.status} and cannot be {what} now.",
    )
