"""``PublicAddress``: where clients reach the runtime, for the URLs it hands out."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublicAddress:
    """The runtime's address as clients use it (a wildcard bind is answered as loopback).

    Attributes:
        host: the host name or address in the URLs the runtime answers.
        port: the runtime's HTTP port.
    """

    host: str
    port: int

    @classmethod
    def of_bind(cls, host: str, port: int) -> PublicAddress:
        """The address for a server bound to ``host:port``."""
        return cls("127.0.0.1" if host in ("0.0.0.0", "::", "") else host, port)

    @property
    def base_url(self) -> str:
        """``http://host:port`` (IPv6 addresses in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"
