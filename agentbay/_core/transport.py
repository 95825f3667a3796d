"""``StdlibTransport``: the sync client's httpx transport, on the standard library's http.client.

httpx's default transport (httpcore with the pure-Python h11 parser) costs about a
millisecond of CPU per request on a 2-core machine; the same exchange through
``http.client`` (whose header parsing and buffered socket I/O are mostly C) costs less than
half of that, and a pipelined file read is bound by exactly that client CPU (see
docs/performance.md). Everything above the transport stays httpx: requests, responses,
timeouts, streaming, and ``httpx.MockTransport`` in tests.

What it does: HTTP/1.1 over pooled keep-alive connections (TLS verified against certifi's
bundle, as httpx does), request bodies as bytes or streamed (Content-Length or chunked),
response bodies streamed, httpx's exception types. A reused connection that the server had
closed is detected before use; a request whose sending fails on one anyway (so the server
cannot have read it) is sent once more on a new connection. A request that was sent whole is
never sent again by the transport.
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
from collections.abc import Iterator

import httpx

#: Most bytes one read of a streamed response body asks the socket for.
READ_BLOCK = 1024 * 1024
#: What sending on a connection the server has closed raises.
_STALE = (BrokenPipeError, ConnectionResetError)

_Key = tuple[str, str, int]


class StdlibTransport(httpx.BaseTransport):
    """An ``httpx.BaseTransport`` sending HTTP/1.1 through pooled ``http.client`` connections.

    Args:
        max_idle_per_host: idle keep-alive connections kept per (scheme, host, port).
        ssl_context: verifies HTTPS servers (default: certifi's bundle, like httpx).
    """

    def __init__(
        self, *, max_idle_per_host: int = 64, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self._max_idle = max_idle_per_host
        self._ssl_context = ssl_context
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._closed = False

    # ---- connections ----
    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            import certifi

            self._ssl_context = ssl.create_default_context(cafile=certifi.where())
        return self._ssl_context

    def _reuse(self, key: _Key) -> http.client.HTTPConnection | None:
        while True:
            with self._lock:
                idle = self._idle.get(key)
                connection = idle.pop() if idle else None
            if connection is None or not _dropped(connection):
                return connection
            connection.close()

    def _connect(self, key: _Key, timeout: float | None) -> http.client.HTTPConnection:
        scheme, host, port = key
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=self._tls()
            )
        elif scheme == "http":
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
        else:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        try:
            connection.connect()
        except TimeoutError as exc:
            raise _closed(
                connection, httpx.ConnectTimeout(f"connecting to {host}:{port} timed out")
            ) from exc
        except OSError as exc:
            raise _closed(
                connection, httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}")
            ) from exc
        return connection

    def _release(self, key: _Key, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if not self._closed and len(idle) < self._max_idle:
                idle.append(connection)
                return
        connection.close()

    # ---- requests ----
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and answer a response whose body streams from the connection."""
        url = request.url
        key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        try:
            body: bytes | None = request.content
        except httpx.RequestNotRead:
            body = None  # streamed: sent once, never replayed
        connection = self._reuse(key)
        if connection is not None:
            try:
                return self._exchange(key, connection, request, body, timeouts)
            except _Replay:
                pass  # the server had closed it: one more try on a new connection
        connection = self._connect(key, timeouts.get("connect"))
        try:
            return self._exchange(key, connection, request, body, timeouts)
        except _Replay as replay:
            raise httpx.WriteError(f"the server closed the connection: {replay}") from replay.cause

    def _exchange(
        self,
        key: _Key,
        connection: http.client.HTTPConnection,
        request: httpx.Request,
        body: bytes | None,
        timeouts: dict[str, float | None],
    ) -> httpx.Response:
        sock = connection.sock
        try:
            sock.settimeout(timeouts.get("write"))
            connection.putrequest(
                request.method,
                request.url.raw_path.decode("ascii"),
                skip_host=True,
                skip_accept_encoding=True,
            )
            for name, value in request.headers.raw:
                connection.putheader(name, value)
            if body is not None:
                connection.endheaders(body)
            else:
                connection.endheaders()
                _send_stream(connection, request)
        except _STALE as exc:
            connection.close()
            if body is not None:  # it cannot have been read whole: safe to send again
                raise _Replay(exc) from exc
            raise httpx.WriteError(f"the server closed the connection: {exc}") from exc
        except TimeoutError as exc:
            raise _closed(
                connection, httpx.WriteTimeout(f"sending the request timed out: {exc}")
            ) from exc
        except OSError as exc:
            raise _closed(
                connection, httpx.WriteError(f"sending the request failed: {exc}")
            ) from exc
        except ValueError as exc:  # a header http.client refuses (control characters)
            raise _closed(connection, httpx.LocalProtocolError(str(exc))) from exc
        try:
            sock.settimeout(timeouts.get("read"))
            response = connection.getresponse()
        except TimeoutError as exc:
            raise _closed(connection, httpx.ReadTimeout(f"no answer in time: {exc}")) from exc
        except http.client.RemoteDisconnected as exc:
            # The request may have been executed: never sent again here (the API client
            # decides, by action, whether a retry is safe).
            raise _closed(
                connection, httpx.RemoteProtocolError(f"the server sent no answer: {exc}")
            ) from exc
        except http.client.HTTPException as exc:  # a status line or headers that are not HTTP
            raise _closed(
                connection,
                httpx.RemoteProtocolError(f"the server's answer is not valid HTTP: {exc!r}"),
            ) from exc
        except OSError as exc:
            raise _closed(connection, httpx.ReadError(f"reading the answer failed: {exc}")) from exc
        return httpx.Response(
            response.status,
            headers=response.getheaders(),
            stream=_ResponseBody(self, key, connection, response),
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": response.reason.encode("latin-1", "replace"),
            },
        )

    def close(self) -> None:
        """Close every idle connection; connections in use close when their response does."""
        with self._lock:
            self._closed = True
            idle = [connection for pool in self._idle.values() for connection in pool]
            self._idle.clear()
        for connection in idle:
            connection.close()


