"""The ASGI app: the RPC endpoint, the VPC tool route, session pages and context file URLs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from html import escape
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from agentbay.contract import get_logger
from agentbay_local.api.rpc import RpcEndpoint, read_body
from agentbay_local.contexts.files import ContextPathError, ContextQuotaError, clean_key
from agentbay_local.protocol.envelope import ApiError, encode, new_request_id
from agentbay_local.runtime import Runtime
from agentbay_local.sandbox.answers import ToolAnswer
from agentbay_local.sessions import desktop, live_view
from agentbay_local.sessions.resource_page import PAGE_PATH

log = get_logger("agentbay.local")


#: Bytes written to (or read from) disk per thread hop when files are streamed.
WRITE_BLOCK = 1024 * 1024


def _descriptor_response(fd: int, media_type: str) -> Response:
    """Stream the file open at ``fd`` (closed when done), 1 MiB per thread hop.

    Served from the descriptor opened where the file was checked, never reopened by path.
    """
    size = os.fstat(fd).st_size

    async def body() -> AsyncIterator[bytes]:
        try:
            left = size
            while left > 0:
                chunk = await asyncio.to_thread(os.read, fd, min(WRITE_BLOCK, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk
        finally:
            os.close(fd)

    return StreamingResponse(body(), media_type=media_type, headers={"Content-Length": str(size)})


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(encode(payload), status_code=status, media_type="application/json")


def _storage_error(error: ApiError) -> Response:
    """A file URL's error as object storage words it: a short XML body with Code and Message."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        f"<RequestId>{new_request_id()}</RequestId></Error>\n"
    )
    return Response(body, status_code=error.status, media_type="application/xml")


class RuntimeApp:
    """The runtime's ASGI application: ``POST /`` straight to the RPC endpoint, the rest
    (VPC route, session pages, file URLs, lifespan) through Starlette's routing."""

    def __init__(self, rpc: RpcEndpoint, routed: Starlette) -> None:
        self.rpc = rpc
        self.routed = routed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] == "POST":
            await self.rpc(scope, receive, send)
        else:
            await self.routed(scope, receive, send)


