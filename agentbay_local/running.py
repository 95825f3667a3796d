"""``RunningSessions``: sessions as every service looks them up (one rule for the not-found,
failed and released errors), and which built-in image's tools each running one serves."""

from __future__ import annotations

from agentbay_local.protocol.envelope import ApiError
from agentbay_local.store import FAILED, RUNNING, SessionRow, Store


class RunningSessions:
    """The runtime's sessions by id, as the actions see them."""

    def __init__(self, store: Store) -> None:
        self._store = store
        # The built-in image whose tools each running session of a user image serves.
        self._tool_images: dict[str, str] = {}

    def get(self, session_id: str, *, failed_too: bool = False) -> SessionRow:
        """A running session, or the not-found/released error the cloud gives.

        ``failed_too``: a session whose sandbox stopped by itself is answered as well
        (GetSession reports it, ReleaseMcpSession ends it); other actions refuse it.
        """
        row = self._store.session(session_id)
        if row is None:
            raise ApiError(
                400, "InvalidMcpSession.NotFound", f"The session {session_id} does not exist."
            )
        if row.status == FAILED and not failed_too:
            raise ApiError(
                400,
                "InvalidMcpSession.Failed",
                f"The session {session_id} failed: its sandbox stopped unexpectedly. "
                "Release it and create a new session.",
            )
        if row.status not in (RUNNING, FAILED):
            raise ApiError(
                400, "InvalidMcpSession.NotFound", f"The session {session_id} is released."
            )
        return row

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
