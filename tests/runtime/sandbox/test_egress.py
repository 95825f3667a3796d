"""Egress by policy, tried for real from inside sessions.

"The internet" is a network namespace this test creates (``ip netns add`` and a veth pair,
addresses in the benchmarking range 198.18.0.0/15 and one link-local pair standing for a
metadata service); traffic goes only there and to the host's loopback, never anywhere else.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentbay_local.sandbox import Sandbox, egress
from agentbay_local.sandbox.egress import NetworkPolicy
from tests.runtime.sandbox.conftest import Env, new_env
from tests.runtime.sandbox.test_network import PROBE
from tests.support.system_parts import skip_unless_installed

#: Answers "internet" to every connection (run inside the test's namespace).
INTERNET = (
    "import socket, sys\n"
    "servers = [socket.create_server((a, int(sys.argv[1]))) for a in sys.argv[2:]]\n"
    "print('listening', flush=True)\n"
    "import selectors\n"
    "selector = selectors.DefaultSelector()\n"
    "for s in servers: selector.register(s, selectors.EVENT_READ)\n"
    "while True:\n"
    "    for key, _ in selector.select():\n"
    "        connection, _ = key.fileobj.accept()\n"
    "        connection.sendall(b'internet\\n')\n"
    "        connection.close()\n"
)
PORT = 8080


@dataclass
class Internet:
    """The test's stand-in for the internet, and the host's end of the link to it."""

    server: str  # an address of a server inside the test's namespace
    metadata: str  # a link-local address of a server there (like a cloud metadata service)
    host_side: str  # the host's own address on the veth (one of the host's addresses)


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, f"ip {' '.join(args)}: exit {done.returncode}: {done.stderr}"


@pytest.fixture(scope="module")
def internet() -> Iterator[Internet]:
    if os.geteuid() != 0:
        pytest.skip("the stand-in internet is a network namespace made by `ip netns add` (root)")
    skip_unless_installed("iproute2")
    pid = os.getpid()
    a, b = pid % 250 + 1, (pid // 250) % 60 * 4
    name, host_if, ns_if = f"abtest{pid}", f"abv{pid}h", f"abv{pid}n"
    world = Internet(f"198.18.{a}.{b + 2}", f"169.254.{a}.{b + 2}", f"198.18.{a}.{b + 1}")
    _ip("netns", "add", name)
    server = None
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", name)
        _ip("addr", "add", f"{world.host_side}/30", "dev", host_if)
        _ip("addr", "add", f"169.254.{a}.{b + 1}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", name, "addr", "add", f"{world.server}/30", "dev", ns_if)
        _ip("-n", name, "addr", "add", f"{world.metadata}/30", "dev", ns_if)
        _ip("-n", name, "link", "set", ns_if, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        argv = ["ip", "netns", "exec", name, sys.executable, "-c", INTERNET, str(PORT)]
        server = subprocess.Popen(
            [*argv, world.server, world.metadata], stdout=subprocess.PIPE, text=True
        )
        assert server.stdout is not None and server.stdout.readline() == "listening\n"
        # The host itself reaches both: what stops a session is its policy, nothing else.
        for address in (world.server, world.metadata):
            with socket.create_connection((address, PORT), timeout=5) as sock:
                assert sock.recv(100) == b"internet\n"
        yield world
    finally:
        if server is not None:
            server.kill()
            server.wait(10)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, timeout=10)


@pytest.fixture(scope="module")
def host_server() -> Iterator[tuple[socket.socket, socket.socket]]:
    """Two servers on the host's loopback: the first one is allowed to sessions."""
    allowed, other = socket.create_server(("127.0.0.1", 0)), socket.create_server(("127.0.0.1", 0))
    for server in (allowed, other):
        server.settimeout(10)
    yield allowed, other
    allowed.close()
    other.close()


@pytest.fixture(scope="module")
def egress_env(
    internet: Internet, host_server: tuple[socket.socket, socket.socket], tmp_path_factory: Any
) -> Iterator[Env]:
    skip_unless_installed("slirp4netns", "nftables")
    problem = egress.egress_problem()
    if problem:
        pytest.skip(f"egress cannot be given here: {problem}")
    allowed_port = host_server[0].getsockname()[1]
    policy = NetworkPolicy("egress", allow_host_ports=(allowed_port,))
    # Made after the veth exists: its host-side address is one of the host's addresses.
    environment = new_env(tmp_path_factory.mktemp("egress"), pool_size=1, network=policy)
    yield environment
    environment.close()


