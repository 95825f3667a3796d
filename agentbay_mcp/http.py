"""``agentbay mcp --http HOST:PORT``: streamable HTTP, behind a bearer token, loopback by
default.

Each MCP connection (``Mcp-Session-Id``) gets a session of its own, deleted when the
connection ends: the client's DELETE, its idle timeout (a client killed without a goodbye is
idle), or the server stopping (SIGINT/SIGTERM).
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import uvicorn
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE
from starlette.types import ASGIApp, Receive, Scope, Send

from agentbay_mcp.options import ServeOptions
from agentbay_mcp.server import ConnectionScope, build_server
from agentbay_mcp.sessions import Backend

#: The bearer token, when given by the environment.
TOKEN_ENV = "AGENTBAY_MCP_TOKEN"
#: The MCP endpoint's path.
MCP_PATH = "/mcp"
_UNAUTHORIZED = (
    b'{"jsonrpc":"2.0","id":null,"error":{"code":-32001,'
    b'"message":"missing or wrong bearer token (Authorization: Bearer <token>)"}}'
)
_TOO_LARGE = (
    b'{"jsonrpc":"2.0","id":null,"error":{"code":-32600,'
    b'"message":"request body too large: at most %d bytes"}}' % DEFAULT_MAX_REQUEST_BODY_SIZE
)


def resolve_token(token_file: Path | None) -> tuple[str, bool]:
    """The bearer token: from ``token_file``, else ``AGENTBAY_MCP_TOKEN``, else a new one;
    and whether it was generated (then the caller prints it, once).

    Raises:
        ValueError: the file is unreadable or empty.
    """
    if token_file is not None:
        try:
            token = token_file.read_text().strip()
        except OSError as exc:
            raise ValueError(f"cannot read the token file {token_file}: {exc}") from exc
        if not token:
            raise ValueError(f"the token file {token_file} is empty")
        return token, False
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return token, False
    return secrets.token_urlsafe(32), True


class BearerToken:
    """ASGI middleware: every request carries ``Authorization: Bearer <token>`` (compared in
    constant time) or is answered 401 with a JSON-RPC error; a body announced larger than the
    ``mcp`` package accepts is answered 413 with a JSON-RPC error (its own answer is plain
    text)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            if not hmac.compare_digest(headers.get(b"authorization", b""), self._expected):
                await _answer(send, 401, _UNAUTHORIZED, [(b"www-authenticate", b"Bearer")])
                return
            length = headers.get(b"content-length", b"0")
            if length.isdigit() and int(length) > DEFAULT_MAX_REQUEST_BODY_SIZE:
                await _answer(send, 413, _TOO_LARGE, [])
                return
        await self.app(scope, receive, send)


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


def http_app(options: ServeOptions, token: str, host: str) -> Any:
    """The ASGI app: the MCP endpoint at ``/mcp`` behind the bearer token (DNS-rebinding
    protection on for loopback hosts, as the ``mcp`` package sets it)."""
    backend = Backend(options)
    server = build_server(backend, ConnectionScope(backend), stateful_only=True)
    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        session_idle_timeout=options.idle_timeout_s,
        host=host,
    )
    return BearerToken(app, token)


def serve_http(options: ServeOptions, host: str, port: int, token_file: Path | None) -> int:
    """Serve MCP over streamable HTTP until SIGINT/SIGTERM; the exit status."""
    try:
        token, generated = resolve_token(token_file)
    except ValueError as exc:
        print(f"agentbay mcp: {exc}", file=sys.stderr)
        return 2
    if generated:
        print(f"agentbay mcp: bearer token (shown once): {token}", file=sys.stderr, flush=True)
    shown_host = f"[{host}]" if ":" in host else host
    print(
        f"agentbay mcp: serving http://{shown_host}:{port}{MCP_PATH}", file=sys.stderr, flush=True
    )
    config = uvicorn.Config(
        http_app(options, token, host), host=host, port=port, log_level="warning", lifespan="on"
    )
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it handled
        uvicorn.Server(config).run()
    return 0
