"""The session WebSocket's client end: one connection per session, shared by its terminals,
streams and subscriptions (the protocol: docs/reference/session-websocket.md).

Thread-based on ``websockets``' sync client (imported on first use: a session that never
streams pays nothing): one reader thread routes each message by ``invocationId`` to the
call or stream waiting for it, and pushes (an id no request uses) by their ``source`` to
the subscribers of that target. Callbacks run on that reader thread, in the order the
messages came; a slow callback holds up the session's other streams, and (backpressure) the
session's program. The async flavour uses the same object, its waits on a thread
(``flavour.blocking``).

A connection that breaks fails what waits on it; the next use connects again.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentbay.exceptions import AgentBayError
from agentbay.logger import get_logger

log = get_logger("session_socket")

#: Who answers errors the server finds in a request itself.
SERVER_SOURCE = "WEBSOCKET_SERVER"
#: Connecting (and the handshake) may take this long.
CONNECT_TIMEOUT_S = 10.0

Push = Callable[[dict[str, Any]], None]
OnEvent = Callable[[dict[str, Any]], None]


class SessionSocketError(AgentBayError):
    """The session WebSocket refused a request, broke, or is not available."""


@dataclass(eq=False)
class Pending:
    """A call or stream waiting for its answer(s)."""

    invocation_id: str
    on_event: OnEvent | None
    is_call: bool
    done: threading.Event = field(default_factory=threading.Event)
    result: dict[str, Any] | None = None
    error: str | None = None

    def wait(self, timeout_s: float | None) -> dict[str, Any]:
        """The end (a stream's last message, a call's answer); raises SessionSocketError
        when it failed, TimeoutError when nothing came within ``timeout_s``."""
        if not self.done.wait(timeout_s):
            raise TimeoutError(f"no answer within {timeout_s:g} s")
        if self.error is not None:
            raise SessionSocketError(self.error)
        assert self.result is not None
        return self.result


class SessionSocket:
    """One session's WebSocket (``url``, authenticated with the session's ``token``)."""

    def __init__(self, url: str, token: str) -> None:
        if not url or not token:
            raise SessionSocketError(
                "this session has no WebSocket (no WsUrl or Token in its create answer)"
            )
        self._url = url
        self._token = token
        self._lock = threading.Lock()
        self._connection: Any = None
        self._pending: dict[str, Pending] = {}
        self._subscribers: dict[str, list[Push]] = {}
        self._closed = False

    # ---- requests ----
    def call(self, target: str, data: dict[str, Any], timeout_s: float = 30.0) -> dict[str, Any]:
        """Send a request and wait for its one answer (``data.result``)."""
        pending = self._start(target, data, None, is_call=True)
        try:
            return pending.wait(timeout_s)
        finally:
            self._pending.pop(pending.invocation_id, None)

    def stream(self, target: str, data: dict[str, Any], on_event: OnEvent | None) -> Pending:
        """Send a request whose answers are events (each to ``on_event``) and an end."""
        return self._start(target, data, on_event, is_call=False)

    def send(self, target: str, data: dict[str, Any]) -> None:
        """Send a message that gets no answer."""
        self._write(uuid.uuid4().hex, target, data)

    def subscribe(self, source: str, push: Push) -> Callable[[], None]:
        """Call ``push(data)`` for each push from ``source``; returns the unsubscribe."""
        with self._lock:
            self._subscribers.setdefault(source, []).append(push)

        def unsubscribe() -> None:
            with self._lock:
                pushes = self._subscribers.get(source, [])
                if push in pushes:
                    pushes.remove(push)

        return unsubscribe

    def close(self) -> None:
        """Close the connection (idempotent); what waits on it fails."""
        with self._lock:
            self._closed = True
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
        self._fail_all("the session WebSocket was closed")

    # ---- plumbing ----
    def _start(
        self, target: str, data: dict[str, Any], on_event: OnEvent | None, *, is_call: bool
    ) -> Pending:
        pending = Pending(uuid.uuid4().hex, on_event, is_call)
        self._pending[pending.invocation_id] = pending
        try:
            self._write(pending.invocation_id, target, data)
        except BaseException:
            self._pending.pop(pending.invocation_id, None)
            raise
        return pending

    def _write(self, invocation_id: str, target: str, data: dict[str, Any]) -> None:
        message = {"invocationId": invocation_id, "source": "SDK", "target": target, "data": data}
        text = json.dumps(message, separators=(",", ":"))
        connection = self._connected()
        try:
            connection.send(text)
        except Exception as exc:  # websockets' ConnectionClosed and OSErrors alike
            raise SessionSocketError(f"the session WebSocket broke: {exc}") from None

    def _connected(self) -> Any:
        with self._lock:
            if self._closed:
                raise SessionSocketError("the session WebSocket was closed")
            if self._connection is not None:
                return self._connection
            try:
                from websockets.exceptions import InvalidStatus
                from websockets.sync.client import connect
            except ImportError as exc:  # pragma: no cover - a dependency of the package
                raise SessionSocketError(f"the websockets package is missing: {exc}") from None
            try:
                # Entered as a context manager: websockets 17 warns (DeprecationWarning, seen
                # by users) on a bare connect(); its exit only closes, which close() does.
                connection = connect(
                    self._url,
                    additional_headers={"X-Access-Token": self._token},
                    open_timeout=CONNECT_TIMEOUT_S,
                    max_size=None,
                    compression=None,
                ).__enter__()
            except InvalidStatus as exc:
                status = exc.response.status_code
                raise SessionSocketError(
                    f"the session WebSocket refused the connection: HTTP {status}"
                ) from None
            except (OSError, TimeoutError) as exc:
                raise SessionSocketError(f"cannot reach the session WebSocket: {exc}") from None
            self._connection = connection
            threading.Thread(
                target=self._read, args=(connection,), name="agentbay-session-socket", daemon=True
            ).start()
            return connection

    def _read(self, connection: Any) -> None:
        reason = "the session WebSocket closed"
        try:
            for raw in connection:
                try:
                    self._route(json.loads(raw))
                except (ValueError, TypeError, AttributeError) as exc:
                    log.warning("ignoring a malformed session WebSocket message: %s", exc)
        except Exception as exc:
            reason = f"the session WebSocket broke: {exc}"
        finally:
            code = getattr(connection, "close_code", None)
            if code is not None:
                reason = f"{reason} (close code {code}: {connection.close_reason or '-'})"
            with self._lock:
                if self._connection is connection:
                    self._connection = None
            self._fail_all(reason)

    def _route(self, message: dict[str, Any]) -> None:
        invocation_id = message.get("invocationId") or message.get("requestId")
        data = message.get("data")
        if not isinstance(data, dict):
            raise TypeError("data is not an object")
        pending = self._pending.get(str(invocation_id))
        source = str(message.get("source") or "")
        if pending is None:
            with self._lock:
                pushes = list(self._subscribers.get(source, ()))
            for push in pushes:
                try:
                    push(data)
                except Exception:
                    log.exception("a session WebSocket push callback failed")
            return
        error = message.get("error") or data.get("error")
        if error:
            self._finish(pending, error=str(error))
        elif source == SERVER_SOURCE or pending.is_call:
            self._finish(pending, result=data)
        elif data.get("phase") == "event":
            if pending.on_event is not None:
                try:
                    pending.on_event(data)
                except Exception:
                    log.exception("a session WebSocket event callback failed")
        elif data.get("phase") == "end":
            self._finish(pending, result=data)
        else:
            self._finish(pending, error=f"unexpected message: {json.dumps(data)[:500]}")

    def _finish(
        self, pending: Pending, *, result: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        self._pending.pop(pending.invocation_id, None)
        pending.result, pending.error = result, error
        pending.done.set()

    def _fail_all(self, reason: str) -> None:
        for pending in list(self._pending.values()):
            self._finish(pending, error=reason)
