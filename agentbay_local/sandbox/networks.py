"""Networks that sessions share (CreateNetwork, ``NetworkId`` at create): the address plan,
each session's port on its network, and the switch between the ports of one network.

A session bound to a network gets a second Ethernet interface, ``net0`` (``inside/tap.py``
makes it in the session's network namespace, as a TAP device whose other end, a descriptor,
the runtime holds). The runtime's ``Switch`` moves Ethernet frames between the descriptors
of one network, and only between them: a frame of network A never reaches network B, the
host or the outside, because the switch writes nowhere else. Nothing of the host's own
networking is touched (no bridge, no veth, no route of the host), so it works the same as
root and rootless.

Each network in use gets a /24 of ``NETWORK_RANGE`` (198.19.0.0/16, half of the range RFC
2544 reserves for benchmarks, which no real network routes; the egress tests' stand-in
internet uses the other half) and each member an address in it;
the session's ``net0`` route covers only its own /24. With egress, the session's firewall
(``egress.ruleset``) lets ``net0`` through and rejects the rest of the range, so an address
of another network is never sent out through the NAT.

The switch also refuses frames whose source is not the port's own MAC address, so one
session cannot pose as another on the wire (it cannot change its address either: it has no
CAP_NET_ADMIN).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import os
import selectors
import socket
import stat
import subprocess
import sys
import threading
from dataclasses import dataclass

from agentbay.contract import get_logger
from agentbay_local.sandbox import inside
from agentbay_local.sandbox.inside import syscalls, tap

log = get_logger("agentbay.local.sandbox")

#: Where networks' addresses come from (RFC 2544 benchmarking range: routed nowhere).
NETWORK_RANGE = ipaddress.IPv4Network("198.19.0.0/16")
#: Each network's share of the range.
SUBNET_PREFIX = 24
#: The interface a network gives a session.
INTERFACE = "net0"
#: Large frames: fewer of them through the switch (loopback uses 65536).
MTU = 65520
#: How long making a session's interface may take.
ATTACH_TIMEOUT_S = 10.0
#: Frames read from one port per wake-up before the others get their turn.
_BURST = 64
_TUN_MAJOR, _TUN_MINOR = 10, 200
_TAP_BOOT = (
    "import sys; sys.path.append(sys.argv.pop(1)); from inside import tap; tap.main(sys.argv[1:])"
)


@dataclass(frozen=True)
class Port:
    """One session's place on a network.

    Attributes:
        network: the network's id.
        address: the session's address on it.
        subnet: the network's /24.
    """

    network: str
    address: ipaddress.IPv4Address
    subnet: ipaddress.IPv4Network

    @property
    def mac(self) -> bytes:
        """The interface's MAC address: locally administered, the address in its last 4
        bytes (unique wherever the address is)."""
        return b"\x02\x00" + self.address.packed

    @property
    def interface(self) -> str:
        """``address/prefix`` as the session's interface carries it."""
        return f"{self.address}/{self.subnet.prefixlen}"


class AddressPlan:
    """Which /24 each network in use has and which addresses its members hold.

    A network keeps its /24 while it has members; its first member takes ``.2`` (``.1``
    stays free, as a gateway's would).
    """

    def __init__(self) -> None:
        self._free = list(NETWORK_RANGE.subnets(new_prefix=SUBNET_PREFIX))
        self._subnets: dict[str, ipaddress.IPv4Network] = {}
        self._members: dict[str, set[ipaddress.IPv4Address]] = {}

    def take(self, network: str) -> Port:
        """An address on ``network`` (ValueError when the range or the /24 is full)."""
        subnet = self._subnets.get(network)
        if subnet is None:
            if not self._free:
                raise ValueError(f"no addresses left for more networks in {NETWORK_RANGE}")
            subnet = self._subnets[network] = self._free.pop(0)
            self._members[network] = set()
        used = self._members[network]
        for address in list(subnet.hosts())[1:]:
            if address not in used:
                used.add(address)
                return Port(network, address, subnet)
        raise ValueError(f"the network {network} is full ({len(used)} sessions)")

    def give_back(self, port: Port) -> None:
        """Free an address; a network without members frees its /24."""
        used = self._members.get(port.network)
        if used is None:
            return
        used.discard(port.address)
        if not used:
            del self._members[port.network]
            self._free.insert(0, self._subnets.pop(port.network))


