"""10 MB of mixed text written and read by our SDK and by the official client, with CPU.

``python -m bench.transfer_cpu [ROUNDS]`` starts ``agentbay local serve`` and alternates, ROUNDS
times (default 3), the official client (wuying-agentbay-sdk 0.9.3 in its own venv, as
``make bench`` installs it) and our sync SDK: each writes 10 MB (51,200-character append
chunks) and reads it back. It prints medians of the wall time, the client's CPU and the
runtime's CPU (from /proc) per write and per read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentbay import AgentBay, Config
from bench.__main__ import KEY, MB, official_python, start_runtime
from bench.harness import mixed_text, p50
from bench.read_cpu import cpu_seconds

#: Run by the official client's interpreter: one write and one read, timings as JSON.
OFFICIAL = """
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from harness import mixed_text
from agentbay import AgentBay
try:
    from loguru import logger
    logger.remove()
except ImportError:
    pass
text = mixed_text(10 * 1024 * 1024)
session = AgentBay().create().session
fs = session.file_system
out = {}
for op, call in (("write", lambda: fs.write_file("/tmp/w.txt", text)),
                 ("read", lambda: fs.read_file("/tmp/w.txt"))):
    cpu, start = os.times(), time.perf_counter()
    result = call()
    out[op] = time.perf_counter() - start
    after = os.times()
    out[op + " cpu"] = after.user + after.system - cpu.user - cpu.system
    assert result.success
assert fs.read_file("/tmp/w.txt").content == text
session.delete()
print(json.dumps(out))
"""


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    official = official_python()
    process, endpoint = start_runtime(Path(tempfile.mkdtemp()))
    samples: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        samples.setdefault(key, []).append(value)

    try:
        bay = AgentBay(api_key=KEY, cfg=Config(endpoint=endpoint, timeout_ms=300000))
        fs = bay.create().session.file_system
        text = mixed_text(10 * MB)
        env = {**os.environ, "AGENTBAY_ENDPOINT": endpoint, "AGENTBAY_API_KEY": KEY}
        for _ in range(rounds):
            if official:
                runtime = cpu_seconds(process.pid)
                probe = subprocess.run(
                    [str(official), "-c", OFFICIAL, str(Path(__file__).parent)],
                    env=env,
                    cwd=tempfile.gettempdir(),
                    capture_output=True,
                    text=True,
                    timeout=900,
                    check=True,
                )
                for key, value in json.loads(probe.stdout.splitlines()[-1]).items():
                    add(f"official {key}", value)
                add("official runtime cpu (write+read)", cpu_seconds(process.pid) - runtime)
            calls: tuple[tuple[str, Callable[[], Any]], ...] = (
                ("write", lambda: fs.write_file("/tmp/w.txt", text)),
                ("read", lambda: fs.read_file("/tmp/w.txt")),
            )
            for op, call in calls:
                runtime, mine, start = cpu_seconds(process.pid), os.times(), time.perf_counter()
                assert call().success
                add(f"ours {op}", time.perf_counter() - start)
                after = os.times()
                add(f"ours {op} cpu", after.user + after.system - mine.user - mine.system)
                add(f"ours runtime cpu ({op})", cpu_seconds(process.pid) - runtime)
        bay.close()
    finally:
        process.terminate()
        process.wait()
    print(f"medians of {rounds} rounds (official client and ours alternating), seconds:")
    for key, values in samples.items():
        print(f"  {key:36s} {p50(values):.3f}")
    for op in ("write", "read"):
        if f"official {op}" in samples:
            ratio = p50(samples[f"official {op}"]) / p50(samples[f"ours {op}"])
            print(f"  10 MB {op}_file: ours {ratio:.2f}x faster than the official client")


if __name__ == "__main__":
    main()
