"""The ASGI app: the RPC endpoint, the VPC tool route, session pages and context file URLs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from agentbay.local.actions import dispatch
from agentbay.local.context_files import ContextPathError, clean_key
from agentbay.local.envelope import ApiError, failure, new_request_id, success
from agentbay.local.forms import parse_form, read_fields
from agentbay.local.runtime import Runtime

log = logging.getLogger("agentbay.local")


#: Bytes written to (or read from) disk per thread hop when files are streamed.
WRITE_BLOCK = 1024 * 1024


class _BlockFileResponse(FileResponse):
    """A FileResponse that reads 1 MiB per thread hop instead of 64 KiB."""

    chunk_size = WRITE_BLOCK


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False), status_code=status, media_type="application/json"
    )


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "RequestTooLarge", f"The request body is larger than {limit} bytes.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(
                413, "RequestTooLarge", f"The request body is larger than {limit} bytes."
            )
        chunks.append(chunk)
    return b"".join(chunks)


def build_app(runtime: Runtime) -> Starlette:
    """The Starlette application serving ``runtime``."""

    async def rpc(request: Request) -> Response:
        request_id = new_request_id()
        try:
            name = request.query_params.get("Action") or request.headers.get("x-acs-action", "")
            action = runtime.description.actions.get(name)
            if action is None:
                raise ApiError(
                    404,
                    "InvalidAction.NotFound",
                    f"The action {name!r} does not exist in API version 2025-05-06.",
                )
            form = parse_form(await _read_body(request, runtime.options.max_body_bytes))
            in_query = request.query_params.get("Authorization")
            key = (
                (in_query or form.get("Authorization"))
                if action.key_in_query
                else (form.get("Authorization") or in_query)
            )
            runtime.keys.check(key)
            fields = read_fields(action, form)
            data, extra = await dispatch(runtime, name, fields)
            return _json(success(request_id, data, **extra))
        except ApiError as error:
            return _json(failure(request_id, error), error.status)
        except Exception:
            log.exception("unexpected failure answering %s", request.url.path)
            internal = ApiError(500, "InternalError", "The local runtime failed; see its log.")
            return _json(failure(request_id, internal), 500)

    async def call_tool(request: Request) -> Response:
        """GET /callTool: the VPC route (token instead of API key; isError in the data)."""
        query = request.query_params
        session = runtime.store.session_by_token(query.get("token", ""))
        if session is None:
            return _json({"code": 401, "message": "invalid or expired token", "data": None}, 401)
        try:
            args = json.loads(query.get("args") or "{}")
            tool = query.get("tool", "")
            known = runtime.description.tools.get(tool)
            if known is not None and query.get("server") and known.server != query["server"]:
                raise ApiError(
                    400, "InvalidParameter.server", f"{tool} belongs to server {known.server}."
                )
            data = await runtime.sessions.call_tool(session.id, tool, args)
        except ValueError as exc:
            return _json({"code": 400, "message": f"args is not JSON: {exc}", "data": None}, 400)
        except ApiError as error:
            return _json({"code": error.status, "message": error.message, "data": None}, 400)
        return _json({"code": 200, "message": "", "data": data})

    async def session_page(request: Request) -> Response:
        row = runtime.store.session(request.path_params["session_id"])
        if row is None:
            return JSONResponse({"error": "no such session"}, 404)
        return JSONResponse({"SessionId": row.id, "Status": row.status, "ImageId": row.image_id})

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
                writer = await asyncio.to_thread(tree.open_writer, key)
                try:
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
            return _json(failure(new_request_id(), error), error.status)
        except ContextPathError as exc:
            return _json(failure(new_request_id(), ApiError(400, "InvalidPath", str(exc))), 400)
        return Response(status_code=200, headers={"ETag": f'"{writer.written:x}"'})

    async def file_get(request: Request) -> Response:
        try:
            context_id, key = _signed_key(request, "GET")
            path = runtime.contexts.tree(context_id).file_path(key)
            if path is None:
                raise ApiError(404, "NoSuchKey", "The file is not in the context.")
        except ApiError as error:
            return _json(failure(new_request_id(), error), error.status)
        except ContextPathError as exc:
            return _json(failure(new_request_id(), ApiError(400, "InvalidPath", str(exc))), 400)
        return _BlockFileResponse(path, media_type="application/octet-stream")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.close()

    return Starlette(
        routes=[
            Route("/", rpc, methods=["POST"]),
            Route("/callTool", call_tool, methods=["GET"]),
            Route("/sessions/{session_id}", session_page, methods=["GET"]),
            Route("/files/{context_id}/{key:path}", file_put, methods=["PUT"]),
            Route("/files/{context_id}/{key:path}", file_get, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