def attach(pid: int, port: Port) -> int:
    """Make ``net0`` with ``port``'s address in the network namespace of ``pid`` (a process
    of the session, host PID) and answer the TAP descriptor the runtime keeps (blocking).

    As root a thread of the runtime joins the namespace for the few calls it takes (~1 ms);
    without root only a process of its own may join the session's user namespace first (a
    multi-threaded one may not), so a short helper does it (~25 ms, mostly its start). Both
    join from descriptors opened here, so a reused PID cannot send them into another
    process's namespaces. Raises OSError when it fails.
    """
    if os.geteuid() == 0:
        return _attach_on_a_thread(pid, port)
    return _attach_by_helper(pid, port)


def _attach_on_a_thread(pid: int, port: Port) -> int:
    """As root: a thread of its own joins the session's network namespace, makes the
    interface and ends (so nothing else of the runtime ever runs in the session's network,
    even if the way back failed)."""
    target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    outcome: list[int | BaseException] = []

    def work() -> None:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            syscalls.setns(target, tap.CLONE_NEWNET)
            try:
                outcome.append(tap.make_tap(INTERFACE, port.mac.hex(":"), port.interface, MTU))
            finally:
                syscalls.setns(own, tap.CLONE_NEWNET)
        except BaseException as exc:  # reported to the caller below
            outcome.append(exc)
        finally:
            os.close(own)

    try:
        worker = threading.Thread(target=work, name="network-attach")
        worker.start()
        worker.join(ATTACH_TIMEOUT_S)
    finally:
        os.close(target)
    if not outcome:
        raise OSError(errno.ETIMEDOUT, "making the network interface timed out")
    for item in outcome:
        if isinstance(item, BaseException):
            for other in outcome:
                if isinstance(other, int):
                    os.close(other)
            raise item if isinstance(item, OSError) else OSError(errno.EIO, str(item))
    fd = outcome[0]
    assert isinstance(fd, int)
    os.set_blocking(fd, False)
    return fd


