"""A scripted HTTP/1.1 server on a real socket: records the exact bytes of every request.

For the tests of the sync client's transport: what goes on the wire is read back byte for
byte, and the server can misbehave on cue (close an idle connection, never answer).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx


@dataclass
class RawRequest:
    """One request as it arrived: head bytes, parsed parts and the (de-chunked) body."""

    head: bytes
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    connection: int  # which accepted connection (0, 1, ...) carried it

    @property
    def httpx_headers(self) -> httpx.Headers:
        return httpx.Headers(self.headers)


#: Decides the answer to a request: raw response bytes, or None to close without answering.
Script = Callable[[RawRequest], bytes | None]


def answer(body: bytes = b"{}", status: str = "200 OK", extra: str = "") -> bytes:
    """A complete HTTP/1.1 response with a Content-Length."""
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


@dataclass
class RawServer:
    """Serves ``script`` on 127.0.0.1 until ``stop``; every request lands in ``requests``."""

    script: Script
    requests: list[RawRequest] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def close_idle_connections(self) -> None:
        """Close every accepted connection from the server side (a keep-alive timeout)."""
        for conn in self._open:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # close() alone waits for the reader's file
            conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        self.close_idle_connections()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            number, self.connections = self.connections, self.connections + 1
            self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        reader = conn.makefile("rb")
        try:
            while True:
                request = _read_request(reader, number)
                if request is None:
                    return
                self.requests.append(request)
                reply = self.script(request)
                if reply is None:
                    conn.close()
                    return
                conn.sendall(reply)
        except OSError:
            return


def _read_request(reader: object, number: int) -> RawRequest | None:
    readline = reader.readline  # type: ignore[attr-defined]
    read = reader.read  # type: ignore[attr-defined]
    first = readline()
    if not first:
        return None
    lines = [first]
    while lines[-1] not in (b"\r\n", b""):
        lines.append(readline())
    head = b"".join(lines)
    method, target, _ = first.decode("ascii").split(" ", 2)
    headers = []
    for line in lines[1:-1]:
        name, value = line.decode("latin-1").rstrip("\r\n").split(":", 1)
        headers.append((name, value.strip()))
    lower = {name.lower(): value for name, value in headers}
    if "content-length" in lower:
        body = read(int(lower["content-length"]))
    elif lower.get("transfer-encoding") == "chunked":
        parts = []
        while size := int(readline().strip(), 16):
            parts.append(read(size))
            readline()
        readline()
        body = b"".join(parts)
    else:
        body = b""
    return RawRequest(head, method, target, headers, body, number)
