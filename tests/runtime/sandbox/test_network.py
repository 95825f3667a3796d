"""Each isolated session has a network namespace of its own: real escape attempts.

Traffic stays on this machine: the servers below listen on the host's loopback (several
127.x addresses) and inside sessions; nothing is ever sent to any other address.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator

import pytest

from agentbay_local.sandbox import Sandbox
from tests.runtime.sandbox.conftest import Env

#: Prints "connected" or the error's name for one TCP connect from inside a session.
PROBE = (
    "import socket, sys\n"
    "try:\n"
    "    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()\n"
    "    print('connected')\n"
    "except OSError as exc:\n"
    "    print(type(exc).__name__)\n"
)
#: Serves one line ("<hostname>") to every connection on a port, in the background.
SERVE = (
    "import socket, sys\n"
    "server = socket.create_server(('127.0.0.1', int(sys.argv[1])))\n"
    "print('listening', flush=True)\n"
    "while True:\n"
    "    connection, _ = server.accept()\n"
    "    connection.sendall(socket.gethostname().encode() + b'\\n')\n"
    "    connection.close()\n"
)


@pytest.fixture(scope="module")
def pair(env: Env) -> Iterator[tuple[Sandbox, Sandbox]]:
    """Two sessions of the same manager."""
    first, second = env.session("net"), env.session("net")
    yield first, second
    env.release(first)
    env.release(second)


def _connect_from(env: Env, box: Sandbox, host: str, port: int) -> str:
    env.text(box, "write_file", path="/tmp/probe.py", content=PROBE)
    return env.sh(box, f"python3 /tmp/probe.py {host} {port}").strip()


def _serve_in(env: Env, box: Sandbox, port: int) -> None:
    env.text(box, "write_file", path="/tmp/serve.py", content=SERVE)
    env.sh(
        box,
        f"(python3 /tmp/serve.py {port} > /tmp/serve.log 2>&1 &) ; "
        "for i in $(seq 100); do grep -q listening /tmp/serve.log && exit 0; sleep 0.05; done; "
        "exit 1",
    )


def test_own_interfaces_loopback_up(env: Env, pair: tuple[Sandbox, Sandbox]) -> None:
    first, second = pair
    nat = env.manager.network.mode == "egress"  # its interface; test_egress tests "none"
    links = env.sh(first, "ls /sys/class/net")
    assert links.split() == (["lo", "tap0"] if nat else ["lo"])
    assert int(env.sh(first, "cat /sys/class/net/lo/flags"), 16) & 1  # IFF_UP
    routes = env.sh(first, "cat /proc/net/route").splitlines()[1:]  # after the header
    assert {route.split()[0] for route in routes} == ({"tap0"} if nat else set())
    assert env.sh(first, "readlink /proc/self/ns/net") != env.sh(
        second, "readlink /proc/self/ns/net"
    )
    assert env.sh(first, "readlink /proc/self/ns/net").strip() != os.readlink("/proc/self/ns/net")


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "127.31.7.9"])
def test_host_loopback_servers_are_unreachable(
    env: Env, pair: tuple[Sandbox, Sandbox], address: str
) -> None:
    first, _ = pair
    server = socket.create_server((address, 0))
    server.setblocking(False)
    port = server.getsockname()[1]
    try:
        # The session's 127.0.0.0/8 is its own loopback, where nothing listens on that port.
        assert _connect_from(env, first, address, port) == "ConnectionRefusedError"
        with pytest.raises(BlockingIOError):
            server.accept()  # nothing arrived at the host's server either
    finally:
        server.close()


def test_sessions_have_their_own_ports(env: Env, pair: tuple[Sandbox, Sandbox]) -> None:
    first, second = pair
    _serve_in(env, first, 30100)
    # The second session cannot reach the first one's server...
    assert _connect_from(env, second, "127.0.0.1", 30100) == "ConnectionRefusedError"
    # ...and can listen on the same port itself.
    _serve_in(env, second, 30100)
    assert _connect_from(env, first, "127.0.0.1", 30100) == "connected"

    async def greeting(box: Sandbox) -> bytes:
        connection = await box.open_port_connection(30100, timeout_s=5)
        reader, writer = await asyncio.open_connection(sock=connection)
        try:
            return await asyncio.wait_for(reader.readline(), 5)
        finally:
            writer.close()

    assert env.run(greeting(first)) == f"{first.session_id}\n".encode()
    assert env.run(greeting(second)) == f"{second.session_id}\n".encode()


def test_port_connection_errors(env: Env, pair: tuple[Sandbox, Sandbox]) -> None:
    first, _ = pair
    with pytest.raises(ConnectionRefusedError):
        env.run(first.open_port_connection(30199, timeout_s=5))
    with pytest.raises(ValueError):
        env.run(first.open_port_connection(0, timeout_s=5))


def test_released_session_gives_no_connection(env: Env) -> None:
    box = env.session("gone")
    _serve_in(env, box, 30100)
    env.run(box.open_port_connection(30100, timeout_s=5)).close()
    env.release(box)
    with pytest.raises(ConnectionError):
        env.run(box.open_port_connection(30100, timeout_s=5))


def test_no_packet_sockets(env: Env, pair: tuple[Sandbox, Sandbox]) -> None:
    first, _ = pair
    text = env.error(
        first,
        "run_code",
        language="python",
        code="import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW)",
    )
    assert "PermissionError" in text
