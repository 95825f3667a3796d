"""User images: the build of a one-step Imagefile, and create -> first command against a built-in.

``python -m bench.images`` runs this section alone on its own ``agentbay local serve``;
``make bench`` runs it with the rest (``section_images``). Builds go through the CLI, as
users run them, into the data dir of the running runtime.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agentbay import AgentBay, Config
from agentbay.session_params import CreateSessionParams
from bench.harness import Report, Target, ms, p50, pct
from bench.warm import POOL_SIZE, wait_for_warm_pool

BUILDS = 5
SESSIONS = 30
IMAGE = "imgc-bench0000000000001"


def build_seconds(data_dir: Path, name: str, imagefile: Path) -> float:
    """Wall time of one ``agentbay local image build -f`` (the CLI's start-up included)."""
    argv = [sys.executable, "-m", "agentbay.cli", "local", "image", "build", name]
    start = time.perf_counter()
    subprocess.run(
        [*argv, "-f", str(imagefile), "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return time.perf_counter() - start


def list_seconds(data_dir: Path) -> float:
    """Wall time of ``agentbay local image list``: the CLI's start-up, the baseline."""
    argv = [sys.executable, "-m", "agentbay.cli", "local", "image", "list"]
    start = time.perf_counter()
    subprocess.run([*argv, "--data-dir", str(data_dir)], check=True, capture_output=True)
    return time.perf_counter() - start


def create_and_run(bay: AgentBay, image: str) -> float:
    """Seconds from CreateMcpSession to the first command's answer (release not counted)."""
    start = time.perf_counter()
    session = bay.create(CreateSessionParams(image_id=image)).session
    session.command.execute_command("echo ready", 30000)
    elapsed = time.perf_counter() - start
    session.delete()
    return elapsed


def section_images(report: Report, bay: AgentBay, data_dir: Path, runtime_pid: int) -> None:
    """Build time of ``RUN true`` and create -> first command from a user image vs a built-in.

    Each create starts from warm pools: both images' pools full, the runtime at rest.
    """
    folder = Path(tempfile.mkdtemp(prefix="agentbay-bench-image-"))
    imagefile = folder / "Imagefile"
    imagefile.write_text("FROM linux_latest\nRUN true\n")
    builds: list[float] = []
    baseline: list[float] = []
    for _ in range(BUILDS):  # interleaved with the baseline, so load changes hit both alike
        builds.append(build_seconds(data_dir, IMAGE, imagefile))
        baseline.append(list_seconds(data_dir))
    report.table(
        f"Build of an Imagefile with one `RUN true` ({BUILDS} builds, CLI)",
        ["command", "p50", "max"],
        [
            ["`agentbay local image build -f`", ms(p50(builds)), ms(max(builds))],
            ["`agentbay local image list` (CLI start-up)", ms(p50(baseline)), ms(max(baseline))],
        ],
        note="The build's own work is the difference: a sandbox of the base, the step, "
        "capturing the layer, registering it.",
    )
    report.target(
        Target("image build, one RUN true, p50", "< 2 s", ms(p50(builds)), p50(builds) < 2.0)
    )

    def warm_create(image: str) -> float:
        wait_for_warm_pool(runtime_pid, data_dir / "sessions", 2 * POOL_SIZE)
        return create_and_run(bay, image)

    # One session each first: the pool keeps sandboxes for an image once it is used.
    create_and_run(bay, IMAGE)
    create_and_run(bay, "linux_latest")
    builtin: list[float] = []
    mine: list[float] = []
    for _ in range(SESSIONS):  # interleaved, so load changes hit both alike
        builtin.append(warm_create("linux_latest"))
        mine.append(warm_create(IMAGE))
    ratio = p50(mine) / p50(builtin)
    report.table(
        f"Create -> first command, user image vs built-in ({SESSIONS} sessions each, warm pools)",
        ["image", "p50", "p95"],
        [
            ["linux_latest", ms(p50(builtin)), ms(pct(builtin, 0.95))],
            [f"{IMAGE} (FROM linux_latest)", ms(p50(mine)), ms(pct(mine, 0.95))],
        ],
    )
    report.target(
        Target(
            "create -> first command, user image / built-in (p50)",
            "<= 1.10",
            f"{ratio:.2f}",
            ratio <= 1.10,
        )
    )


def main() -> None:
    """This section alone, printed."""
    from bench.__main__ import KEY, start_runtime

    data_dir = Path(tempfile.mkdtemp(prefix="agentbay-bench-"))
    process, endpoint = start_runtime(data_dir)
    try:
        with AgentBay(api_key=KEY, cfg=Config(endpoint=endpoint, timeout_ms=120000)) as bay:
            section_images(Report(), bay, data_dir, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=60)


if __name__ == "__main__":
    main()
