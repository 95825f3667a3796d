"""A token bucket per client for failed credential checks (bad API keys).

Each client (a source address) has a bucket of ``burst`` tokens, refilled at ``per_second``;
every failed check takes one. A client whose bucket is empty is throttled until a token
is back: its failures are answered with the cloud's throttling error instead of the
auth error. Successful checks never touch the bucket, so a client with a good key is
never slowed, whoever else sends bad ones from the same address.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

#: Bad keys a client may send at once before it is throttled.
FAILURE_BURST = 20
#: Bad keys per second a throttled client gets answered (one token back per second).
FAILURES_PER_SECOND = 1.0
#: Clients remembered at most; past it the buckets that are full again are forgotten.
_MAX_CLIENTS = 4096


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class FailureThrottle:
    """Counts failed checks per client and says when a client has to wait."""

    def __init__(
        self,
        burst: int = FAILURE_BURST,
        per_second: float = FAILURES_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.per_second = per_second
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def failed(self, client: str) -> float:
        """Record one failure of ``client``: 0.0 if it may be answered as such, else how
        many seconds the client must wait before its next failure is (it is throttled)."""
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= _MAX_CLIENTS:
                self._forget_full(now)
            bucket = self._buckets[client] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.per_second)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.per_second

    def _forget_full(self, now: float) -> None:
        for client, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.stamp) * self.per_second >= self.burst:
                del self._buckets[client]
        if len(self._buckets) >= _MAX_CLIENTS:  # a flood from many addresses: start over
            self._buckets.clear()
