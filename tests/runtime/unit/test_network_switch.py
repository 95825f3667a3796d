"""The networks' address plan and switch (the real switch process), with socket pairs
standing in for TAP devices (a TAP descriptor also reads and writes one frame per call); the
real interfaces are tried in tests/runtime/e2e/test_networks.py."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator

import pytest

from agentbay_local.sandbox.networks import NETWORK_RANGE, AddressPlan, Port, Switch

BROADCAST = b"\xff" * 6


def frame(destination: bytes, source: bytes, payload: bytes = b"hello") -> bytes:
    return destination + source + b"\x08\x00" + payload


def received(sock: socket.socket, timeout_s: float = 1.0) -> bytes | None:
    """The next frame on ``sock`` within ``timeout_s`` (polled), else None."""
    ready, _, _ = select.select([sock], [], [], timeout_s)
    return sock.recv(70000) if ready else None


@pytest.fixture
def switch() -> Iterator[Switch]:
    switch = Switch()
    yield switch
    switch.close()


def plug(switch: Switch, port: Port) -> socket.socket:
    """A port on the switch; answers the session's end."""
    session_end, switch_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    switch.add(switch_end.detach(), port)
    return session_end


def test_networks_get_subnets_of_their_own_and_give_them_back() -> None:
    plan = AddressPlan()
    a1, a2, b1 = plan.take("a"), plan.take("a"), plan.take("b")
    assert a1.subnet == a2.subnet != b1.subnet
    assert a1.subnet.subnet_of(NETWORK_RANGE) and b1.subnet.subnet_of(NETWORK_RANGE)
    assert {a1.address, a2.address} == {
        a1.subnet.network_address + 2,
        a1.subnet.network_address + 3,
    }
    assert a1.mac != a2.mac and a1.mac[:2] == b"\x02\x00"  # locally administered
    plan.give_back(a1)
    assert plan.take("a").address == a1.address  # the freed address comes back first
    plan.give_back(b1)
    assert plan.take("c").subnet == b1.subnet  # an emptied network's /24 is free again


def test_a_full_network_is_refused() -> None:
    plan = AddressPlan()
    for _ in range(253):
        plan.take("a")
    with pytest.raises(ValueError, match="full"):
        plan.take("a")


def test_frames_stay_on_their_network(switch: Switch) -> None:
    plan = AddressPlan()
    ports = [plan.take("a"), plan.take("a"), plan.take("a"), plan.take("b")]
    a1, a2, a3, b1 = (plug(switch, port) for port in ports)
    mac = [port.mac for port in ports]

    a1.send(frame(BROADCAST, mac[0]))
    assert received(a2) == received(a3) == frame(BROADCAST, mac[0])
    assert received(b1, 0.2) is None and received(a1, 0.2) is None  # not back, not across

    a1.send(frame(mac[1], mac[0], b"to a2"))
    assert received(a2) == frame(mac[1], mac[0], b"to a2")
    assert received(a3, 0.2) is None

    # Unicast to a MAC of another network, or a source that is not the port's: dropped.
    a1.send(frame(mac[3], mac[0]))
    a1.send(frame(mac[1], mac[2], b"posing as a3"))
    assert received(b1, 0.2) is None and received(a2, 0.2) is None


def test_a_removed_port_is_closed(switch: Switch) -> None:
    plan = AddressPlan()
    session_end, switch_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    number = switch.add(switch_end.detach(), plan.take("a"))
    switch.remove(number)
    session_end.settimeout(5)
    assert session_end.recv(10) == b""  # the switch's end is closed


def test_the_switch_ends_with_its_runtime_end(switch: Switch) -> None:
    plan = AddressPlan()
    session_end, switch_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    switch.add(switch_end.detach(), plan.take("a"))
    switch.close()
    session_end.settimeout(5)
    assert session_end.recv(10) == b""  # every port closed with it
    assert switch.add(socket.socketpair()[0].detach(), plan.take("a")) == 0  # closed for good
