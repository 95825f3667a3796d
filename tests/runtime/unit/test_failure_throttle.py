"""The bad-key throttle's token bucket, on a clock the test moves."""

from __future__ import annotations

from agentbay_local.protocol.throttle import FailureThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_one_failure_a_second_per_client() -> None:
    clock = Clock()
    throttle = FailureThrottle(burst=3, per_second=1.0, clock=clock)
    assert [throttle.failed("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert throttle.failed("a") == 1.0  # empty: wait a whole second for the next token
    assert throttle.failed("b") == 0.0  # another client has a bucket of its own
    clock.now += 0.5
    assert throttle.failed("a") == 0.5
    clock.now += 0.5
    assert throttle.failed("a") == 0.0  # one token back, taken
    assert throttle.failed("a") > 0
    clock.now += 60
    assert [throttle.failed("a") for _ in range(3)] == [0.0, 0.0, 0.0]  # refilled to the burst
    assert throttle.failed("a") > 0  # never above it
