"""Networks (CreateNetwork, DescribeNetwork, NetworkId at create) against the real runtime.

Sessions of one network reach each other by address and by name; a session of another
network or of none does not, and nothing on a network answers but its members. Every
address tried is one the runtime gave a session (198.19.0.0/16, inside the sessions'
namespaces and the runtime's switch): no traffic leaves the machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from pathlib import Path

import pytest

from agentbay import AgentBay, AsyncAgentBay, Config, CreateSessionParams
from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.api import Api, RpcError
from tests.runtime.e2e.conftest import API_KEY, own_runtime
from tests.support.official import official_python, run_driver

DRIVER = Path(__file__).with_name("official_network_driver.py")

#: Listens on 0.0.0.0:PORT and answers each connection with the session's hostname.
SERVER = (
    "nohup python3 -c \"import socket; s = socket.create_server(('0.0.0.0', 7070)); "
    "exec('while True:\\n c, _ = s.accept(); c.sendall(socket.gethostname().encode()); "
    "c.close()')\" > /dev/null 2>&1 &"
)


def fetch(api: Api, session_id: str, host: str, timeout_s: float = 3) -> str:
    """What a connection from the session to ``host``:7070 reads, or the error's name."""
    command = (
        'python3 -c "import socket, sys\n'
        "try:\n"
        f" c = socket.create_connection(('{host}', 7070), timeout={timeout_s}); "
        "print(c.recv(100).decode())\n"
        'except OSError as e: print(type(e).__name__)"'
    )
    return api.text(session_id, "shell", command=command, timeout_ms=20000).strip()


def address_of(api: Api, session_id: str) -> str:
    """The session's address on its network (``net0``)."""
    text = api.text(
        session_id,
        "shell",
        command='python3 -c "import socket, fcntl, struct; s = socket.socket(2, 2); '
        "print(socket.inet_ntoa(fcntl.ioctl(s.fileno(), 0x8915, "
        "struct.pack('256s', b'net0'))[20:24]))\"",
        timeout_ms=10000,
    )
    return text.strip()


def serving(api: Api, session_id: str) -> None:
    """Start the server in the session and wait (with a deadline) until it listens."""
    api.text(session_id, "shell", command=SERVER, timeout_ms=10000)
    deadline = time.monotonic() + 10
    while fetch(api, session_id, "127.0.0.1") != session_id:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)


def release(api: Api, *session_ids: str) -> None:
    for session_id in session_ids:
        api.raw("ReleaseMcpSession", SessionId=session_id)


def test_create_and_describe(api: Api) -> None:
    created = api.call("CreateNetwork", LoginRegionId="cn-hangzhou")
    network_id, token = created["NetworkId"], created["NetworkToken"]
    assert network_id.startswith("net-") and len(token) >= 32
    assert api.call("DescribeNetwork", NetworkId=network_id) == {"Online": True}
    again = api.call("CreateNetwork", NetworkId=network_id)
    assert again["NetworkId"] == network_id and again["NetworkToken"] != token
    for action in ("DescribeNetwork", "CreateNetwork"):
        with pytest.raises(RpcError) as unknown:
            api.call(action, NetworkId="net-nosuchnetwork0000")
        assert unknown.value.code == "InvalidNetworkId.NotFound"
        assert unknown.value.status == 400


def test_an_unknown_network_refuses_the_create_and_leaks_nothing(api: Api) -> None:
    before = api.call("ListSession", MaxResults=100)
    with pytest.raises(RpcError) as refused:
        api.create_session(NetworkId="net-nosuchnetwork0000")
    assert refused.value.code == "InvalidNetworkId.NotFound"
    assert api.call("ListSession", MaxResults=100) == before


def test_members_reach_each_other_and_nobody_else(api: Api) -> None:
    first = api.call("CreateNetwork")["NetworkId"]
    second = api.call("CreateNetwork")["NetworkId"]
    server = api.create_session(NetworkId=first)
    peer = api.create_session(NetworkId=first)
    stranger = api.create_session(NetworkId=second)
    loner = api.create_session()
    try:
        serving(api, server)
        address = address_of(api, server)
        subnet = ipaddress.ip_network(f"{address}/24", strict=False)
        assert subnet.subnet_of(ipaddress.ip_network("198.19.0.0/16"))
        assert ipaddress.ip_address(address_of(api, peer)) in subnet
        assert ipaddress.ip_address(address_of(api, stranger)) not in subnet

        # A member: by address and by name (its session id).
        assert fetch(api, peer, address) == server
        assert fetch(api, peer, server) == server
        # Another network's member and a session of none: not by address, not by name.
        assert fetch(api, stranger, address) != server
        assert fetch(api, loner, address) != server
        assert fetch(api, stranger, server) == "gaierror"
        assert "net0" not in api.text(loner, "shell", command="cat /proc/net/dev")

        # Nothing but the members answers on the network (its unused first address).
        assert fetch(api, peer, str(subnet.network_address + 1), timeout_s=2) != server

        # A member that leaves: its name and address go from the others.
        release(api, peer)
        hosts = api.text(server, "shell", command="cat /etc/hosts")
        assert peer not in hosts
    finally:
        release(api, server, peer, stranger, loner)


