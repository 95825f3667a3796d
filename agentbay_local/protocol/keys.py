"""API keys of the local runtime: generated when none is given, compared in constant time."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable

from agentbay_local.protocol.envelope import ApiError

_PREFIX = "Bearer "


def generate_key() -> str:
    """A fresh random key in the cloud's style (``akm-`` + 32 url-safe characters)."""
    return "akm-" + secrets.token_urlsafe(24)


class ApiKeys:
    """The keys this runtime accepts. Never logged; ``repr`` shows only how many there are."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = tuple(key.encode() for key in keys if key)
        if not self._keys:
            raise ValueError("at least one API key is required")

    def __repr__(self) -> str:
        return f"ApiKeys(<{len(self._keys)} key(s)>)"

    def check(self, authorization: str | None) -> None:
        """Accept ``Bearer <key>`` for a known key, else raise the cloud's auth error."""
        if not authorization:
            raise ApiError(
                400,
                "InvalidApiKey.NotFound",
                "The api key is missing: send the form field Authorization=Bearer <key>.",
            )
        candidate = authorization.removeprefix(_PREFIX).strip().encode()
        # Compare against every key so the time taken does not tell which one nearly matched.
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(candidate, key)
        if not matched:
            raise ApiError(400, "InvalidApiKey.NotFound", "The specified api key is not found.")
