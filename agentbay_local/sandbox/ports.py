"""``PortChannel``: the runtime's end of a sandbox's port channel (connections into it).

The tool server's ``inside/network.PortConnector`` connects to ports on the session's own
loopback and hands each connected socket back with SCM_RIGHTS; this side numbers the
requests, waits for the answers on the event loop and turns them into sockets or errors.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import itertools
import json
import socket
from typing import Any

#: Time allowed on top of a request's own timeout for the answer to come back.
ANSWER_SLACK_S = 2.0
_ANSWER_BYTES = 4096
_FD_SPACE = socket.CMSG_SPACE(array.array("i").itemsize * 4)
# Received descriptors are close-on-exec from the start: the runtime's later subprocesses
# (other sessions' helpers) must never inherit a connection into this session.
_RECV_FLAGS = getattr(socket, "MSG_CMSG_CLOEXEC", 0)
NOT_RUNNING = "session sandbox is not running"


class PortChannel:
    """Requests connections over one ``SOCK_SEQPACKET`` socket; use from one event loop."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[int, asyncio.Future[socket.socket]] = {}
        self._ids = itertools.count(1)
        self._closed = False

    async def open(self, port: int, timeout_s: float) -> socket.socket:
        """A socket connected to ``127.0.0.1:port`` inside the sandbox (see
        ``Sandbox.open_port_connection``, which documents the errors)."""
        if self._closed:
            raise ConnectionError(NOT_RUNNING)
        request = {"port": port, "timeout_s": max(0.0, timeout_s)}
        what = f"port {port} of the session"
        return await self._request(request, timeout_s, what)

    async def open_stream(self, timeout_s: float) -> socket.socket:
        """A new stream connection of the session WebSocket (``inside/streams.py``)."""
        if self._closed:
            raise ConnectionError(NOT_RUNNING)
        return await self._request({"stream": True}, timeout_s, "the session's stream server")

    async def _request(self, request: dict[str, Any], timeout_s: float, what: str) -> socket.socket:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            loop.add_reader(self._sock.fileno(), self._read_answers)
        request_id = next(self._ids)
        future: asyncio.Future[socket.socket] = loop.create_future()
        self._pending[request_id] = future
        try:
            async with asyncio.timeout(max(0.0, timeout_s) + ANSWER_SLACK_S):
                data = json.dumps({"id": request_id, **request}).encode()
                await loop.sock_sendall(self._sock, data)
                return await future
        except TimeoutError:
            raise TimeoutError(f"no connection to {what} within {timeout_s:g} s") from None
        except (BrokenPipeError, ConnectionResetError):
            raise ConnectionError(NOT_RUNNING) from None
        finally:
            self._pending.pop(request_id, None)

    def _read_answers(self) -> None:
        while not self._closed:
            try:
                data, ancillary, _flags, _ = self._sock.recvmsg(
                    _ANSWER_BYTES, _FD_SPACE, _RECV_FLAGS
                )
            except BlockingIOError:
                return
            except OSError:
                data, ancillary = b"", []
            fds = _received_fds(ancillary)
            if not data:
                for fd in fds:
                    _close_fd(fd)
                self._fail_all()
                return
            self._deliver(data, fds)

    def _deliver(self, data: bytes, fds: list[int]) -> None:
        try:
            answer: dict[str, Any] = json.loads(data)
            future = self._pending.get(answer["id"])
        except (ValueError, KeyError, TypeError):
            future = None
        if future is None or future.done():  # malformed, or the caller gave up
            for fd in fds:
                _close_fd(fd)
            return
        if answer.get("errno") or not fds:
            for fd in fds:
                _close_fd(fd)
            code = int(answer.get("errno") or 0)
            future.set_exception(OSError(code, str(answer.get("error") or "no connection")))
            return
        for fd in fds[1:]:
            _close_fd(fd)
        connection = socket.socket(fileno=fds[0])
        connection.setblocking(False)
        future.set_result(connection)

    def _fail_all(self) -> None:
        self._closed = True
        if self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError(NOT_RUNNING))
        self._pending.clear()
        self._sock.close()

    def close(self) -> None:
        """Stop (idempotent; from any thread): waiting callers get ConnectionError."""
        if self._closed and self._sock.fileno() == -1:
            return
        loop = self._loop
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if loop is None or loop is current or not loop.is_running():
            self._fail_all_safely()
            return
        # Another thread: the reader must be removed on its loop before the descriptor
        # closes (a reused descriptor number would otherwise lose its own reader).
        try:
            loop.call_soon_threadsafe(self._fail_all_safely)
        except RuntimeError:  # the loop closed meanwhile
            self._fail_all_safely()

    def _fail_all_safely(self) -> None:
        if self._sock.fileno() != -1:
            self._fail_all()


def _received_fds(ancillary: list[tuple[int, int, bytes]]) -> list[int]:
    fds: list[int] = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(payload) - len(payload) % array.array("i").itemsize
            fds.extend(array.array("i", payload[:usable]))
    return fds


def _close_fd(fd: int) -> None:
    with contextlib.suppress(OSError):
        socket.close(fd)
