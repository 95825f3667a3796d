"""A minimal WebSocket (RFC 6455) for the browser's DevTools endpoint (stdlib only).

Enough for CDP over loopback: one text message per call, masked client frames, fragmented
and control frames from the server handled. Every read and write has a timeout.

The framing itself (``accept_key``, ``encode_frame``, ``frame_length``, ``unmask``) is also
what the runtime's server side of the session WebSocket uses (``sessions/session_socket``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import struct

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
#: Largest message accepted (a full-page screenshot of a long page is tens of MiB of base64).
MAX_MESSAGE_BYTES = 256 * 1024 * 1024


def accept_key(key: bytes) -> str:
    """The ``Sec-WebSocket-Accept`` answering a handshake's ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode()


def unmask(payload: bytes, mask: bytes) -> bytes:
    """``payload`` XORed with the repeated 4-byte ``mask`` (masking and unmasking alike);
    done on whole integers, which is fast without numpy."""
    length = len(payload)
    repeated = (mask * (length // 4 + 1))[:length]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(
        length, "little"
    )


def encode_frame(opcode: int, payload: bytes, *, masked: bool) -> bytes:
    """One final frame (clients mask theirs, servers must not)."""
    length = len(payload)
    header = bytearray([0x80 | opcode])
    flag = 0x80 if masked else 0
    if length < 126:
        header.append(flag | length)
    elif length < 1 << 16:
        header.append(flag | 126)
        header += struct.pack("!H", length)
    else:
        header.append(flag | 127)
        header += struct.pack("!Q", length)
    if not masked:
        return bytes(header) + payload
    mask = os.urandom(4)
    return bytes(header) + mask + unmask(payload, mask)


def frame_length(second: int, extended: bytes) -> int:
    """A frame's payload length from its second byte and the 0, 2 or 8 bytes after it
    (``extended_size(second)`` of them)."""
    length = second & 0x7F
    if length == 126:
        return int(struct.unpack("!H", extended)[0])
    if length == 127:
        return int(struct.unpack("!Q", extended)[0])
    return length


def extended_size(second: int) -> int:
    """How many length bytes follow a frame's second byte."""
    return {126: 2, 127: 8}.get(second & 0x7F, 0)


class WebSocketError(OSError):
    """The connection failed, was closed, or the peer broke the protocol."""


class WebSocket:
    """One client connection; not thread-safe (use it from one thread)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()

    @classmethod
    def connect(cls, host: str, port: int, path: str, timeout_s: float) -> WebSocket:
        """Open ``ws://host:port/path`` (raises WebSocketError or OSError on failure)."""
        sock = socket.create_connection((host, port), timeout=timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = cls(sock)
        try:
            connection._handshake(host, port, path)
        except BaseException:
            sock.close()
            raise
        return connection

    def _handshake(self, host: str, port: int, path: str) -> None:
        key = base64.b64encode(os.urandom(16))
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        self._sock.sendall(request.encode("ascii"))
        while b"\r\n\r\n" not in self._buffer:
            self._fill()
            if len(self._buffer) > 65536:
                raise WebSocketError("the WebSocket handshake answer is too long")
        head, _, rest = bytes(self._buffer).partition(b"\r\n\r\n")
        self._buffer = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise WebSocketError(f"the WebSocket handshake was refused: {lines[0]}")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:])
        }
        if headers.get("sec-websocket-accept") != accept_key(key):
            raise WebSocketError("the WebSocket handshake answer has a wrong accept key")

    def settimeout(self, timeout_s: float) -> None:
        """Timeout of each later socket operation."""
        self._sock.settimeout(timeout_s)

    def send_text(self, text: str) -> None:
        """Send one text message."""
        self._send_frame(TEXT, text.encode("utf-8"))

    def receive_text(self) -> str:
        """The next text (or binary, decoded) message; answers pings on the way."""
        parts: list[bytes] = []
        size = 0
        while True:
            final, opcode, payload = self._read_frame()
            if opcode == PING:
                self._send_frame(PONG, payload)
                continue
            if opcode == PONG:
                continue
            if opcode == CLOSE:
                raise WebSocketError("the browser closed the DevTools connection")
            if opcode not in (TEXT, BINARY, CONTINUATION):
                raise WebSocketError(f"unexpected WebSocket opcode {opcode}")
            parts.append(payload)
            size += len(payload)
            if size > MAX_MESSAGE_BYTES:
                raise WebSocketError("a DevTools message is too large")
            if final:
                return b"".join(parts).decode("utf-8", "replace")

    def close(self) -> None:
        """Send a close frame (best effort) and close the socket."""
        with contextlib.suppress(OSError):
            self._send_frame(CLOSE, struct.pack("!H", 1000))
        self._sock.close()

    # ---- frames ----
    def _send_frame(self, opcode: int, payload: bytes) -> None:
        self._sock.sendall(encode_frame(opcode, payload, masked=True))

    def _read_frame(self) -> tuple[bool, int, bytes]:
        first, second = self._take(2)
        length = frame_length(second, self._take(extended_size(second)))
        if length > MAX_MESSAGE_BYTES:
            raise WebSocketError("a DevTools frame is too large")
        mask = self._take(4) if second & 0x80 else b""
        payload = self._take(length)
        if mask:
            payload = unmask(payload, mask)
        return bool(first & 0x80), first & 0x0F, payload

    def _take(self, count: int) -> bytes:
        while len(self._buffer) < count:
            self._fill()
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    def _fill(self) -> None:
        chunk = self._sock.recv(1 << 20)
        if not chunk:
            raise WebSocketError("the DevTools connection closed")
        self._buffer += chunk
