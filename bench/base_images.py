"""Base images: the first build of each built-in's root filesystem, its time and its disk.

``python -m bench.base_images`` runs this section alone; ``make bench`` runs it with the
rest (``section_base_images``). The images are built by ``agentbay local image pull``, as
users run it, one after the other into one scratch cache (a first build: nothing reused but
what the later images share with the earlier ones' trees), from the Debian archive. A build
waits mostly on dpkg and the disk, so the machine's load while it ran is shown beside it
(the CPU time the build used is the figure load changes least).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import Report, Target

#: Built-ins measured, with the issue's goal for the first build (seconds), if any.
IMAGES = {"code_latest": 60.0, "browser_latest": None, "linux_latest": 180.0}
BUILD_TIMEOUT_S = 1800


def first_build(name: str, cache: Path) -> dict[str, float]:
    """Build ``name`` into ``cache``; its wall time, CPU time, size and package count."""
    env = dict(os.environ, AGENTBAY_IMAGE_CACHE=str(cache))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "agentbay.cli", "local", "image", "pull", name],
        env=env,
        check=True,
        capture_output=True,
        timeout=BUILD_TIMEOUT_S,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    record = json.loads((cache / f"{name}.json").read_text())
    return {
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "bytes": float(record["size_bytes"]),
        "packages": float(len(record["packages"])),
        "load": max(load, os.getloadavg()[0]),
    }


def section_base_images(report: Report) -> None:
    """First-build time and disk of each built-in image (targets: code_latest <= 60 s,
    linux_latest <= 180 s on this 2-core machine)."""
    from agentbay_local.images import rootfs

    problem = rootfs.builder_problem()
    if problem:
        report.table("First build of each built-in image", ["image"], [[f"not run: {problem}"]])
        return
    rows: list[list[str]] = []
    cache = Path(tempfile.mkdtemp(prefix="agentbay-bench-base-"))
    try:
        for name, goal in IMAGES.items():
            _measure(report, rows, name, goal, cache)
        # du counts a file linked into several trees once.
        together = rootfs.tree_size(cache / "t")
    finally:
        rootfs.remove_tree(cache)
        shutil.rmtree(cache, ignore_errors=True)
    rows.append(["all three, one cache", "", "", f"{together / 1e6:.0f} MB", "", ""])
    mode = "rootless" if os.geteuid() != 0 else "root"
    report.table(
        f"First build of each built-in image ({mode}, `agentbay local image pull`, one after "
        "the other into a fresh cache)",
        ["image", "wall", "CPU", "disk", "packages", "load average"],
        rows,
        note="From the Debian archive, as `agentbay_local/images/builtin.yaml` lists them; "
        "disk is each tree's own (`du`), and the last row the cache's: a later image's "
        "files that an earlier one holds identically are hard links to those (browser_latest "
        "and linux_latest repeat code_latest's packages).",
    )


def _measure(
    report: Report, rows: list[list[str]], name: str, goal: float | None, cache: Path
) -> None:
    """One image's first build: its row, and its target if it has one."""
    figures = first_build(name, cache)
    rows.append(
        [
            name,
            f"{figures['wall']:.1f} s",
            f"{figures['cpu']:.1f} s",
            f"{figures['bytes'] / 1e6:.0f} MB",
            f"{figures['packages']:.0f}",
            f"{figures['load']:.1f}",
        ]
    )
    if goal is not None:
        report.target(
            Target(
                f"first build of {name}",
                f"<= {goal:.0f} s",
                f"{figures['wall']:.1f} s (CPU {figures['cpu']:.1f} s, load {figures['load']:.1f})",
                figures["wall"] <= goal,
            )
        )


def main() -> None:
    """This section alone, printed."""
    section_base_images(Report())


if __name__ == "__main__":
    main()
