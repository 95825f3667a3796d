"""A network's port in a session: one Ethernet (TAP) interface, made in the session's network
namespace by a short-lived helper (stdlib only).

The runtime runs this with the host's interpreter, outside the sandbox, handing it
descriptors of the session's user and network namespaces and one end of a socket pair:
``main`` joins the namespaces (the user namespace first when not root: a rootless runtime
has capabilities over the session's network only as root of its user namespace), makes the
interface ``name`` with the given MAC, IPv4 address and MTU, brings it up, and sends the
TAP descriptor back (SCM_RIGHTS). Nothing persists: the interface disappears when the
runtime closes that descriptor, and the session, which has no CAP_NET_ADMIN, can neither
reconfigure it nor make another.

The session's side of the network is an ordinary interface; the runtime's side is that
descriptor, whose frames the runtime's switch moves between the sessions of one network
(``agentbay_local.sandbox.networks``).
"""

from __future__ import annotations

import array
import fcntl
import ipaddress
import json
import os
import socket
import struct
import sys

from . import syscalls

CLONE_NEWNET = 0x40000000
# linux/if_tun.h, linux/sockios.h
_TUNSETIFF = 0x400454CA
_IFF_TAP = 0x0002
_IFF_NO_PI = 0x1000
_SIOCSIFADDR = 0x8916
_SIOCSIFNETMASK = 0x891C
_SIOCSIFMTU = 0x8922
_SIOCSIFHWADDR = 0x8924
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_ARPHRD_ETHER = 1


def _ifreq(name: str, payload: bytes) -> bytes:
    """A ``struct ifreq``: the interface name, then the union (24 bytes on 64-bit Linux)."""
    return struct.pack("16s", name.encode()) + payload.ljust(24, b"\0")


def _inet(address: str) -> bytes:
    return struct.pack("=H2x4s8x", socket.AF_INET, ipaddress.IPv4Address(address).packed)


def make_tap(name: str, mac: str, interface: str, mtu: int) -> int:
    """Make and configure the TAP interface ``name`` in this thread's network namespace.

    ``interface`` is ``address/prefix`` (its connected route comes with it). Returns the
    TAP descriptor (frames without packet information).
    """
    network = ipaddress.IPv4Interface(interface)
    tap = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    try:
        fcntl.ioctl(tap, _TUNSETIFF, struct.pack("16sH22x", name.encode(), _IFF_TAP | _IFF_NO_PI))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as control:
            fd = control.fileno()
            hardware = struct.pack("=H", _ARPHRD_ETHER) + bytes.fromhex(mac.replace(":", ""))
            fcntl.ioctl(fd, _SIOCSIFHWADDR, _ifreq(name, hardware))
            fcntl.ioctl(fd, _SIOCSIFMTU, _ifreq(name, struct.pack("=i", mtu)))
            fcntl.ioctl(fd, _SIOCSIFADDR, _ifreq(name, _inet(str(network.ip))))
            fcntl.ioctl(fd, _SIOCSIFNETMASK, _ifreq(name, _inet(str(network.netmask))))
            flags = struct.unpack("=h", fcntl.ioctl(fd, _SIOCGIFFLAGS, _ifreq(name, b""))[16:18])[0]
            fcntl.ioctl(fd, _SIOCSIFFLAGS, _ifreq(name, struct.pack("=h", flags | _IFF_UP)))
    except BaseException:
        os.close(tap)
        raise
    return tap


def main(argv: list[str]) -> None:
    """``<user ns fd> <net ns fd> <socket fd> <json: name, mac, interface, mtu>``: make the
    interface in those namespaces and send its descriptor over the socket; exit 1 with the
    reason on stderr when that fails."""
    user_fd, net_fd, reply_fd = (int(value) for value in argv[:3])
    spec = json.loads(argv[3])
    reply = socket.socket(fileno=reply_fd)
    try:
        if os.geteuid() != 0:  # capabilities over the session's network: as its root
            syscalls.setns(user_fd, syscalls.CLONE_NEWUSER)
        syscalls.setns(net_fd, CLONE_NEWNET)
        name, mac, interface = str(spec["name"]), str(spec["mac"]), str(spec["interface"])
        tap = make_tap(name, mac, interface, int(spec["mtu"]))
    except (OSError, ValueError, KeyError) as exc:
        print(f"cannot make the session's network interface: {exc}", file=sys.stderr)
        sys.exit(1)
    reply.sendmsg([b"tap"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [tap]))])