def test_unisolated_sessions_cannot_join(tmp_path: Path) -> None:
    with own_runtime(tmp_path, API_KEY, isolated=False, pool_size=0) as runtime:
        api = Api(runtime.endpoint, API_KEY)
        network_id = api.call("CreateNetwork")["NetworkId"]
        with pytest.raises(RpcError) as refused:
            api.create_session(NetworkId=network_id)
        assert refused.value.code == "InvalidParameter.NetworkId"
        assert "isolated" in refused.value.answer["Message"]
        assert api.call("ListSession") == []  # nothing started, nothing left


def test_our_sdk_networks(bay: AgentBay) -> None:
    network = bay.beta_network.get_network_bind_token()
    assert network.success and network.network_id and network.network_token
    status = bay.beta_network.describe(network.network_id)
    assert (status.success, status.online) == (True, True)
    unknown = bay.beta_network.describe("net-nosuchnetwork0000")
    assert unknown.success is False and "not found" in unknown.error_message
    assert bay.beta_network.describe("").error_message == "network_id is required"
    refused = bay.create(CreateSessionParams(beta_network_id="net-nosuchnetwork0000"))
    assert refused.success is False and "InvalidNetworkId.NotFound" in refused.error_message
    server = bay.create(CreateSessionParams(beta_network_id=network.network_id)).session
    peer = bay.create(CreateSessionParams(beta_network_id=network.network_id)).session
    try:
        api = Api(bay.endpoint, API_KEY)
        serving(api, server.session_id)
        assert fetch(api, peer.session_id, server.session_id) == server.session_id
    finally:
        server.delete()
        peer.delete()


def test_our_async_sdk_networks(runtime: EmbeddedRuntime) -> None:
    async def main() -> list[str]:
        cfg = Config(endpoint=runtime.endpoint, timeout_ms=60000)
        async with AsyncAgentBay(api_key=API_KEY, cfg=cfg) as bay:
            network = await bay.beta_network.get_network_bind_token()
            assert (await bay.beta_network.describe(network.network_id)).online is True
            params = CreateSessionParams(beta_network_id=network.network_id)
            first, second = [(await bay.create(params)).session for _ in range(2)]
            hosts = await second.command.execute_command(f"getent hosts {first.session_id}")
            await first.delete()
            await second.delete()
            return str(hosts.output).split()

    found = asyncio.run(main())
    assert len(found) == 2 and found[0].startswith("198.19.")


@pytest.mark.parametrize("version", ["0.15.2", "0.22.3"])  # beta_network came with 0.15
def test_official_clients_networks(version: str, runtime: EmbeddedRuntime, tmp_path: Path) -> None:
    got = run_driver(official_python(version), DRIVER, runtime.endpoint, API_KEY, tmp_path, 300)
    assert got["network"] == [True, "", True]
    assert got["describe"] == [True, True]
    assert got["describe_unknown"] == [False, "Network net-nosuchnetwork0000 not found"]
    ok, message = got["create_unknown"]
    assert ok is False and "InvalidNetworkId.NotFound" in message
    server = got["server_id"]
    assert got["peer_by_name"] == server and got["peer_by_address"] == server
    assert got["server_address"].startswith("198.19.")
    for name in ("stranger_by_name", "stranger_by_address", "loner_by_address"):
        assert got[name] != server, name
    assert got["deleted"] == [True, True, True, True]


def test_members_reach_each_other_without_egress(tmp_path: Path) -> None:
    """With --network none a session has no rules and no NAT: its network is all it has."""
    with own_runtime(tmp_path, API_KEY, network="none") as runtime:
        api = Api(runtime.endpoint, API_KEY)
        network_id = api.call("CreateNetwork")["NetworkId"]
        server = api.create_session(NetworkId=network_id)
        peer = api.create_session(NetworkId=network_id)
        loner = api.create_session()
        serving(api, server)
        assert fetch(api, peer, server) == server
        assert fetch(api, loner, address_of(api, server)) != server