class _Replay(Exception):
    """The request never reached a server that had closed the reused connection."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _ResponseBody(httpx.SyncByteStream):
    """A response body read from its connection; the connection goes back to the pool once
    the body was read to the end."""

    def __init__(
        self,
        transport: StdlibTransport,
        key: _Key,
        connection: http.client.HTTPConnection,
        response: http.client.HTTPResponse,
    ) -> None:
        self._transport = transport
        self._key = key
        self._connection = connection
        self._response = response
        self._complete = False

    def __iter__(self) -> Iterator[bytes]:
        response = self._response
        try:
            while True:
                left = response.length
                block = response.read(min(READ_BLOCK, left) if left is not None else READ_BLOCK)
                if not block:
                    break
                yield block
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"the answer stalled: {exc}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise httpx.ReadError(f"reading the answer failed: {exc}") from exc
        self._complete = True

    def close(self) -> None:
        if self._complete and not self._response.will_close:
            self._transport._release(self._key, self._connection)
        else:
            self._connection.close()


def _closed(connection: http.client.HTTPConnection, error: Exception) -> Exception:
    """Close ``connection`` (it is unusable after ``error``) and hand ``error`` back to raise."""
    connection.close()
    return error


def _send_stream(connection: http.client.HTTPConnection, request: httpx.Request) -> None:
    """Send a streamed request body, framed in chunks unless its length was declared."""
    chunked = "content-length" not in request.headers
    for block in request.stream:  # type: ignore[union-attr]
        if not block:
            continue
        if chunked:
            connection.send(b"%x\r\n%s\r\n" % (len(block), block))
        else:
            connection.send(block)
    if chunked:
        connection.send(b"0\r\n\r\n")


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle connection was closed by the server (readable = EOF or garbage)."""
    sock = connection.sock
    if sock is None:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))
