"""The switch of the networks sessions share: a process of its own that moves Ethernet frames
between the TAP descriptors of one network's members (stdlib only).

Started by the runtime (``networks.Switch``) as::

    python -E -s -S -c BOOT <parent of inside/> <control fd>

It reads the control socket (``SOCK_SEQPACKET``): ``{"op": "add", "port": n, "network":
id, "mac": hex}`` with the member's TAP descriptor attached (SCM_RIGHTS), answered
``{"port": n}`` once the port forwards, or ``{"op": "remove", "port": n}``. It ends when the
runtime's end closes (the runtime stopped or died: the kernel closes a dead process's
descriptors). Being a process of its own, a session flooding its network costs this
process's CPU, never the runtime's event loop.

A broadcast or multicast frame goes to every other port of its network, a unicast frame to
the port with that MAC address (else nowhere); a frame whose source is not its port's MAC
address is dropped, so no member can pose as another. A port whose queue is full drops the
frame, as a switch does. Nothing is ever written anywhere but to the ports.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import socket
import sys

#: Longest frame read (the interfaces' MTU is 65520) and longest control message.
MAX_FRAME = 65536 + 64
MAX_CONTROL = 4096
#: Frames read from one port per wake-up before the others get their turn.
BURST = 64


class Port:
    """One member: its descriptor, network and MAC address."""

    def __init__(self, fd: int, network: str, mac: bytes) -> None:
        self.fd = fd
        self.network = network
        self.mac = mac


class Switch:
    """The forwarding state of every network (used on one thread)."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.ports: dict[int, Port] = {}  # by port number
        self.by_mac: dict[tuple[str, bytes], Port] = {}

    def add(self, number: int, port: Port) -> None:
        """Connect a member (replacing an earlier port of the same number)."""
        self.remove(number)
        os.set_blocking(port.fd, False)
        self.ports[number] = port
        self.by_mac[(port.network, port.mac)] = port
        self.selector.register(port.fd, selectors.EVENT_READ, number)

    def remove(self, number: int) -> None:
        """Disconnect a member and close its descriptor (its interface goes)."""
        port = self.ports.pop(number, None)
        if port is None:
            return
        self.selector.unregister(port.fd)
        if self.by_mac.get((port.network, port.mac)) is port:
            del self.by_mac[(port.network, port.mac)]
        with contextlib.suppress(OSError):
            os.close(port.fd)

    def forward_from(self, number: int) -> None:
        """Move what the member sent (up to BURST frames) to where it is addressed."""
        port = self.ports[number]
        for _ in range(BURST):
            try:
                frame = os.read(port.fd, MAX_FRAME)
            except BlockingIOError:
                return
            except OSError:  # the session's namespace is gone
                self.remove(number)
                return
            if len(frame) < 14 or frame[6:12] != port.mac:
                continue
            if frame[0] & 1:  # broadcast or multicast
                targets = [
                    p for p in self.ports.values() if p.network == port.network and p is not port
                ]
            else:
                found = self.by_mac.get((port.network, frame[:6]))
                targets = [found] if found is not None and found is not port else []
            for target in targets:
                with contextlib.suppress(OSError):  # full or gone: dropped, as on a wire
                    os.write(target.fd, frame)


def _control(switch: Switch, channel: socket.socket) -> bool:
    """Apply one control message; False when the runtime's end is closed."""
    try:
        data, fds, _flags, _address = socket.recv_fds(channel, MAX_CONTROL, 4)
    except BlockingIOError:
        return True
    if not data:
        for fd in fds:
            os.close(fd)
        return False
    try:
        message = json.loads(data)
        number = int(message["port"])
        if message["op"] == "add" and len(fds) == 1:
            mac = bytes.fromhex(message["mac"])
            switch.add(number, Port(fds.pop(), str(message["network"]), mac))
            channel.sendall(json.dumps({"port": number}).encode())  # it forwards from now on
        elif message["op"] == "remove":
            switch.remove(number)
    except (ValueError, KeyError, TypeError) as exc:
        print(f"switch: malformed control message: {exc}", file=sys.stderr)
    for fd in fds:  # anything not taken
        os.close(fd)
    return True


def main(argv: list[str]) -> None:
    """``<control fd>``: serve until the runtime's end of the control socket closes."""
    channel = socket.socket(fileno=int(argv[0]))
    channel.setblocking(False)
    switch = Switch()
    switch.selector.register(channel, selectors.EVENT_READ, None)
    while True:
        for key, _ in switch.selector.select():
            if key.data is None:
                if not _control(switch, channel):
                    return
            elif key.data in switch.ports:
                switch.forward_from(key.data)
