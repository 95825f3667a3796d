"""A bounded soak: many sessions doing mixed work against one `agentbay local serve`.

``python -m bench.soak [--sessions 64] [--minutes 3]`` (``make soak``) starts the runtime as
users run it, opens the sessions with the async SDK and keeps each busy until the time is
up: shell commands, code, small and chunked file writes and reads, directory listings and
context file transfers (upload and download through pre-signed URLs). It counts calls
and errors, samples the runtime's resident memory and prints a summary; the JSON lands in
``docs/bench/soak.json``. Exits 1 on any error (a load test that hides failures is no test).

Traffic goes to the loopback runtime only; the loop is bounded in time and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from agentbay import AsyncAgentBay, Config
from agentbay.aio.session import AsyncSession
from bench.__main__ import KEY, PLOTS, rss_kb, start_runtime

MB = 1024 * 1024


@dataclass
class Tally:
    """What the soak did and saw."""

    calls: int = 0
    errors: int = 0
    first_errors: list[str] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)

    def ok(self, kind: str) -> None:
        self.calls += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1

    def fail(self, kind: str, detail: str) -> None:
        self.calls += 1
        self.errors += 1
        if len(self.first_errors) < 10:
            self.first_errors.append(f"{kind}: {detail[:300]}")


async def _one_round(
    session: AsyncSession, rng: random.Random, tally: Tally, scratch: Path
) -> None:
    """One mixed step of one session; every outcome is checked, not just awaited."""
    kind = rng.choice(["shell", "shell", "code", "write_read", "big_file", "list", "transfer"])
    try:
        if kind == "shell":
            token = f"t{rng.randrange(10**9)}"
            result = await session.command.execute_command(f"echo {token}")
            good = result.success and result.output.strip() == token
        elif kind == "code":
            ran = await session.code.run_code("print(sum(range(1000)))", "python")
            good = ran.success and ran.result.strip() == "499500"
        elif kind == "write_read":
            text = "é-ascii-\n" * rng.randrange(1, 200)
            path = f"/tmp/soak-{rng.randrange(100)}.txt"
            wrote = await session.file_system.write_file(path, text)
            read = await session.file_system.read_file(path)
            good = wrote.success and read.success and read.content == text
        elif kind == "big_file":
            text = "x" * (MB // 2) + "ü\n" * 1000  # several 51,200-character chunks each way
            wrote = await session.file_system.write_file("/tmp/soak-big.txt", text)
            read = await session.file_system.read_file("/tmp/soak-big.txt")
            good = wrote.success and read.success and read.content == text
        elif kind == "list":
            listing = await session.file_system.list_directory("/")
            good = listing.success and any(entry["name"] == "tmp" for entry in listing.entries)
        else:
            payload = scratch / f"up-{rng.randrange(10**9)}.bin"
            payload.write_bytes(rng.randbytes(256 * 1024))
            up = await session.file_system.upload_file(
                str(payload), "/tmp/soak-transfer.bin", wait_timeout=120
            )
            back = scratch / f"down-{rng.randrange(10**9)}.bin"
            down = await session.file_system.download_file(
                "/tmp/soak-transfer.bin", str(back), wait_timeout=120
            )
            good = up.success and down.success and back.read_bytes() == payload.read_bytes()
            payload.unlink(missing_ok=True)
            back.unlink(missing_ok=True)
            if not good:
                tally.fail(kind, f"upload: {up.error!r}, download: {down.error!r}")
                return
        if good:
            tally.ok(kind)
        else:
            tally.fail(kind, "wrong or failed answer")
    except Exception as exc:  # counted and shown: the soak must see every failure
        tally.fail(kind, f"{type(exc).__name__}: {exc}")


async def _soak(endpoint: str, sessions: int, seconds: float, tally: Tally, scratch: Path) -> None:
    config = Config(endpoint=endpoint, timeout_ms=120_000)
    async with AsyncAgentBay(api_key=KEY, cfg=config) as bay:
        created = await asyncio.gather(*(bay.create() for _ in range(sessions)))
        live = [result.session for result in created if result.success and result.session]
        for result in created:
            if not result.success:
                tally.fail("create", result.error_message)
        deadline = time.monotonic() + seconds

        async def worker(index: int, session: AsyncSession) -> None:
            rng = random.Random(index)
            while time.monotonic() < deadline:
                await _one_round(session, rng, tally, scratch)

        try:
            await asyncio.gather(*(worker(i, s) for i, s in enumerate(live)))
        finally:
            for deleted in await asyncio.gather(*(s.delete() for s in live)):
                if not deleted.success:
                    tally.fail("delete", deleted.error_message)


def main() -> int:
    """Run the soak; 0 when nothing failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=64)
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agentbay-soak-") as scratch_dir:
        scratch = Path(scratch_dir)
        process, endpoint = start_runtime(scratch / "data")
        samples: list[tuple[float, int]] = []
        tally = Tally()
        started = time.monotonic()
        try:

            async def sampled() -> None:
                task = asyncio.ensure_future(
                    _soak(endpoint, args.sessions, args.minutes * 60, tally, scratch)
                )
                while not task.done():
                    samples.append((time.monotonic() - started, rss_kb(process.pid)))
                    await asyncio.wait([task], timeout=2.0)
                await task

            asyncio.run(sampled())
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=120)
    elapsed = time.monotonic() - started
    # Growth is read after warm-up (the first 20 % of the run fills caches and pools).
    warm = [rss for t, rss in samples if t >= elapsed * 0.2] or [rss for _, rss in samples]
    summary = {
        "sessions": args.sessions,
        "seconds": round(elapsed, 1),
        "calls_per_s": round(tally.calls / elapsed, 1),
        "runtime_rss_mib": {
            "after_warm_up": round(warm[0] / 1024, 1),
            "at_end": round(warm[-1] / 1024, 1),
            "max": round(max(warm) / 1024, 1),
            "growth_after_warm_up": round((warm[-1] - warm[0]) / 1024, 1),
        },
        **asdict(tally),
    }
    PLOTS.mkdir(parents=True, exist_ok=True)
    (PLOTS / "soak.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 1 if tally.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
