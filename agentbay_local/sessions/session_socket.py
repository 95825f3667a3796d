"""The session WebSocket (``WsUrl``): terminals, streaming code and pushed file events.

The protocol: docs/reference/session-websocket.md. The runtime serves it on the listener of
``GetLink`` URLs (``ws://<host>:<link port>/ws/<session id>``; no port into the session)
with the framing of ``sandbox/inside/websocket.py``, and checks the session's token
(``X-Access-Token``) before the upgrade. Each accepted socket gets one stream connection
into the session's tool server (``Sandbox.open_stream_connection``, served by
``inside/streams.py``): client messages are checked here and forwarded as JSON lines; the
session's lines go out as text frames unchanged.

Backpressure both ways: a frame is read from one side only once the other side took the
previous one (``drain``), so a client that stops reading stops the session's program, not
the runtime's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentbay.contract import get_logger
from agentbay_local.sandbox.inside import websocket as ws
from agentbay_local.sessions.links import refuse, request_headers
from agentbay_local.store import RUNNING

if TYPE_CHECKING:
    from agentbay_local.sandbox import Sandbox
    from agentbay_local.store import Store

log = get_logger("agentbay.local.session_socket")

#: The path of a session's socket: this, then its id.
PATH_PREFIX = "/ws/"
#: Largest client message (a terminal's input or a program's code); 1009 beyond.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
#: Longest line taken from the session (a batch of output, or of file events: the session
#: keeps them under 512 KiB); the connection is closed (1011) beyond. The reader buffers at
#: most twice this much, which bounds what a socket costs the runtime while its client
#: reads slowly.
MAX_SESSION_LINE_BYTES = 1024 * 1024
#: Malformed client messages tolerated on one connection; 1008 beyond.
MAX_BAD_MESSAGES = 100
#: How long the session may take to give a new socket its stream connection.
STREAM_TIMEOUT_S = 10.0
#: How long a closed socket waits for the client's close (reading and dropping its frames).
LINGER_S = 2.0
#: Who answers errors the runtime itself finds in a request (the client surfaces them).
SERVER_SOURCE = "WEBSOCKET_SERVER"

# Close codes (RFC 6455 7.4.1).
GOING_AWAY, PROTOCOL_ERROR, UNSUPPORTED, BAD_DATA, POLICY, TOO_BIG, INTERNAL = (
    1001,
    1002,
    1003,
    1007,
    1008,
    1009,
    1011,
)


class _Close(Exception):
    """End the connection with this close code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(eq=False)
class _Socket:
    """One accepted session socket."""

    session_id: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    closing: asyncio.Task[None] | None = None

    def close(self, code: int, reason: str) -> None:
        """Send a close frame (once) and end the connection: its relays stop, and what the
        client still sends is read and dropped until it closes too (closing at once would
        reset the connection, and the client would not see the close frame)."""
        if self.closing is not None:
            return
        payload = struct.pack("!H", code) + reason.encode()[:120]
        with contextlib.suppress(Exception):
            self.writer.write(ws.encode_frame(ws.CLOSE, payload, masked=False))
        for task in self.tasks:
            task.cancel()
        self.closing = asyncio.get_running_loop().create_task(self._linger())

    async def _linger(self) -> None:
        await asyncio.gather(*self.tasks, return_exceptions=True)
        try:
            async with asyncio.timeout(LINGER_S):
                await self.writer.drain()
                if self.writer.can_write_eof():
                    self.writer.write_eof()
                while await self.reader.read(65536):
                    pass
        except (TimeoutError, OSError):
            pass
        finally:
            self.writer.close()


