"""The SDK client every connection shares, and each connection's session (its "slot")."""

from __future__ import annotations

import logging

import anyio
import anyio.to_thread

from agentbay import Config
from agentbay.aio import AsyncAgentBay, AsyncSession
from agentbay.session_params import CreateSessionParams
from agentbay_mcp.options import ServeOptions

log = logging.getLogger("agentbay.mcp")

#: Deleting a session when its client goes away may take this long before it is given up
#: (logged; the runtime's idle release frees what is left).
RELEASE_TIMEOUT_S = 30.0


class SessionUnavailable(Exception):
    """No session could be created or attached; the message says why (the backend's words)."""


class Backend:
    """The SDK client of the server, made on first use and shared by every connection.

    ``endpoint="local"`` starts the embedded runtime when the client is made, which blocks:
    it is made in a worker thread, once.
    """

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self._bay: AsyncAgentBay | None = None
        self._lock = anyio.Lock()

    async def bay(self) -> AsyncAgentBay:
        """The SDK client (made on the first call).

        Raises:
            SessionUnavailable: the client cannot be made (no API key, no local runtime).
        """
        async with self._lock:
            if self._bay is None:
                try:
                    self._bay = await anyio.to_thread.run_sync(self._make)
                except (ValueError, RuntimeError) as exc:
                    raise SessionUnavailable(str(exc)) from exc
            return self._bay

    def _make(self) -> AsyncAgentBay:
        endpoint = self.options.endpoint
        if endpoint is None:
            return AsyncAgentBay()
        return AsyncAgentBay(cfg=Config(endpoint=endpoint, timeout_ms=self.options.timeout_ms))

    async def close(self) -> None:
        """Close the SDK client's connections."""
        if self._bay is not None:
            await self._bay.close()


class SessionSlot:
    """One MCP client's session: made on first use (or attached), deleted at ``release``."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._session: AsyncSession | None = None
        self._owned = False
        self._lock = anyio.Lock()

    @property
    def current(self) -> AsyncSession | None:
        """The session, if one was made or attached yet."""
        return self._session

    async def session(self) -> AsyncSession:
        """The session, made (or attached, with ``--session-id``) on the first call.

        Raises:
            SessionUnavailable: it could not be made or attached.
        """
        async with self._lock:
            if self._session is None:
                attach = self.backend.options.session_id
                if attach:
                    await self._attach(attach)
                else:
                    await self._create(self.backend.options.image_id, {})
            assert self._session is not None
            return self._session

    async def create(self, image_id: str | None, labels: dict[str, str]) -> AsyncSession:
        """Make a new session for this client (``session_create``).

        Raises:
            SessionUnavailable: this client has a session already, or creation failed.
        """
        async with self._lock:
            if self._session is not None:
                raise SessionUnavailable(
                    f"this client has session {self._session.session_id} already; "
                    "delete it first (session_delete)"
                )
            await self._create(image_id or self.backend.options.image_id, labels)
            assert self._session is not None
            return self._session

    async def _create(self, image_id: str | None, labels: dict[str, str]) -> None:
        bay = await self.backend.bay()
        options = self.backend.options
        params = CreateSessionParams(
            image_id=image_id, labels={**options.session_labels(), **labels}
        )
        created = await bay.create(params)
        if not created.success or created.session is None:
            raise SessionUnavailable(f"creating a session failed: {created.error_message}")
        self._session, self._owned = created.session, True
        log.info("session %s created for an MCP client", created.session.session_id)

    async def _attach(self, session_id: str) -> None:
        bay = await self.backend.bay()
        found = await bay.get(session_id)
        if not found.success or found.session is None:
            raise SessionUnavailable(f"session {session_id}: {found.error_message}")
        self._session, self._owned = found.session, False

    async def delete(self) -> str:
        """Delete this client's session now (``session_delete``); the next use makes a new one.

        Answers the deleted session's id.

        Raises:
            SessionUnavailable: there is no session, or the backend refused.
        """
        async with self._lock:
            session = self._session
            if session is None:
                raise SessionUnavailable("this client has no session")
            deleted = await session.delete()
            if not deleted.success:
                raise SessionUnavailable(f"deleting {session.session_id}: {deleted.error_message}")
            self._session, self._owned = None, False
            return session.session_id

    async def replace_released(self, gone: AsyncSession) -> AsyncSession:
        """The backend released ``gone`` (its idle timeout, a delete from elsewhere): forget it
        and make a new session (never for an attached one: that is the user's to replace).

        Raises:
            SessionUnavailable: the session was attached, or a new one could not be made.
        """
        async with self._lock:
            if self._session is gone:
                if not self._owned:
                    raise SessionUnavailable(f"the attached session {gone.session_id} is gone")
                self._session, self._owned = None, False
        return await self.session()

    async def release(self) -> None:
        """The client went away: delete the session the server made for it (not an attached
        one, nor any with ``--keep``). Never raises; bounded by ``RELEASE_TIMEOUT_S``."""
        session, owned = self._session, self._owned
        self._session, self._owned = None, False
        if session is None:
            return
        if not owned or self.backend.options.keep:
            log.info("client gone; session %s kept", session.session_id)
            return
        with anyio.move_on_after(RELEASE_TIMEOUT_S, shield=True) as scope:
            result = await session.delete()
            if result.success:
                log.info("client gone; session %s deleted", session.session_id)
            else:
                log.warning("deleting %s failed: %s", session.session_id, result.error_message)
        if scope.cancelled_caught:
            log.warning(
                "deleting %s took over %s s; left to the runtime's idle release",
                session.session_id,
                RELEASE_TIMEOUT_S,
            )
