"""``POST /``: the RPC endpoint every action goes through, as a bare ASGI application.

It is the runtime's hot path (every tool call, every chunk of a file read), so it reads the
scope and the body itself instead of going through Starlette's routing, middleware and
request objects: that stack was about a third of the runtime's CPU time per call.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from agentbay.contract import get_logger
from agentbay_local.api.dispatch import dispatch
from agentbay_local.protocol.envelope import ApiError, encode, failure, new_request_id, success
from agentbay_local.protocol.forms import parse_form, read_fields

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from agentbay_local.runtime import Runtime

log = get_logger("agentbay.local")

_JSON_HEADERS = [(b"content-type", b"application/json")]


class ClientGone(Exception):
    """The client disconnected before its request body arrived: nobody to answer."""


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (``name`` in lower case), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body; more than ``limit`` bytes is a 413 (checked while reading)."""
    declared = header(scope, b"content-length")
    too_large = ApiError(413, "RequestTooLarge", f"The request body is larger than {limit} bytes.")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_json(
    send: Send, status: int, body: bytes, retry_after_s: float | None = None
) -> None:
    """Answer ``body`` (JSON) with ``status`` (and ``Retry-After`` when given)."""
    headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode("ascii"))]
    if retry_after_s is not None:
        headers.append((b"retry-after", str(int(retry_after_s)).encode("ascii")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RpcEndpoint:
    """The ASGI application answering ``POST /`` for ``runtime``."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = new_request_id()
        started = time.perf_counter()
        called: list[str] = []  # the action's name, once read
        retry_after_s = None
        try:
            payload, status = await self._answer(request_id, scope, receive, called), 200
        except ClientGone:
            log.debug("the client went away before its request arrived")
            return
        except ApiError as error:
            payload, status = failure(request_id, error), error.status
            retry_after_s = error.retry_after_s
            if retry_after_s is None:  # a throttled flood of bad keys is not logged line by line
                _log_refused(scope, called, error, request_id)
        except Exception:
            log.exception("unexpected failure answering an RPC request (RequestId %s)", request_id)
            internal = ApiError(500, "InternalError", "The local runtime failed; see its log.")
            payload, status = failure(request_id, internal), 500
        await send_json(send, status, encode(payload), retry_after_s)
        if log.isEnabledFor(logging.DEBUG):
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            action = called[0] if called else "?"
            log.debug(
                "%s %d in %.1f ms (RequestId %s)",
                action,
                status,
                duration_ms,
                request_id,
                extra={
                    "event": "api_call",
                    "action": action,
                    "duration_ms": duration_ms,
                    "request_id": request_id,
                },
            )

    async def _answer(
        self, request_id: str, scope: Scope, receive: Receive, called: list[str]
    ) -> dict[str, Any]:
        runtime = self.runtime
        query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        name = query.get("Action") or header(scope, b"x-acs-action") or ""
        called.append(name)
        action = runtime.description.actions.get(name)
        if action is None:
            raise ApiError(
                404,
                "InvalidAction.NotFound",
                f"The action {name!r} does not exist in API version 2025-05-06.",
            )
        form = parse_form(await read_body(scope, receive, runtime.options.max_body_bytes))
        in_query = query.get("Authorization")
        key = (
            (in_query or form.get("Authorization"))
            if action.key_in_query
            else (form.get("Authorization") or in_query)
        )
        client = scope.get("client")
        runtime.keys.check(key, client[0] if client else "")
        data, extra = await dispatch(runtime, name, read_fields(action, form, query))
        return success(request_id, data, **extra)


def _log_refused(scope: Scope, called: list[str], error: ApiError, request_id: str) -> None:
    """One line per refused request (bad key, unknown session, invalid field, ...)."""
    client = scope.get("client")
    where = f"{client[0]}:{client[1]}" if client else "?"
    action = called[0] if called else "?"
    log.info(
        "refused %s from %s: %s %s (RequestId %s)",
        action or "(no action)",
        where,
        error.code,
        error.message,
        request_id,
        extra={
            "event": "refused",
            "action": action,
            "code": error.code,
            "client": where,
            "request_id": request_id,
        },
    )
