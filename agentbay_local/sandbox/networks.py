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

The switch (``inside/switch.py``, a process of its own: a session flooding its network costs
that process's CPU, not the runtime's) also refuses frames whose source is not the port's
own MAC address, so one session cannot pose as another on the wire (it cannot change its
address either: it has no CAP_NET_ADMIN).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import itertools
import json
import os
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
_TUN_MAJOR, _TUN_MINOR = 10, 200
_SWITCH_BOOT = (
    "import sys; sys.path.append(sys.argv.pop(1)); "
    "from inside import switch; switch.main(sys.argv[1:])"
)
#: How long one control message may wait for the switch (it reads at once).
_CONTROL_TIMEOUT_S = 5.0
_MAX_REPLY = 256
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


class Switch:
    """The switch process of the runtime's networks (``inside/switch.py``), started on first
    use: ``add`` hands it a member's TAP descriptor, ``remove`` takes the member off (its
    interface goes), ``close`` ends it. It also ends by itself when the runtime dies.

    In a process of its own, so that a session flooding its network costs that process's
    CPU and never the runtime's event loop.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: socket.socket | None = None
        self._numbers = itertools.count(1)
        self._closed = False

    def add(self, fd: int, port: Port) -> int:
        """Hand a member's TAP descriptor to the switch (closed here: the switch owns it) and
        wait until it forwards; answers the member's number for ``remove`` (0 when the switch
        is closed).

        Raises:
            OSError: the switch did not take it (it is not running, or did not answer within
                ``_CONTROL_TIMEOUT_S``).
        """
        try:
            with self._lock:
                if self._closed:
                    return 0
                channel = self._started()
                number = next(self._numbers)
                message = {"op": "add", "port": number, "network": port.network}
                message["mac"] = port.mac.hex()
                socket.send_fds(channel, [json.dumps(message).encode()], [fd])
                # Answered once the port forwards: a new member is reachable when create returns.
                if json.loads(channel.recv(_MAX_REPLY)).get("port") != number:
                    raise OSError(errno.EPROTO, "the network switch answered out of turn")
                return number
        finally:
            os.close(fd)

    def remove(self, number: int) -> None:
        """Take member ``number`` off its network: its interface goes."""
        with self._lock:
            if self._channel is None or not number:
                return
            with contextlib.suppress(OSError):
                self._channel.send(json.dumps({"op": "remove", "port": number}).encode())

    def close(self) -> None:
        """End the switch: every member's interface goes."""
        with self._lock:
            self._closed = True
            process, channel = self._process, self._channel
            self._process = self._channel = None
        if channel is not None:
            channel.close()  # end of file: the switch exits
        if process is not None:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def _started(self) -> socket.socket:
        if self._channel is not None and self._process is not None and self._process.poll() is None:
            return self._channel
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv = [sys.executable, "-E", "-s", "-S", "-c", _SWITCH_BOOT]
        argv += [os.path.dirname(os.path.dirname(inside.__file__)), str(theirs.fileno())]
        try:
            self._process = subprocess.Popen(
                argv,
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                cwd="/",
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                start_new_session=True,
            )
        finally:
            theirs.close()
        ours.setblocking(True)
        ours.settimeout(_CONTROL_TIMEOUT_S)
        self._channel = ours
        return ours
