"""``GetLink`` URLs: one routing listener forwarding HTTP and WebSocket traffic into sessions.

A link is ``http://<host>:<link port>/<token>/``: ``token`` (192 random bits) names one
port of one session, so another local user who can reach the host's loopback cannot guess
a link. Each request on a connection must start its path with a known token; the proxy
strips it, opens a connection into the session's own network namespace
(``Sandbox.open_port_connection``) on the first request, and from then on forwards bytes.

Why one listener routing by path, not one per link: the token has to be checked anyway (a
port number alone is guessable), one fixed port is one firewall rule, and closing a link
is removing a table entry and closing its connections, with no listener to leak per link.

Requests (client to session) are parsed just enough to find each request's head and
rewrite its target: bodies pass through as framed (``Content-Length`` or chunked). The
answers (session to client) are spliced raw. A request asking for ``Upgrade``
(WebSocket) switches the connection to a raw splice both ways once its head is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from agentbay.contract import get_logger
from agentbay_local.sandbox import Sandbox

log = get_logger("agentbay.local.links")

#: Longest request head accepted (431 beyond).
MAX_HEAD_BYTES = 64 * 1024
#: A new connection must send its first request head within this.
FIRST_HEAD_TIMEOUT_S = 30.0
#: An idle keep-alive connection (between requests) is closed after this.
IDLE_TIMEOUT_S = 300.0
#: How long connecting into the session may take.
CONNECT_TIMEOUT_S = 10.0
_CHUNK = 256 * 1024


#: Serves a connection whose first request head names a path the runtime serves itself.
PathHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Awaitable[None]]


@dataclass(frozen=True)
class Link:
    """One session port reachable from the host."""

    token: str
    session_id: str
    port: int


@dataclass
class _SessionLinks:
    links: dict[int, Link] = field(default_factory=dict)
    connections: set[asyncio.StreamWriter] = field(default_factory=set)


class LinkProxy:
    """The link table and the routing listener of one runtime.

    ``sandbox_of`` finds a running session's sandbox (None once it is gone).
    """

    def __init__(self, sandbox_of: Callable[[str], Sandbox | None]) -> None:
        self._sandbox_of = sandbox_of
        self._by_token: dict[str, Link] = {}
        self._by_session: dict[str, _SessionLinks] = {}
        self._server: asyncio.Server | None = None
        self._paths: dict[bytes, PathHandler] = {}
        self.host = "127.0.0.1"
        self.port = 0

    def serve_path(self, prefix: str, handler: PathHandler) -> None:
        """Hand connections whose first request's path starts with ``prefix`` to
        ``handler`` (the session WebSocket); link tokens never look like it."""
        self._paths[prefix.encode()] = handler

    def origin(self, scheme: str = "http") -> str:
        """``scheme://host:port`` of the listener."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    async def start(self, host: str, port: int = 0) -> None:
        """Listen on ``host:port`` (0: a free port, chosen by the system)."""
        self._server = await asyncio.start_server(
            self._serve, host, port, limit=MAX_HEAD_BYTES, reuse_address=True
        )
        self.host = host
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and close every link."""
        for session_id in list(self._by_session):
            self.close_session(session_id)
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    def link(self, session_id: str, port: int) -> Link:
        """The link of one port of a session (the same one each time it is asked for)."""
        entry = self._by_session.setdefault(session_id, _SessionLinks())
        existing = entry.links.get(port)
        if existing is not None:
            return existing
        created = Link(secrets.token_urlsafe(24), session_id, port)
        entry.links[port] = created
        self._by_token[created.token] = created
        return created

    def url(self, link: Link, scheme: str = "http") -> str:
        """The URL of a link (``scheme`` ``http`` or ``ws``)."""
        return f"{self.origin(scheme)}/{link.token}/"

    def close_session(self, session_id: str) -> None:
        """Forget a session's links and cut their open connections (at release)."""
        entry = self._by_session.pop(session_id, None)
        if entry is None:
            return
        for item in entry.links.values():
            self._by_token.pop(item.token, None)
        for writer in list(entry.connections):
            writer.close()

    # ---- one client connection ----
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        entry: _SessionLinks | None = None
        try:
            head = await _read_head(reader, FIRST_HEAD_TIMEOUT_S)
            if head is None:
                return
            path = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b""
            for prefix, handler in self._paths.items():
                if path.startswith(prefix):
                    await handler(reader, writer, head)
                    return
            link, head = self._route(head, None)
            if link is None:
                await refuse(writer, 404, "no such link (it may have closed with its session)")
                return
            sandbox = self._sandbox_of(link.session_id)
            entry = self._by_session.get(link.session_id)
            if sandbox is None or entry is None:
                await refuse(writer, 404, "no such link (it may have closed with its session)")
                return
            try:
                connection = await sandbox.open_port_connection(link.port, CONNECT_TIMEOUT_S)
            except (OSError, ValueError) as exc:
                message = f"nothing answers on port {link.port} of the session: {exc}"
                await refuse(writer, 502, message)
                return
            entry.connections.add(writer)
            up_reader, upstream = await asyncio.open_connection(sock=connection, limit=_CHUNK)
            entry.connections.add(upstream)
            answers = asyncio.ensure_future(_splice(up_reader, writer))
            requests = asyncio.ensure_future(self._forward_requests(reader, upstream, head, link))
            try:
                await asyncio.wait((answers, requests), return_when=asyncio.FIRST_COMPLETED)
                if answers.done():
                    # The session's server closed the connection: nothing more can be
                    # answered, so the client's further requests are not waited for.
                    answers.result()
                else:
                    requests.result()  # the client is done sending; its answers still come
                    await answers
            finally:
                answers.cancel()
                requests.cancel()
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except Exception:  # one connection's failure must never take the listener down
            log.exception("link connection failed")
        finally:
            for end in (writer, upstream):
                if end is not None:
                    if entry is not None:
                        entry.connections.discard(end)
                    end.close()

    def _route(self, head: bytes, current: Link | None) -> tuple[Link | None, bytes]:
        """The link a request head names and the head with the token taken out of its target.

        On a connection already routed (``current``), a target without a token goes to the
        same link unchanged, and another link's token is refused.
        """
        line_end = head.find(b"\r\n")
        parts = head[:line_end].split(b" ")
        if len(parts) != 3 or not parts[1].startswith(b"/"):
            return None, head
        target = parts[1]
        token, slash, rest = target[1:].partition(b"/")
        token, query, tail = token.partition(b"?")
        link = self._by_token.get(token.decode("ascii", "replace"))
        if link is None:
            return current, head
        if current is not None and link != current:
            return None, head
        new_target = b"/" + rest if slash else b"/"
        if query and not slash:
            new_target += b"?" + tail
        return link, b" ".join((parts[0], new_target, parts[2])) + head[line_end:]

    async def _forward_requests(
        self,
        reader: asyncio.StreamReader,
        upstream: asyncio.StreamWriter,
        head: bytes,
        link: Link,
    ) -> None:
        while True:
            upstream.write(head)
            headers = request_headers(head)
            if "upgrade" in headers:
                await upstream.drain()
                await _splice(reader, upstream)
                return
            await _forward_body(reader, upstream, headers)
            await upstream.drain()
            next_head = await _read_head(reader, IDLE_TIMEOUT_S)
            if next_head is None:
                if upstream.can_write_eof():
                    upstream.write_eof()
                return
            routed, head = self._route(next_head, link)
            if routed is None:
                raise ConnectionError("another link's token on a routed connection")


