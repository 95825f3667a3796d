"""The browser's own port (InitBrowser's ``Port``): one host listener per session browser.

``GetLink`` answers the CDP URL through the runtime's link proxy (``sessions.links``);
VPC clients instead connect to ``ws://<NetworkInterfaceIp>:<Port>`` with no path and no
token, so each browser also gets a port of its own. Each connection is forwarded to
Chromium's debugging port inside the session (``Sandbox.open_port_connection``). Only the
first request's target is looked at: a WebSocket upgrade for ``/`` is pointed at the
browser's own path, everything else goes through byte for byte (Chromium builds the URLs
in ``/json/version`` from the Host header, so they name this port).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from agentbay.contract import get_logger

log = get_logger("agentbay.local.browser")

#: Opens a connection to a port inside the session.
Connector = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
#: How long a client may take to send its first request head.
HEAD_TIMEOUT_S = 10.0
MAX_HEAD_BYTES = 64 * 1024
_CHUNK = 256 * 1024


class CdpLink:
    """A listening socket forwarding to one session's browser."""

    def __init__(self, connect: Connector, browser_port: int, browser_path: str) -> None:
        self._connect = connect
        self.browser_port = browser_port
        self.browser_path = browser_path
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self, host: str) -> int:
        """Listen on an ephemeral port of ``host``; returns it."""
        self._server = await asyncio.start_server(self._serve, host, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    def retarget(self, browser_port: int, browser_path: str) -> None:
        """Point later connections at a restarted browser."""
        self.browser_port, self.browser_path = browser_port, browser_path

    async def close(self) -> None:
        """Stop listening and cut every forwarded connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            try:
                async with asyncio.timeout(HEAD_TIMEOUT_S):
                    head = await reader.readuntil(b"\r\n\r\n")
            except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            try:
                inner_reader, upstream = await self._connect(self.browser_port)
            except (OSError, ValueError) as exc:
                log.info("the session browser is not reachable: %s", exc)
                writer.write(_unavailable(str(exc)))
                await writer.drain()
                return
            upstream.write(self._point_at_browser(head))
            await asyncio.gather(_pipe(reader, upstream), _pipe(inner_reader, writer))
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            for stream in (writer, upstream):
                if stream is not None:
                    stream.close()

    def _point_at_browser(self, head: bytes) -> bytes:
        line, sep, rest = head.partition(b"\r\n")
        parts = line.split(b" ")
        if len(parts) == 3 and parts[1] == b"/" and b"upgrade: websocket" in rest.lower():
            parts[1] = self.browser_path.encode("ascii")
            return b" ".join(parts) + sep + rest
        return head


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while True:
            chunk = await source.read(_CHUNK)
            if not chunk:
                break
            sink.write(chunk)
            await sink.drain()
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if sink.can_write_eof():
                sink.write_eof()


def _unavailable(reason: str) -> bytes:
    body = f"the session browser is not reachable: {reason}\n".encode()
    return (
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
