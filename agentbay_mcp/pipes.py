"""stdin and stdout as asyncio pipes: the stdio transport without a thread per message.

The ``mcp`` package's stdio transport reads each line and writes each message through a
worker thread (three thread hops a tool call); these are the same streams (validated
``SessionMessage``s in, or the exception a bad line raised; messages out, one JSON line each)
on the event loop itself. As that transport does, fd 0 reads the null device and fd 1 writes
to stderr while serving, so stray output of the embedded runtime or of child processes never
reaches the wire.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import mcp_types as types
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from mcp.shared.message import SessionMessage

#: A message line may be at most this long; a longer one is dropped and reported.
MAX_LINE_BYTES = 16 * 1024 * 1024
_CHUNK = 64 * 1024


class LineTooLong(ValueError):
    """A message line longer than ``MAX_LINE_BYTES``."""


def usable() -> bool:
    """Whether stdin and stdout are pipes or sockets (what MCP clients give a server)."""
    try:
        modes = [os.fstat(fd).st_mode for fd in (0, 1)]
    except OSError:
        return False
    return all(stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) for mode in modes)


@asynccontextmanager
async def pipe_streams() -> AsyncIterator[
    tuple[ObjectReceiveStream[SessionMessage | Exception], ObjectSendStream[SessionMessage]]
]:
    """The client's messages and the server's, over this process's stdin and stdout."""
    in_fd, out_fd = os.dup(0), os.dup(1)
    saved_in, saved_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_CHUNK)
    read_pipe = os.fdopen(in_fd, "rb", buffering=0)
    read_transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), read_pipe
    )
    write_pipe = os.fdopen(out_fd, "wb", buffering=0)
    write_transport, write_protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, write_pipe
    )
    writer = asyncio.StreamWriter(write_transport, write_protocol, None, loop)
    incoming_send, incoming = anyio.create_memory_object_stream[SessionMessage | Exception](16)
    outgoing, outgoing_receive = anyio.create_memory_object_stream[SessionMessage](16)

    async def read_lines() -> None:
        async with incoming_send:
            buffer, dropping = b"", False
            while chunk := await reader.read(_CHUNK):
                buffer += chunk
                while (end := buffer.find(b"\n")) >= 0:
                    line, buffer = buffer[:end], buffer[end + 1 :]
                    if dropping:
                        dropping = False
                    elif line.strip():
                        await incoming_send.send(_message(line))
                if len(buffer) > MAX_LINE_BYTES:
                    buffer, dropping = b"", True
                    await incoming_send.send(LineTooLong(f"a line over {MAX_LINE_BYTES} bytes"))

    async def write_messages() -> None:
        async with outgoing_receive:
            async for message in outgoing_receive:
                data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                writer.write(data.encode() + b"\n")
                await writer.drain()

    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(read_lines)
            tasks.start_soon(write_messages)
            try:
                yield incoming, outgoing
            finally:
                await outgoing.aclose()
                tasks.cancel_scope.cancel()
    finally:
        read_transport.close()
        write_transport.close()
        os.dup2(saved_in, 0)
        os.dup2(saved_out, 1)
        os.close(saved_in)
        os.close(saved_out)


def _message(line: bytes) -> SessionMessage | Exception:
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except Exception as exc:  # what the package's transport passes on: the server answers it
        return exc
