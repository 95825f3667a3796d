"""Measure sandbox start-up, tool round trips and idle memory on this machine.

Run as root::

    .venv/bin/python -m agentbay.local.sandbox._measure [--sessions 30] [--unisolated]

Prints create→first ``echo`` p50/p95 with a warm pool and without a pool, the ``echo``
round trip, release time, and the idle resident memory of one session.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from agentbay.local.sandbox import SandboxManager

ECHO = {"command": "echo ok", "timeout_ms": 5000}


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def _line(label: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{label:<44} p50 {_pct(ms, 50):7.2f} ms   p95 {_pct(ms, 95):7.2f} ms   "
        f"(n={len(ms)}, min {min(ms):.2f}, max {max(ms):.2f})"
    )


async def _create_and_echo(manager: SandboxManager, session_id: str) -> float:
    started = time.perf_counter()
    sandbox = await manager.create(session_id, hostname=session_id, image_id="linux_latest")
    answer = await sandbox.call_tool("shell", ECHO, timeout_s=10)
    elapsed = time.perf_counter() - started
    assert answer == {"content": [{"type": "text", "text": "ok\n"}], "isError": False}, answer
    return elapsed


async def _wait_for_pool(manager: SandboxManager) -> None:
    for _ in range(1000):
        if manager.ready_count() >= manager.pool_size:
            return
        await asyncio.sleep(0.005)


async def measure(data_dir: Path, sessions: int, isolated: bool) -> None:
    """Run every measurement and print the results."""
    print(f"isolated={isolated}, {sessions} sessions per scenario")

    # 1. Warm pool: each create finds a started sandbox (the pool refills in between).
    manager = SandboxManager(data_dir / "pool", isolated=isolated, pool_size=2)
    await manager.start()
    pooled, releases = [], []
    for index in range(sessions):
        await _wait_for_pool(manager)
        pooled.append(await _create_and_echo(manager, f"p-{index}"))
        started = time.perf_counter()
        await manager.release(f"p-{index}")
        releases.append(time.perf_counter() - started)
    await manager.close()
    print(_line("create -> first echo, warm pool (size 2)", pooled))
    print(_line("release", releases))

    # 2. No pool: every create starts a sandbox from scratch.
    manager = SandboxManager(data_dir / "cold", isolated=isolated, pool_size=0)
    await manager.start()
    cold = []
    for index in range(sessions):
        cold.append(await _create_and_echo(manager, f"c-{index}"))
        await manager.release(f"c-{index}")
    print(_line("create -> first echo, no pool", cold))

    # 3. Round trip of a tool call, and idle memory.
    sandbox = await manager.create("rt", hostname="rt", image_id="linux_latest")
    await sandbox.call_tool("shell", ECHO, timeout_s=10)
    trips = []
    for _ in range(200):
        started = time.perf_counter()
        await sandbox.call_tool("shell", ECHO, timeout_s=10)
        trips.append(time.perf_counter() - started)
    print(_line("shell `echo ok` round trip", trips))
    info = []
    for _ in range(200):
        started = time.perf_counter()
        await sandbox.call_tool("get_file_info", {"path": "/etc/hostname"}, timeout_s=10)
        info.append(time.perf_counter() - started)
    print(_line("get_file_info round trip (no process)", info))
    await asyncio.sleep(0.5)
    pids = sandbox.pids()
    print(f"idle session: {len(pids)} processes, RSS {sandbox.rss_bytes() / 2**20:.1f} MiB")
    await manager.close()


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--unisolated", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentbay-measure-") as scratch:
        asyncio.run(measure(Path(scratch), options.sessions, not options.unisolated))


if __name__ == "__main__":
    main()