@pytest.fixture(scope="module")
def box(egress_env: Env) -> Sandbox:
    return egress_env.session("egress")


def _connect(env: Env, box: Sandbox, host: str, port: int) -> str:
    env.text(box, "write_file", path="/tmp/probe.py", content=PROBE)
    return env.sh(box, f"python3 /tmp/probe.py {host} {port}").strip()


def test_outbound_connections_reach_the_internet(
    egress_env: Env, box: Sandbox, internet: Internet
) -> None:
    egress_env.text(box, "write_file", path="/tmp/get.py", content=_GET)
    assert egress_env.sh(box, f"python3 /tmp/get.py {internet.server} {PORT}") == "internet\n"
    assert egress_env.sh(box, "cat /etc/resolv.conf") == f"nameserver {egress.NAMESERVER}\n"


def test_link_local_is_never_reachable(egress_env: Env, box: Sandbox, internet: Internet) -> None:
    assert _connect(egress_env, box, internet.metadata, PORT) != "connected"


def test_the_hosts_own_addresses_are_unreachable(
    egress_env: Env, box: Sandbox, internet: Internet
) -> None:
    server = socket.create_server((internet.host_side, 0))
    server.setblocking(False)
    try:
        port = server.getsockname()[1]
        with socket.create_connection((internet.host_side, port), timeout=5):
            pass  # the host reaches it...
        server.accept()[0].close()
        # ...a session does not, neither directly nor through the NAT's gateway.
        assert _connect(egress_env, box, internet.host_side, port) != "connected"
        assert _connect(egress_env, box, egress.GATEWAY, port) != "connected"
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()


def test_only_allowed_host_ports_are_reachable(
    egress_env: Env, box: Sandbox, host_server: tuple[socket.socket, socket.socket]
) -> None:
    allowed, other = host_server
    assert _connect(egress_env, box, egress.GATEWAY, allowed.getsockname()[1]) == "connected"
    allowed.accept()[0].close()
    assert _connect(egress_env, box, egress.GATEWAY, other.getsockname()[1]) != "connected"
    assert _connect(egress_env, box, "127.0.0.1", allowed.getsockname()[1]) != "connected"
    other.setblocking(False)
    with pytest.raises(BlockingIOError):
        other.accept()


#: What ``nft flush ruleset`` starts with, sent by the session's own Python (its image has no
#: nft: a session could bring one): an nftables request over netlink, and the kernel's answer.
NFT_REQUEST = """
import os, socket, struct
sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
body = struct.pack("=BBH", socket.AF_UNSPEC, 0, 0)  # nfgenmsg: every family
kind = (10 << 8) | 2  # NFNL_SUBSYS_NFTABLES, NFT_MSG_DELTABLE
sock.send(struct.pack("=IHHII", 16 + len(body), kind, 0x1 | 0x4, 1, 0) + body)  # REQUEST|ACK
print(os.strerror(-struct.unpack("=i", sock.recv(4096)[16:20])[0]))
"""


def test_the_session_cannot_change_its_rules(egress_env: Env, box: Sandbox) -> None:
    answer = egress_env.text(box, "run_code", code=NFT_REQUEST, language="python")
    assert answer == "Operation not permitted\n"


def test_slirp_ends_with_the_session(egress_env: Env) -> None:
    session = egress_env.session("egress-gone")
    helpers = [pid for pid in session.pids() if _comm(pid) == "slirp4netns"]
    assert len(helpers) == 1
    egress_env.release(session)
    assert not Path(f"/proc/{helpers[0]}").exists() or _comm(helpers[0]) != "slirp4netns"


def test_network_none_is_loopback_only(internet: Internet, tmp_path: Path) -> None:
    environment = new_env(tmp_path, pool_size=0, network=NetworkPolicy("none"))
    try:
        session = environment.session("none")
        assert environment.sh(session, "ls /sys/class/net").split() == ["lo"]
        assert _connect(environment, session, internet.server, PORT) == "OSError"
    finally:
        environment.close()


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


#: Prints the first line a server sends.
_GET = (
    "import socket, sys\n"
    "with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as s:\n"
    "    print(s.makefile().readline(), end='')\n"
)