def _attach_by_helper(pid: int, port: Port) -> int:
    """Without root: ``inside/tap.py`` in a process of its own (see ``attach``)."""
    user_fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    try:
        net_fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except BaseException:
        os.close(user_fd)
        raise
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    spec = {"name": INTERFACE, "mac": port.mac.hex(":"), "interface": port.interface, "mtu": MTU}
    argv = [sys.executable, "-E", "-s", "-S", "-c", _TAP_BOOT]
    argv += [os.path.dirname(os.path.dirname(inside.__file__))]
    argv += [str(user_fd), str(net_fd), str(theirs.fileno()), json.dumps(spec)]
    try:
        with ours:
            try:
                done = subprocess.run(
                    argv,
                    pass_fds=(user_fd, net_fd, theirs.fileno()),
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=ATTACH_TIMEOUT_S,
                    cwd="/",
                    env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise OSError(errno.ETIMEDOUT, "making the network interface timed out") from None
            finally:
                theirs.close()
            if done.returncode != 0:
                reason = done.stderr.decode(errors="replace").strip()[-500:]
                raise OSError(errno.EIO, reason or f"the helper exited with {done.returncode}")
            ours.setblocking(False)
            try:
                _data, fds, _flags, _address = socket.recv_fds(ours, 16, 1)
            except BlockingIOError:
                raise OSError(errno.EIO, "the helper sent no interface") from None
    finally:
        os.close(user_fd)
        os.close(net_fd)
    if len(fds) != 1 or not _is_tun(fds[0]):
        for fd in fds:
            os.close(fd)
        raise OSError(errno.EIO, "the helper sent something else than a network interface")
    os.set_inheritable(fds[0], False)
    os.set_blocking(fds[0], False)
    return fds[0]


def _is_tun(fd: int) -> bool:
    mode = os.fstat(fd)
    return stat.S_ISCHR(mode.st_mode) and (os.major(mode.st_rdev), os.minor(mode.st_rdev)) == (
        _TUN_MAJOR,
        _TUN_MINOR,
    )


@dataclass(eq=False)
class _Member:
    fd: int
    port: Port
    gone: threading.Event


class Switch:
    """Moves Ethernet frames between the ports of each network (one daemon thread).

    A broadcast or multicast frame goes to every other port of its network, a unicast
    frame to the port with that MAC address (else nowhere); a frame whose source is not
    its port's MAC address is dropped. A full port drops frames, as a switch does.
    """

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._by_fd: dict[int, _Member] = {}
        self._by_mac: dict[tuple[str, bytes], _Member] = {}
        self._changes: list[tuple[str, _Member]] = []
        self._lock = threading.Lock()
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._thread: threading.Thread | None = None
        self._closed = False

    def add(self, fd: int, port: Port) -> None:
        """Connect a session's TAP descriptor (the switch owns it from now on)."""
        self._change("add", _Member(fd, port, threading.Event()))

    def remove(self, fd: int, timeout_s: float = 5.0) -> None:
        """Disconnect and close a port; its interface disappears from the session."""
        with self._lock:
            member = next((m for _, m in self._changes if m.fd == fd), None)
        member = member or self._by_fd.get(fd)
        if member is None:
            return
        self._change("remove", member)
        member.gone.wait(timeout_s)

    def close(self) -> None:
        """Close every port and stop the thread."""
        with self._lock:
            self._closed = True
        self._wake()
        if self._thread is not None:
            self._thread.join(5)

    def _change(self, kind: str, member: _Member) -> None:
        with self._lock:
            if self._closed:
                if kind == "add":
                    os.close(member.fd)
                member.gone.set()
                return
            self._changes.append((kind, member))
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="network-switch")
                self._thread.daemon = True
                self._thread.start()
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_write, b"\0")

    def _apply(self) -> bool:
        """Apply pending adds and removes; False once closed."""
        with contextlib.suppress(BlockingIOError):
            os.read(self._wake_read, 4096)
        with self._lock:
            changes, self._changes = self._changes, []
            closed = self._closed
        for kind, member in changes:
            if kind == "add" and not closed:
                self._by_fd[member.fd] = member
                self._by_mac[(member.port.network, member.port.mac)] = member
                self._selector.register(member.fd, selectors.EVENT_READ)
            else:
                self._drop(member)
        if closed:
            for member in list(self._by_fd.values()):
                self._drop(member)
        return not closed

    def _drop(self, member: _Member) -> None:
        if self._by_fd.pop(member.fd, None) is not None:
            self._selector.unregister(member.fd)
            self._by_mac.pop((member.port.network, member.port.mac), None)
        with contextlib.suppress(OSError):
            os.close(member.fd)
        member.gone.set()

    def _serve(self) -> None:
        while True:
            for key, _ in self._selector.select():
                if key.fd == self._wake_read:
                    if not self._apply():
                        return
                    continue
                member = self._by_fd.get(key.fd)
                if member is not None:
                    self._forward_from(member)

    def _forward_from(self, member: _Member) -> None:
        for _ in range(_BURST):
            try:
                frame = os.read(member.fd, MTU + 64)
            except BlockingIOError:
                return
            except OSError as exc:  # the session's namespace is gone
                log.info("network port of %s closed: %s", member.port.address, exc)
                self._drop(member)
                return
            if len(frame) < 14 or frame[6:12] != member.port.mac:
                continue
            network = member.port.network
            if frame[0] & 1:  # broadcast or multicast
                targets = [
                    m for m in self._by_fd.values() if m.port.network == network and m is not member
                ]
            else:
                found = self._by_mac.get((network, frame[:6]))
                targets = [found] if found is not None and found is not member else []
            for target in targets:
                with contextlib.suppress(OSError):  # full or gone: dropped, as on a wire
                    os.write(target.fd, frame)
