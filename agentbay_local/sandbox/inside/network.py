"""The session's own network namespace, seen from inside (stdlib only).

Isolated sessions start in a fresh network namespace (``unshare --net``): nothing in it but
a loopback interface, which starts down. ``loopback_up`` brings it up while the tool server
still holds CAP_NET_ADMIN (over its own namespace only; it is dropped afterwards).

With egress, ``load_rules`` loads the runtime's nftables rules (what the session may not
reach) at the same time, and ``write_resolv_conf`` points DNS at the NAT's forwarder.

``PortConnector`` is how the runtime reaches a port inside that namespace without entering
it (a rootless runtime may not ``setns`` into a namespace its user namespace child owns):
the runtime sends ``{"id": n, "port": p, "timeout_s": t}`` as one datagram over a
``SOCK_SEQPACKET`` socket pair; the connector connects to ``127.0.0.1:p`` from inside and
answers ``{"id": n}`` with the connected socket attached (SCM_RIGHTS), or
``{"id": n, "errno": e, "error": "..."}``. One thread serves every request with
non-blocking connects, so a slow or full listener never holds up the others.

``{"id": n, "stream": true}`` asks for a stream connection of the session WebSocket instead
(``streams.Streams.open``: a socket pair, one end served in the session, the other handed
back the same way).
"""

from __future__ import annotations

import array
import contextlib
import errno
import fcntl
import json
import os
import selectors
import socket
import struct
import sys
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
#: Longest request datagram accepted (they are a few dozen bytes).
MAX_REQUEST_BYTES = 4096
#: Upper bound on one connect, whatever the request asks.
MAX_CONNECT_TIMEOUT_S = 600.0
_REPLY_TIMEOUT_S = 5.0
_RULES_TIMEOUT_S = 10.0


def loopback_up() -> None:
    """Set the ``lo`` interface of this network namespace up (needs CAP_NET_ADMIN)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(probe.fileno(), _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(probe.fileno(), _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))


def load_rules(program: str, ruleset: str) -> None:
    """Load nftables rules into this namespace (needs CAP_NET_ADMIN); RuntimeError if not."""
    import subprocess

    try:
        done = subprocess.run(
            [program, "-f", "-"],
            input=ruleset.encode(),
            capture_output=True,
            timeout=_RULES_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"the session's firewall could not be loaded: {exc}") from None
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip()[-500:]
        raise RuntimeError(f"the session's firewall could not be loaded: {reason}")


def write_resolv_conf(root: str, content: str) -> None:
    """Give the session its own ``/etc/resolv.conf`` (in its overlay, not the host's)."""
    path = root + "/etc/resolv.conf"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # may be a link into the host's /run
    with open(path, "w") as handle:
        handle.write(content)


class PortConnector:
    """Serves the runtime's connection requests on ``fd`` until it closes (a daemon thread)."""

    def __init__(self, fd: int, open_stream: Callable[[], socket.socket] | None = None) -> None:
        self._open_stream = open_stream
        os.set_inheritable(fd, False)  # the session's commands must never hold it
        self._channel = socket.socket(fileno=fd)
        self._channel.setblocking(False)
        self._selector = selectors.DefaultSelector()
        # socket -> (request id, deadline), for the connects still under way
        self._connecting: dict[socket.socket, tuple[Any, float]] = {}

    def start(self) -> None:
        """Serve on a daemon thread."""
        threading.Thread(target=self._serve, name="port-connector", daemon=True).start()

    def _serve(self) -> None:
        self._selector.register(self._channel, selectors.EVENT_READ)
        try:
            while True:
                timeout = None
                if self._connecting:
                    soonest = min(deadline for _, deadline in self._connecting.values())
                    timeout = max(0.0, soonest - time.monotonic())
                for key, _ in self._selector.select(timeout):
                    if key.fileobj is self._channel:
                        if not self._read_requests():
                            return
                    else:
                        self._finish(key.fileobj)  # type: ignore[arg-type]
                self._expire()
        except OSError as exc:  # the channel broke: the runtime is gone
            print(f"toolserver: port connector stopped: {exc}", file=sys.stderr)
        finally:
            for sock in list(self._connecting):
                sock.close()
            self._channel.close()

    def _read_requests(self) -> bool:
        """Start every request waiting on the channel; False at end of file."""
        while True:
            try:
                data = self._channel.recv(MAX_REQUEST_BYTES)
            except BlockingIOError:
                return True
            if not data:
                return False
            try:
                request = json.loads(data)
                request_id = request["id"]
                if request.get("stream") is True:
                    self._stream(request_id)
                    continue
                port = int(request["port"])
                timeout_s = min(float(request.get("timeout_s", 10)), MAX_CONNECT_TIMEOUT_S)
            except (ValueError, KeyError, TypeError) as exc:
                print(f"toolserver: malformed port request: {exc}", file=sys.stderr)
                continue
            self._connect(request_id, port, timeout_s)

    def _stream(self, request_id: Any) -> None:
        if self._open_stream is None:
            self._reply(request_id, None, errno.ENOTSUP, "this session serves no streams")
            return
        try:
            sock = self._open_stream()
        except OSError as exc:
            self._reply(request_id, None, exc.errno or errno.EIO, str(exc))
            return
        self._reply(request_id, sock)

    def _connect(self, request_id: Any, port: int, timeout_s: float) -> None:
        if not 0 < port < 65536:
            self._reply(request_id, None, errno.EINVAL, f"invalid port {port}")
            return
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        except OSError as exc:
            self._reply(request_id, None, exc.errno or errno.EIO, str(exc))
            return
        sock.setblocking(False)
        code = sock.connect_ex(("127.0.0.1", port))
        if code == 0:
            self._reply(request_id, sock)
        elif code == errno.EINPROGRESS:
            self._connecting[sock] = (request_id, time.monotonic() + max(0.0, timeout_s))
            self._selector.register(sock, selectors.EVENT_WRITE)
        else:
            sock.close()
            self._reply(request_id, None, code, os.strerror(code))

    def _finish(self, sock: socket.socket) -> None:
        request_id, _ = self._connecting.pop(sock)
        self._selector.unregister(sock)
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code == 0:
            self._reply(request_id, sock)
        else:
            sock.close()
            self._reply(request_id, None, code, os.strerror(code))

    def _expire(self) -> None:
        now = time.monotonic()
        for sock, (request_id, deadline) in list(self._connecting.items()):
            if deadline <= now:
                del self._connecting[sock]
                self._selector.unregister(sock)
                sock.close()
                self._reply(request_id, None, errno.ETIMEDOUT, "the connection timed out")

    def _reply(
        self, request_id: Any, sock: socket.socket | None, code: int = 0, message: str = ""
    ) -> None:
        answer: dict[str, Any] = {"id": request_id}
        if sock is None:
            answer.update(errno=code, error=message)
        data = json.dumps(answer).encode()
        fds = [] if sock is None else [sock.fileno()]
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
        try:
            # A full channel (runtime busy) waits a little rather than losing the answer;
            # a runtime that stops reading for good loses only this one.
            self._channel.settimeout(_REPLY_TIMEOUT_S)
            self._channel.sendmsg([data], ancillary)
        except TimeoutError:
            print("toolserver: the runtime does not read port answers", file=sys.stderr)
        finally:
            with contextlib.suppress(OSError):
                self._channel.setblocking(False)
            if sock is not None:
                sock.close()
