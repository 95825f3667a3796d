"""A 200 MB upload_file / download_file keeps memory flat in the client and the runtime.

Both run in this test process (the runtime is embedded), so one resident-set sampler sees
them together: if either side held the file in memory, the peak would rise by 200 MB.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentbay import AgentBay, AsyncAgentBay, Config
from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.conftest import API_KEY

SIZE = 200 * 1024 * 1024
#: Allowed growth of the resident set: buffers, thread stacks, allocator slack; not the file.
FLAT_MB = 64


def resident_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


class PeakSampler:
    """Samples this process's resident set every 10 ms while a transfer runs."""

    def __init__(self) -> None:
        self.baseline = resident_bytes()
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, resident_bytes())

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.baseline) / 1024 / 1024


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    path = tmp_path_factory.mktemp("big") / "payload.bin"
    digest = hashlib.sha256()
    block = os.urandom(1024 * 1024)
    with path.open("wb") as handle:
        for index in range(SIZE // len(block)):
            chunk = index.to_bytes(8, "big") + block[8:]  # no two blocks alike
            handle.write(chunk)
            digest.update(chunk)
    yield path, digest.hexdigest()
    path.unlink()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def measure(transfer: Callable[[], None]) -> float:
    with PeakSampler() as sampler:
        transfer()
    return sampler.growth_mb


def test_200_mb_round_trip_sync(
    runtime: EmbeddedRuntime, big_file: tuple[Path, str], tmp_path: Path
) -> None:
    source, digest = big_file
    target = tmp_path / "back.bin"
    cfg = Config(endpoint=runtime.endpoint, timeout_ms=60000)
    with AgentBay(api_key=API_KEY, cfg=cfg) as bay, bay.create().session as session:
        fs = session.file_system
        fs.write_file("/tmp/warm.txt", "x")  # connections and threads exist before sampling
        results, sent, received = [], [], []

        def both() -> None:
            results.append(
                fs.upload_file(
                    str(source), "/root/big.bin", wait_timeout=120, progress_cb=sent.append
                )
            )
            results.append(
                fs.download_file(
                    "/root/big.bin", str(target), wait_timeout=120, progress_cb=received.append
                )
            )

        growth = measure(both)
        assert all(r.success for r in results), [r.error for r in results]
        size = session.command.execute_command("stat -c %s /root/big.bin", 5000).output
        assert int(size) == SIZE
    for progress in (sent, received):
        assert len(progress) > 100 and progress == sorted(progress) and progress[-1] == SIZE
    assert sha256(target) == digest
    assert growth < FLAT_MB, f"resident set grew by {growth:.0f} MB for a 200 MB round trip"


def test_200_mb_round_trip_async(
    runtime: EmbeddedRuntime, big_file: tuple[Path, str], tmp_path: Path
) -> None:
    source, digest = big_file
    target = tmp_path / "back.bin"

    async def main() -> float:
        cfg = Config(endpoint=runtime.endpoint, timeout_ms=60000)
        async with AsyncAgentBay(api_key=API_KEY, cfg=cfg) as bay:
            session = (await bay.create()).session
            async with session:
                await session.file_system.write_file("/tmp/warm.txt", "x")
                with PeakSampler() as sampler:
                    up = await session.file_system.upload_file(
                        str(source), "/root/big.bin", wait_timeout=120
                    )
                    down = await session.file_system.download_file(
                        "/root/big.bin", str(target), wait_timeout=120
                    )
                assert up.success and down.success, (up.error, down.error)
                return sampler.growth_mb

    growth = asyncio.run(main())
    assert sha256(target) == digest
    assert growth < FLAT_MB, f"resident set grew by {growth:.0f} MB for a 200 MB round trip"
