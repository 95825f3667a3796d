"""A blocking Chrome DevTools Protocol client over ``websocket.WebSocket`` (stdlib only)."""

from __future__ import annotations

import json
import time

from .websocket import WebSocket, WebSocketError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class CdpError(Exception):
    """A CDP command failed (the browser's error message), or did not answer in time."""


class Cdp:
    """One DevTools connection: commands answered in order, events kept until asked for."""

    def __init__(self, socket: WebSocket) -> None:
        self._socket = socket
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    @classmethod
    def connect(cls, port: int, path: str, timeout_s: float) -> Cdp:
        """Connect to the browser (``/devtools/browser/<id>``) or a page on loopback."""
        try:
            return cls(WebSocket.connect("127.0.0.1", port, path, timeout_s))
        except OSError as exc:
            raise CdpError(f"cannot reach the browser's DevTools endpoint: {exc}") from None

    def close(self) -> None:
        """Close the connection."""
        self._socket.close()

    def __enter__(self) -> Cdp:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
        timeout_s: float = 30.0,
    ) -> dict[str, Any]:
        """Send one command and wait for its result (events meanwhile are kept)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        deadline = time.monotonic() + timeout_s
        try:
            self._socket.settimeout(timeout_s)
            self._socket.send_text(json.dumps(message))
            while True:
                reply = self._receive(deadline, method)
                if reply.get("id") == self._next_id:
                    break
                if "method" in reply:
                    self._events.append(reply)
        except WebSocketError as exc:
            raise CdpError(f"{method}: {exc}") from None
        if "error" in reply:
            error = reply["error"]
            text = error.get("message", error) if isinstance(error, dict) else error
            raise CdpError(f"{method}: {text}")
        result = reply.get("result")
        return result if isinstance(result, dict) else {}

    def wait_event(
        self, method: str, timeout_s: float, *, session_id: str | None = None
    ) -> dict[str, Any]:
        """The params of the first event ``method`` (kept or new); CdpError on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            for index, event in enumerate(self._events):
                if event.get("method") == method and (
                    session_id is None or event.get("sessionId") == session_id
                ):
                    del self._events[index]
                    params = event.get("params")
                    return params if isinstance(params, dict) else {}
            try:
                reply = self._receive(deadline, method)
            except WebSocketError as exc:
                raise CdpError(f"{method}: {exc}") from None
            if "method" in reply:
                self._events.append(reply)

    def _receive(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CdpError(f"{waiting_for}: the browser did not answer in time")
        self._socket.settimeout(remaining)
        try:
            text = self._socket.receive_text()
        except TimeoutError:
            raise CdpError(f"{waiting_for}: the browser did not answer in time") from None
        try:
            value = json.loads(text)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
