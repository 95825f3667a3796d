"""HMAC signatures of this process: pre-signed context file and screenshot URLs, session page
authcodes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import quote


class UrlSigner:
    """Signs and checks the runtime's file URLs with a secret of this process."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def mac(self, message: str) -> str:
        """The hex HMAC-SHA256 of ``message`` under this process's secret."""
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def _signature(self, method: str, context_id: str, key: str, expires: int) -> str:
        return self.mac(f"{method}\n{context_id}\n{key}\n{expires}")

    def url(self, base_url: str, method: str, context_id: str, key: str, expires: int) -> str:
        """A URL that allows ``method`` on one context file until ``expires`` (epoch seconds)."""
        query = self.query(method, context_id, key, expires)
        return f"{base_url}/files/{quote(context_id)}/{quote(key)}?{query}"

    def query(self, method: str, scope: str, key: str, expires: int) -> str:
        """The ``expires=...&signature=...`` query that ``valid`` accepts for exactly these."""
        return f"expires={expires}&signature={self._signature(method, scope, key, expires)}"

    def valid(self, method: str, context_id: str, key: str, expires: str, signature: str) -> bool:
        """Whether a request carries a live, untampered signature for exactly this file."""
        try:
            deadline = int(expires)
        except ValueError:
            return False
        if deadline < time.time():
            return False
        expected = self._signature(method, context_id, key, deadline)
        return hmac.compare_digest(expected, signature)