def build_app(runtime: Runtime) -> RuntimeApp:
    """The ASGI application serving ``runtime``."""
    rpc = RpcEndpoint(runtime)

    async def call_by_token(
        session_id: str, tool: str, server: str, args: Any, *, reads_today: bool
    ) -> ToolAnswer:
        """One tool call of a direct route (the session found by its token), checked as
        CallMcpTool checks it."""
        known = runtime.description.tools.get(tool)
        if known is not None and server and known.server != server:
            raise ApiError(
                400, "InvalidParameter.server", f"{tool} belongs to server {known.server}."
            )
        return await runtime.tools.call(session_id, tool, args, reads_today=reads_today)

    async def call_tool(request: Request) -> Response:
        """GET /callTool: the VPC route (token instead of API key; isError in the data)."""
        query = request.query_params
        session = runtime.store.session_by_token(query.get("token", ""))
        if session is None:
            return _json({"code": 401, "message": "invalid or expired token", "data": None}, 401)
        try:
            args = json.loads(query.get("args") or "{}")
            tool, server = query.get("tool", ""), query.get("server", "")
            answer = await call_by_token(session.id, tool, server, args, reads_today=False)
        except ValueError as exc:
            return _json({"code": 400, "message": f"args is not JSON: {exc}", "data": None}, 400)
        except ApiError as error:
            return _json({"code": error.status, "message": error.message, "data": None}, 400)
        return _json({"code": 200, "message": "", "data": answer})

    async def call_tool_link(request: Request) -> Response:
        """POST /callTool: the LinkUrl route of 0.15+ clients (``serve --link-url``). A JSON
        body ``{tool, args, server, token, requestId}`` with the token also in
        ``X-Access-Token``; the tool's answer is ``data.result``. Its callers read answers as
        0.13+ do (as CallMcpTool with AutoGenSession): shell's JSON, run_code's kernel. A
        refusal of the call itself (a paused session, bad arguments) is an ``isError``
        result with its code and message, which the clients report (an HTTP error they
        would report by its status alone)."""
        try:
            body = json.loads(
                await read_body(request.scope, request.receive, runtime.options.max_body_bytes)
            )
        except ApiError as error:
            return _json({"code": error.status, "message": error.message, "data": None}, 413)
        except ValueError as exc:
            return _json(
                {"code": 400, "message": f"the body is not JSON: {exc}", "data": None}, 400
            )
        if not isinstance(body, dict):
            return _json(
                {"code": 400, "message": "the body must be a JSON object", "data": None}, 400
            )
        token = request.headers.get("x-access-token") or str(body.get("token") or "")
        session = runtime.store.session_by_token(token)
        if session is None or body.get("token", token) != token:
            return _json({"code": 401, "message": "invalid or expired token", "data": None}, 401)
        request_id = str(body.get("requestId") or new_request_id())
        tool, server = str(body.get("tool") or ""), str(body.get("server") or "")
        try:
            args = body.get("args", {})
            if isinstance(args, str):  # an args JSON text, as the VPC route takes it
                args = json.loads(args or "{}")
            answer = await call_by_token(session.id, tool, server, args, reads_today=True)
        except ValueError as exc:
            answer = ToolAnswer.error(f"InvalidParameter.Args: args is not JSON: {exc}")
        except ApiError as error:
            answer = ToolAnswer.error(f"{error.code}: {error.message}")
        result = {"code": 200, "message": "", "requestId": request_id}
        return _json({**result, "data": {"result": answer.value}})

    def _signed_key(request: Request, method: str) -> tuple[str, Any]:
        context_id = request.path_params["context_id"]
        raw_key = request.path_params["key"]  # Starlette has already percent-decoded it
        query = request.query_params
        if not runtime.signer.valid(
            method, context_id, raw_key, query.get("expires", ""), query.get("signature", "")
        ):
            raise ApiError(403, "SignatureDoesNotMatch", "The URL is invalid or has expired.")
        return context_id, clean_key(raw_key)

    async def file_put(request: Request) -> Response:
        try:
            context_id, key = _signed_key(request, "PUT")
            runtime.contexts.existing(context_id)
            tree = runtime.contexts.tree(context_id)
            async with runtime.contexts.lock(context_id):
                runtime.contexts.refuse_if_mounted(context_id, "this upload")
                writer = await asyncio.to_thread(tree.open_writer, key)
                try:
                    declared = request.headers.get("content-length", "")
                    if declared.isdigit():  # refused before a byte of it is read
                        writer.reserve(int(declared))
                    # The server hands the body over in pieces of about 64 KiB; a thread hop
                    # per piece would cost more than the write itself.
                    block = bytearray()
                    async for chunk in request.stream():
                        block += chunk
                        if len(block) >= WRITE_BLOCK:
                            await asyncio.to_thread(writer.write, bytes(block))
                            block.clear()
                    if block:
                        await asyncio.to_thread(writer.write, bytes(block))
                    await asyncio.to_thread(writer.commit)
                except BaseException:
                    await asyncio.to_thread(writer.abort)
                    raise
        except ApiError as error:
            return _storage_error(error)
        except ContextPathError as exc:
            return _storage_error(ApiError(400, "InvalidPath", str(exc)))
        except ContextQuotaError as exc:
            return _storage_error(ApiError(413, "ContextQuotaExceeded", str(exc)))
        return Response(status_code=200, headers={"ETag": f'"{writer.written:x}"'})

    async def file_get(request: Request) -> Response:
        try:
            context_id, key = _signed_key(request, "GET")
            known = runtime.store.context(context_id) is not None
            tree = runtime.contexts.tree(context_id)
            fd = await asyncio.to_thread(tree.open_file, key) if known else None
            if fd is None:
                raise ApiError(404, "NoSuchKey", "The specified key does not exist.")
        except ApiError as error:
            return _storage_error(error)
        except ContextPathError as exc:
            return _storage_error(ApiError(400, "InvalidPath", str(exc)))
        return _descriptor_response(fd, "application/octet-stream")

    async def screenshot_get(request: Request) -> Response:
        """GET /screenshots/<session>/<key>: a system_screenshot PNG, by signed URL."""
        query = request.query_params
        png = await asyncio.to_thread(
            desktop.screenshot_png,
            runtime.signer,
            runtime.sandboxes,
            request.path_params["session_id"],
            request.path_params["key"],
            query.get("expires", ""),
            query.get("signature", ""),
        )
        if png is None:
            error = ApiError(404, "NoSuchKey", "The screenshot does not exist or the URL expired.")
            return _storage_error(error)
        return Response(png, media_type="image/png")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.close()

    routed = Starlette(
        routes=[
            Route("/", rpc, methods=["POST"]),  # other methods: 405
            Route("/callTool", call_tool, methods=["GET"]),
            Route("/callTool", call_tool_link, methods=["POST"]),
            Route(PAGE_PATH, runtime.page.handle, methods=["GET"]),
            Route(live_view.FRAME_PATH, runtime.page.frame, methods=["GET"]),
            Route(live_view.INPUT_PATH, runtime.page.input, methods=["POST"]),
            Route("/files/{context_id}/{key:path}", file_put, methods=["PUT"]),
            Route("/files/{context_id}/{key:path}", file_get, methods=["GET"]),
            Route("/screenshots/{session_id}/{key:path}", screenshot_get, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    return RuntimeApp(rpc, routed)
