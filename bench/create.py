"""``python -m bench.create [N] [TREE ...]``: create -> first command from a warm pool, by step.

Each TREE (a checkout of this repository; default: this one) gets its own ``agentbay local
serve`` running its code (``PYTHONPATH``), and the N iterations alternate between them, so
a before/after comparison sees the same machine load: ``git worktree add /tmp/old <commit>``,
then ``python -m bench.create 40 /tmp/old .``. The client is always this tree's SDK. Before
each create the pool is warm (``bench.warm``), as in ``make bench``.

Printed per tree: p50/p95 of the whole, and the p50 of each request of it (the SDK's create
is CreateMcpSession alone since the file-transfer context is made by the first transfer;
before, GetContext, CreateMcpSession, GetContextInfo; the command is a CallMcpTool). To see
an older SDK too, run this module from that checkout (``cd /tmp/old && python -m
bench.create 20``): ``python -m`` imports the ``agentbay`` of the working directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from agentbay import AgentBay, Config
from bench.harness import ms, p50, pct
from bench.limits import http_round_trip_s, spawn_echo_s
from bench.warm import POOL_SIZE, wait_for_warm_pool
from tests.support.spawn import free_port, serve_argv, wait_until_listening

KEY = "akm-bench-create"


class Side:
    """One runtime running one tree's code, and a client of it that times each request."""

    def __init__(self, tree: Path) -> None:
        self.tree = tree
        self.data_dir = Path(tempfile.mkdtemp(prefix="agentbay-bench-create-"))
        port = free_port()
        argv = serve_argv(self.data_dir, port, KEY, "--pool-size", str(POOL_SIZE))
        env = {**os.environ, "PYTHONPATH": str(tree)}
        self.process = subprocess.Popen(
            argv, env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until_listening(self.process, port)
        self.bay = AgentBay(
            api_key=KEY, cfg=Config(endpoint=f"http://127.0.0.1:{port}", timeout_ms=60000)
        )
        self.totals: list[float] = []
        self.steps: dict[str, list[float]] = defaultdict(list)
        self._timing = False
        send: Any = self.bay.api.call  # overloaded per action; called with any here

        def timed_call(action: str, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return send(action, *args, **kwargs)
            finally:
                if self._timing:
                    self.steps[action].append(time.perf_counter() - start)

        self.bay.api.call = timed_call  # type: ignore[method-assign]

    def once(self, timed: bool = True) -> None:
        """One create -> first command from a warm pool, then the session's delete."""
        wait_for_warm_pool(self.process.pid, self.data_dir / "sessions", POOL_SIZE)
        self._timing = timed
        start = time.perf_counter()
        session = self.bay.create().session
        session.command.execute_command("echo ready", 5000)
        elapsed = time.perf_counter() - start
        self._timing = False
        if timed:
            self.totals.append(elapsed)
        session.delete()

    def stop(self) -> None:
        """End the runtime."""
        self.bay.close()
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    trees = [Path(arg).resolve() for arg in sys.argv[2:]] or [Path(__file__).parent.parent]
    sides = []
    try:
        for tree in trees:
            sides.append(Side(tree))
        for side in sides:
            side.once(timed=False)  # the first create of a runtime warms its own caches
        for number in range(rounds):
            for side in sides if number % 2 == 0 else sides[::-1]:
                side.once()
        limit = 2 * http_round_trip_s(100) + spawn_echo_s(30)
        print(f"machine limit (2 HTTP round trips + bash -c 'echo x'): {ms(limit)}")
        for side in sides:
            steps = ", ".join(f"{name} {ms(p50(times))}" for name, times in side.steps.items())
            print(
                f"{side.tree}: p50 {ms(p50(side.totals))}, p95 {ms(pct(side.totals, 0.95))}"
                f" ({len(side.totals)} creates; p50 by request: {steps})"
            )
    finally:
        for side in sides:
            side.stop()


if __name__ == "__main__":
    main()
