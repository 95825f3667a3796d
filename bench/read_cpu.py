"""Where a pipelined 10 MB ``read_file`` spends its CPU: client, runtime, tool server.

``python -m bench.read_cpu`` starts ``agentbay local serve``, reads a 10 MB file five times
through the sync SDK and prints the wall time and the CPU seconds (user + system, from
/proc) of each process per read. On 2 cores the read cannot be faster than half the sum.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from agentbay import AgentBay, Config
from bench.__main__ import KEY, MB, session_pids, start_runtime

READS = 5
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def main() -> None:
    process, endpoint = start_runtime(Path(tempfile.mkdtemp()))
    try:
        bay = AgentBay(api_key=KEY, cfg=Config(endpoint=endpoint, timeout_ms=60000))
        session = bay.create().session
        fs = session.file_system
        fs.write_file("/tmp/ten.txt", "y" * (10 * MB))
        fs.read_file("/tmp/ten.txt")
        tools = session_pids(session.session_id)

        def cpu() -> tuple[float, float, float]:
            mine = os.times()
            return (
                mine.user + mine.system,
                cpu_seconds(process.pid),
                sum(map(cpu_seconds, tools)),
            )

        before, start = cpu(), time.perf_counter()
        for _ in range(READS):
            assert len(fs.read_file("/tmp/ten.txt").content) == 10 * MB
        wall = (time.perf_counter() - start) / READS
        client, runtime, toolserver = ((a - b) / READS for a, b in zip(cpu(), before, strict=True))
        print(f"per 10 MB read ({READS} reads): wall {wall:.3f} s")
        print(f"  client      {client:.3f} s CPU")
        print(f"  runtime     {runtime:.3f} s CPU")
        print(f"  tool server {toolserver:.3f} s CPU")
        session.delete()
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    main()
