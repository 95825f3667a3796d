"""``RunningSessions``: sessions as every service looks them up (one rule for the not-found,
failed, paused and released errors), when each was last used, and which built-in image's
tools each running one serves."""

from __future__ import annotations

import time

from agentbay_local.protocol.envelope import ApiError
from agentbay_local.store import DELETING, FAILED, LIVE, RUNNING, SessionRow, Store


class RunningSessions:
    """The runtime's sessions by id, as the actions see them."""

    def __init__(self, store: Store) -> None:
        self._store = store
        # The built-in image whose tools each running session of a user image serves.
        self._tool_images: dict[str, str] = {}
        # When each session was last used (time.monotonic()): its idle clock.
        self._last_used: dict[str, float] = {}

    def get(
        self,
        session_id: str,
        *,
        failed_too: bool = False,
        any_state: bool = False,
        status_read: bool = False,
    ) -> SessionRow:
        """A running session, or the not-found/failed/paused/released error the cloud gives.
        Every session found counts as used now (its idle clock starts again), except by a
        ``status_read`` (GetSession, GetSessionDetail): a monitor polling the status of
        sessions would otherwise keep every one of them alive forever.

        ``failed_too``: a session whose sandbox stopped by itself is answered as well
        (GetSession reports it, ReleaseMcpSession ends it); other actions refuse it.
        ``any_state``: a paused session, or one being paused, resumed or deleted, is
        answered too (its status says which); other actions refuse it.
        """
        row = self._store.session(session_id)
        if row is None:
            raise ApiError(
                400, "InvalidMcpSession.NotFound", f"The session {session_id} does not exist."
            )
        if row.status == FAILED and not (failed_too or any_state):
            raise ApiError(
                400,
                "InvalidMcpSession.Failed",
                f"The session {session_id} failed: its sandbox stopped unexpectedly. "
                "Release it and create a new session.",
            )
        if row.status not in (*LIVE, FAILED):
            raise ApiError(
                400, "InvalidMcpSession.NotFound", f"The session {session_id} is released."
            )
        if row.status not in (RUNNING, FAILED) and not any_state:
            raise not_running(row)
        if not status_read:
            self._last_used[row.id] = time.monotonic()
        return row

    def idle_s(self, session_id: str, now: float) -> float:
        """How long a session has not been used, as of ``now`` (time.monotonic())."""
        return now - self._last_used.setdefault(session_id, now)

    def used_now(self, session_id: str) -> None:
        """Start a session's idle clock again (keep-alive, resume)."""
        self._last_used[session_id] = time.monotonic()

    def tool_image(self, row: SessionRow) -> str:
        """The built-in image whose tools a running session serves (its own, or the base of
        its user image)."""
        return self._tool_images.get(row.id, row.image_id)

    def serve_tools_of(self, session_id: str, builtin_image: str) -> None:
        """Record that a session of a user image serves ``builtin_image``'s tools."""
        self._tool_images[session_id] = builtin_image

    def forget(self, session_id: str) -> None:
        """Drop what is kept of a released session."""
        self._tool_images.pop(session_id, None)
        self._last_used.pop(session_id, None)


def not_running(row: SessionRow) -> ApiError:
    """The error of an action that needs a running session, for a paused or deleting one."""
    if row.status == DELETING:
        return ApiError(
            400, "InvalidMcpSession.Deleting", f"The session {row.id} is being deleted."
        )
    return ApiError(
        400,
        "InvalidMcpSession.Paused",
        f"The session {row.id} is {row.status.lower()}: resume it first (ResumeSessionAsync).",
    )
