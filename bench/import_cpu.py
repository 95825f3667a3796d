"""Import cost of the SDK in fresh interpreters: CPU (from ``wait4``) and wall, bare subtracted.

``python -m bench.import_cpu [TREE] [RUNS]`` imports the ``agentbay`` package found in TREE
(default: this checkout; a ``git archive`` of another commit gives its "before" figure) RUNS
times per statement (default 15), each run right after a bare interpreter so that a change of
the machine's load hits both, and prints the medians of (statement - bare). Twice: first
without bytecode caches (TREE's ``__pycache__`` removed, none written: every module compiled
from source), then with them, as an installed package has. ``make bench`` reports the wall
time with caches (``import_time``); CPU is the steadier figure on a shared machine.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

STATEMENTS = (
    "import agentbay",
    "from agentbay import AgentBay",
    "from agentbay import AsyncAgentBay",
)


def run(
    code: str, cwd: Path, env: dict[str, str], python: str = sys.executable
) -> tuple[float, float]:
    """CPU and wall seconds of ``python -c code`` in ``cwd``."""
    start = time.perf_counter()
    child = subprocess.Popen([python, "-c", code], cwd=cwd, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"python -c {code!r} failed in {cwd}")
    return usage.ru_utime + usage.ru_stime, time.perf_counter() - start


def measure(tree: Path, runs: int, caches: bool) -> None:
    """Print the medians of each statement minus a bare interpreter."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if not caches:
        for folder in (tree / "agentbay").rglob("__pycache__"):
            shutil.rmtree(folder)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    for statement in STATEMENTS:
        run(statement, tree, env)  # with caches: writes them
    label = "with bytecode caches" if caches else "compiled from source"
    for statement in STATEMENTS:
        cpu, wall = [], []
        for _ in range(runs):
            bare_cpu, bare_wall = run("pass", tree, env)
            full_cpu, full_wall = run(statement, tree, env)
            cpu.append(full_cpu - bare_cpu)
            wall.append(full_wall - bare_wall)
        print(
            f"{label}  {statement:36s}  CPU {statistics.median(cpu):.4f} s"
            f"  wall {statistics.median(wall):.4f} s  (medians of {runs})"
        )


def main() -> None:
    tree = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).parents[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    print(f"{tree}, load average {os.getloadavg()[0]:.1f}")
    measure(tree, runs, caches=False)
    measure(tree, runs, caches=True)


if __name__ == "__main__":
    main()
