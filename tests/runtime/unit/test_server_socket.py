"""The runtime's listening socket: accepted connections must not wait on Nagle's algorithm."""

from __future__ import annotations

import asyncio
import socket

from agentbay_local.server import bind_listener


def test_accepted_connections_have_tcp_nodelay() -> None:
    """Without it every answer written in two parts waits 40 ms for a delayed ACK."""

    async def accepted_nodelay() -> int:
        sock = bind_listener("127.0.0.1", 0)
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted = writer.get_extra_info("socket")
            seen.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(handle, sock=sock)
        async with server:
            _, writer = await asyncio.open_connection(*sock.getsockname())
            value = await asyncio.wait_for(seen, 10)
            writer.close()
        return value

    assert asyncio.run(accepted_nodelay()) != 0