async def _read_head(reader: asyncio.StreamReader, timeout_s: float) -> bytes | None:
    """The next request head (through its blank line), or None at a clean end of file."""
    try:
        async with asyncio.timeout(timeout_s):
            return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise
        return None
    except asyncio.LimitOverrunError:
        raise ConnectionError("request head too large") from None


def request_headers(head: bytes) -> dict[str, str]:
    """Lower-cased header names to values (the last one wins)."""
    found: dict[str, str] = {}
    for line in head.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon:
            found[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return found


async def _forward_body(
    reader: asyncio.StreamReader, upstream: asyncio.StreamWriter, headers: dict[str, str]
) -> None:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size_line = await reader.readuntil(b"\r\n")
            upstream.write(size_line)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers, up to the blank line
                    trailer = await reader.readuntil(b"\r\n")
                    upstream.write(trailer)
                    if trailer == b"\r\n":
                        return
            await _copy_exactly(reader, upstream, size + 2)
        return
    length = headers.get("content-length", "0").strip() or "0"
    if not length.isdigit():
        raise ConnectionError("bad Content-Length")
    await _copy_exactly(reader, upstream, int(length))


async def _copy_exactly(
    reader: asyncio.StreamReader, upstream: asyncio.StreamWriter, count: int
) -> None:
    while count:
        data = await reader.read(min(count, _CHUNK))
        if not data:
            raise asyncio.IncompleteReadError(b"", count)
        count -= len(data)
        upstream.write(data)
        await upstream.drain()


async def _splice(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of file, then pass the end of file on."""
    while True:
        data = await reader.read(_CHUNK)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    if writer.can_write_eof():
        with contextlib.suppress(OSError):
            writer.write_eof()


async def refuse(writer: asyncio.StreamWriter, status: int, message: str) -> None:
    """Answer a request with an error and ``message`` (the connection then closes)."""
    reason = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        409: "Conflict",
        502: "Bad Gateway",
    }.get(status, "Error")
    body = (message + "\n").encode()
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    with contextlib.suppress(ConnectionError):
        await writer.drain()