class SessionSockets:
    """Accepts session sockets and ties each to the session's stream server.

    ``sandbox_of`` finds a running session's sandbox; ``used_now`` is told each time a
    client sends something (a socket in use keeps its session from idling out).
    """

    def __init__(
        self,
        store: Store,
        sandbox_of: Callable[[str], Sandbox | None],
        used_now: Callable[[str], None],
    ) -> None:
        self._store = store
        self._sandbox_of = sandbox_of
        self._used_now = used_now
        self._sockets: dict[str, set[_Socket]] = {}

    @staticmethod
    def url(origin: str, session_id: str) -> str:
        """The socket URL of a session on the listener at ``origin`` (``ws://host:port``)."""
        return f"{origin}{PATH_PREFIX}{session_id}"

    def close_session(self, session_id: str, reason: str = "the session was released") -> None:
        """Close a session's sockets (it is released or paused): close code 1001."""
        for sock in list(self._sockets.pop(session_id, ())):
            sock.close(GOING_AWAY, reason)

    async def close(self) -> None:
        """Close every socket (the runtime stops)."""
        for session_id in list(self._sockets):
            self.close_session(session_id, "the runtime stops")

    # ---- the handshake ----
    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
    ) -> None:
        """Serve one connection whose first request ``head`` names ``PATH_PREFIX``."""
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, _, rest = request_line.partition(" ")
        target = rest.rpartition(" ")[0]
        session_id = target[len(PATH_PREFIX) :].split("?", 1)[0].strip("/")
        headers = request_headers(head)
        if method != "GET" or headers.get("upgrade", "").lower() != "websocket":
            await refuse(
                writer, 400, "this URL takes a WebSocket upgrade (GET, Upgrade: websocket)"
            )
            return
        key = headers.get("sec-websocket-key", "")
        if not key or headers.get("sec-websocket-version") != "13":
            await refuse(writer, 400, "a WebSocket version 13 handshake is required")
            return
        token = headers.get("x-access-token", "")
        row = self._store.session_by_token(token) if token else None
        if row is None:
            await refuse(writer, 401, "no valid session token (X-Access-Token)")
            return
        if row.id != session_id:
            await refuse(writer, 403, "this token belongs to another session")
            return
        if row.status != RUNNING:
            await refuse(writer, 409, f"the session is {row.status}, not RUNNING")
            return
        sandbox = self._sandbox_of(session_id)
        if sandbox is None:
            await refuse(writer, 404, "the session is not running")
            return
        try:
            stream = await sandbox.open_stream_connection(STREAM_TIMEOUT_S)
        except (OSError, ConnectionError) as exc:
            await refuse(writer, 502, f"the session's stream server did not answer: {exc}")
            return
        session_reader, session_writer = await asyncio.open_unix_connection(
            sock=stream, limit=MAX_SESSION_LINE_BYTES
        )
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + ws.accept_key(key.encode("latin-1")).encode() + b"\r\n\r\n"
        )
        sock = _Socket(session_id, reader, writer)
        self._sockets.setdefault(session_id, set()).add(sock)
        try:
            await self._relay(sock, reader, session_reader, session_writer)
        finally:
            session_writer.close()
            entry = self._sockets.get(session_id)
            if entry is not None:
                entry.discard(sock)
                if not entry:
                    self._sockets.pop(session_id, None)

    async def _relay(
        self,
        sock: _Socket,
        reader: asyncio.StreamReader,
        session_reader: asyncio.StreamReader,
        session_writer: asyncio.StreamWriter,
    ) -> None:
        loop = asyncio.get_running_loop()
        sock.tasks = [
            loop.create_task(self._from_client(sock, reader, session_writer)),
            loop.create_task(_to_client(sock, session_reader)),
        ]
        try:
            done, _ = await asyncio.wait(sock.tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and (error := task.exception()) is not None:
                    raise error
            sock.close(INTERNAL if sock.tasks[1] in done else 1000, "")
        except _Close as close:
            sock.close(close.code, close.reason)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            sock.close(GOING_AWAY, "")
        except asyncio.CancelledError:
            sock.close(GOING_AWAY, "")
            raise
        finally:
            for task in sock.tasks:
                task.cancel()
            await asyncio.gather(*sock.tasks, return_exceptions=True)
            sock.close(GOING_AWAY, "")  # a no-op when closed already
            if sock.closing is not None:
                await asyncio.shield(sock.closing)

    # ---- client to session ----
    async def _from_client(
        self,
        sock: _Socket,
        reader: asyncio.StreamReader,
        session_writer: asyncio.StreamWriter,
    ) -> None:
        bad = 0
        async for message in _messages(sock, reader):
            self._used_now(sock.session_id)
            checked = _checked(message)
            if isinstance(checked, dict):
                session_writer.write(json.dumps(checked, separators=(",", ":")).encode() + b"\n")
                await session_writer.drain()
                continue
            reason, invocation_id = checked
            if invocation_id is not None:
                error = {
                    "invocationId": invocation_id,
                    "source": SERVER_SOURCE,
                    "target": "SDK",
                    "data": {"error": reason},
                }
                sock.writer.write(
                    ws.encode_frame(ws.TEXT, json.dumps(error).encode(), masked=False)
                )
                await sock.writer.drain()
            bad += 1
            if bad > MAX_BAD_MESSAGES:
                raise _Close(POLICY, "too many malformed messages")


def _checked(text: str) -> dict[str, Any] | tuple[str, str | None]:
    """The message if it is one the session may get, else why not and its invocation id."""
    try:
        message = json.loads(text)
    except ValueError:
        return "the message is not JSON", None
    if not isinstance(message, dict):
        return "the message is not a JSON object", None
    invocation_id = message.get("invocationId") or message.get("requestId")
    if not isinstance(invocation_id, str) or not invocation_id:
        return "invocationId must be a non-empty string", None
    target, data = message.get("target"), message.get("data")
    if not isinstance(target, str) or not target:
        return "target must be a non-empty string", invocation_id
    if not isinstance(data, dict):
        return "data must be an object", invocation_id
    return {"invocationId": invocation_id, "target": target, "data": data}


async def _messages(sock: _Socket, reader: asyncio.StreamReader) -> Any:
    """The client's text messages, in order; pings answered, a close ends them."""
    parts: list[bytes] = []
    size = 0
    while True:
        first, second = await reader.readexactly(2)
        extended = ws.extended_size(second)
        length = ws.frame_length(second, await reader.readexactly(extended) if extended else b"")
        opcode = first & 0x0F
        if not second & 0x80:
            raise _Close(PROTOCOL_ERROR, "client frames must be masked")
        if length > MAX_MESSAGE_BYTES or size + length > MAX_MESSAGE_BYTES:
            raise _Close(TOO_BIG, f"messages are limited to {MAX_MESSAGE_BYTES} bytes")
        mask = await reader.readexactly(4)
        payload = ws.unmask(await reader.readexactly(length), mask)
        if opcode == ws.PING:
            sock.writer.write(ws.encode_frame(ws.PONG, payload, masked=False))
            continue
        if opcode == ws.PONG:
            continue
        if opcode == ws.CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1000
            raise _Close(code if 1000 <= code < 5000 and code not in (1005, 1006) else 1000, "")
        if opcode == ws.BINARY or (opcode == ws.CONTINUATION and not parts and size == 0):
            raise _Close(UNSUPPORTED, "messages are JSON text frames")
        if opcode not in (ws.TEXT, ws.CONTINUATION):
            raise _Close(PROTOCOL_ERROR, f"unknown opcode {opcode}")
        parts.append(payload)
        size += length
        if first & 0x80:
            data = b"".join(parts)
            parts, size = [], 0
            try:
                yield data.decode("utf-8")
            except UnicodeDecodeError:
                raise _Close(BAD_DATA, "text frames must be UTF-8") from None


async def _to_client(sock: _Socket, session_reader: asyncio.StreamReader) -> None:
    """Send each line the session writes as one text frame, at the pace the client reads."""
    while True:
        try:
            line = await session_reader.readline()
        except (ValueError, asyncio.LimitOverrunError):
            raise _Close(INTERNAL, "the session sent a message too large") from None
        if not line:
            raise _Close(INTERNAL, "the session's stream server went away")
        line = line.rstrip(b"\n")
        if not line.isascii():  # the session writes ASCII JSON; anything else is not sent
            continue
        sock.writer.write(ws.encode_frame(ws.TEXT, line, masked=False))
        await sock.writer.drain()
