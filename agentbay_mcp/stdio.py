"""``agentbay mcp`` over stdio: what desktop MCP clients start, one client per process.

The session is deleted when the client goes away: end of input (the client closed the pipe or
died: its end of the pipe closes with it), SIGTERM, SIGINT or SIGHUP. A server killed with
SIGKILL cannot delete it; the runtime's idle release frees it then.
"""

from __future__ import annotations

import atexit
import os
import signal

import anyio
import mcp_types as types
from anyio.abc import ObjectSendStream
from mcp.server.stdio import stdio_server
from mcp.shared._stream_protocols import ReadStream, WriteStream
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from agentbay_mcp import pipes
from agentbay_mcp.options import ServeOptions
from agentbay_mcp.pipes import pipe_streams
from agentbay_mcp.server import ProcessScope, build_server
from agentbay_mcp.sessions import Backend


async def serve_stdio(options: ServeOptions) -> None:
    """Serve one MCP client on stdin/stdout until it goes away, then delete its session."""
    backend = Backend(options)
    scope = ProcessScope(backend)
    server = build_server(backend, scope, stateful_only=False)
    try:
        async with anyio.create_task_group() as tasks:

            async def stop_on_signal() -> None:
                with anyio.open_signal_receiver(
                    signal.SIGTERM, signal.SIGINT, signal.SIGHUP
                ) as signals:
                    async for _ in signals:
                        # The package's transport reads stdin in a thread that no cancellation
                        # can interrupt: delete the session, run the exit handlers (an
                        # embedded runtime stops), and leave.
                        await _shutdown(scope, backend)
                        atexit._run_exitfuncs()
                        os._exit(0)

            tasks.start_soon(stop_on_signal)
            transport = pipe_streams() if pipes.usable() else stdio_server()
            async with transport as (read_stream, write_stream):
                sink, checked = anyio.create_memory_object_stream[SessionMessage | Exception](0)
                tasks.start_soon(answer_malformed, read_stream, sink, write_stream)
                await server.run(checked, write_stream, server.create_initialization_options())
            tasks.cancel_scope.cancel()
    finally:
        await _shutdown(scope, backend)


async def _shutdown(scope: ProcessScope, backend: Backend) -> None:
    with anyio.CancelScope(shield=True):
        await scope.the_slot.release()
        await backend.close()


async def answer_malformed(
    lines: ReadStream[SessionMessage | Exception],
    server_input: ObjectSendStream[SessionMessage | Exception],
    output: WriteStream[SessionMessage],
) -> None:
    """Pass the client's messages on to the server, answering each line that is not one with a
    JSON-RPC error (id null: its id cannot be told): the ``mcp`` package's stdio transport
    drops such lines silently, and JSON-RPC asks for -32700 (not JSON) or -32600 (not a
    request)."""
    async with server_input:
        async for item in lines:
            if not isinstance(item, Exception):
                await server_input.send(item)
                continue
            not_json = isinstance(item, ValidationError) and any(
                error["type"] == "json_invalid" for error in item.errors()
            )
            error = (
                types.ErrorData(code=types.PARSE_ERROR, message="Parse error: not JSON")
                if not_json
                else types.ErrorData(code=types.INVALID_REQUEST, message=f"Invalid Request: {item}")
                if isinstance(item, pipes.LineTooLong)
                else types.ErrorData(
                    code=types.INVALID_REQUEST,
                    message="Invalid Request: not a JSON-RPC 2.0 request, notification or response",
                )
            )
            try:
                await output.send(
                    SessionMessage(types.JSONRPCError(jsonrpc="2.0", id=None, error=error))
                )
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return
