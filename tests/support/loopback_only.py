"""Imported first by the official clients' driver scripts: nothing they do reaches past
loopback.

0.22.3 sends ``GetTerminalReportToken`` (telemetry of its browser operator) to a fixed cloud
host of its own, whatever the endpoint. Name lookups of any other host and connections to
any address that is not loopback fail here, in the driver's process, before a packet is
sent (stdlib only: it runs on the official client's interpreter).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
_getaddrinfo = socket.getaddrinfo
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


class OffLoopback(OSError):
    """A lookup or connection that would have left the machine."""


def _loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _checked_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host is not None and not _loopback(host):
        raise OffLoopback(f"test drivers resolve loopback names only, not {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


def _check_address(sock: socket.socket, address: Any) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
        raise OffLoopback(f"test drivers connect to loopback only, not {address[0]!r}")


def _checked_connect(self: socket.socket, address: Any) -> None:
    _check_address(self, address)
    _connect(self, address)


def _checked_connect_ex(self: socket.socket, address: Any) -> int:
    _check_address(self, address)
    return _connect_ex(self, address)


socket.getaddrinfo = _checked_getaddrinfo  # type: ignore[assignment]
socket.socket.connect = _checked_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _checked_connect_ex  # type: ignore[method-assign]
