"""``make bench``: the SDK and the local runtime measured side by side, in one run.

Every figure is a distribution or a ratio against a baseline measured in the same run: the
floor is a raw httpx POST of the identical form to the same runtime; the official client
(wuying-agentbay-sdk 0.9.3, in its own venv) is measured against the same runtime too.
Results go to docs/benchmarks.md with plots in docs/bench/.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from agentbay import AgentBay, AsyncAgentBay, Config
from bench.base_images import section_base_images
from bench.harness import (
    Report,
    Target,
    ainterleaved,
    interleaved,
    interleaved_samplers,
    mixed_text,
    ms,
    p50,
    pct,
    timed,
    timing,
)
from bench.image_roots import section_image_roots
from bench.images import section_images
from bench.import_cpu import run as run_python
from bench.limits import copy_bytes_per_s, http_round_trip_s, spawn_echo_s
from bench.mcp import section_mcp
from bench.network import section_network
from bench.official import OfficialProbe
from bench.pause import section_pause
from bench.shared_network import section_shared_network
from bench.streams import section_streams
from bench.warm import POOL_SIZE, wait_for_warm_pool
from tests.support.official import InstallFailed, ensure_official, official_venv
from tests.support.spawn import free_port, serve_argv, wait_until_listening

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PLOTS = DOCS / "bench"
KEY = "akm-bench"
CALLS = 300
#: Samples behind each throughput median (single transfers moved by 30 % between runs).
TRANSFER_REPEATS = 3
READS_10MB = 5
#: bash processes behind the in-session spawn figure.
SPAWNS = 200
#: Fresh interpreters behind each import figure.
IMPORT_RUNS = 15
MB = 1024 * 1024
#: Concurrent sessions of the scaling figure's largest step (the issue's target).
MANY_SESSIONS = 256


def start_runtime(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`agentbay local serve` in its own process, as users run it."""
    port = free_port()
    sessions = str(MANY_SESSIONS + 16)
    argv = serve_argv(
        data_dir, port, KEY, "--pool-size", str(POOL_SIZE), "--max-sessions", sessions
    )
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until_listening(process, port)
    return process, f"http://127.0.0.1:{port}"


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    """A memory figure of a process in KiB (0 once it has exited)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def session_pids(session_id: str) -> list[int]:
    """The processes in a session's cgroup (its tool server and what it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if session_id in (entry / "cgroup").read_text():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def session_rss_bytes(session_id: str) -> int:
    """Resident memory of every process in a session's cgroup."""
    return sum(rss_kb(pid) * 1024 for pid in session_pids(session_id))


def floor_request(action: str, form: dict[str, str]) -> dict[str, Any]:
    """Keyword arguments of httpx's ``post`` for one action: the form our SDK sends."""
    query = {
        "Action": action,
        "Format": "json",
        "Version": "2025-05-06",
        "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "SignatureNonce": uuid.uuid4().hex,
    }
    return {
        "url": "/",
        "params": query,
        "data": dict(sorted({**form, "Authorization": f"Bearer {KEY}"}.items())),
        "headers": {"x-acs-action": action, "x-acs-version": "2025-05-06"},
    }


def tool_form(session_id: str, name: str, args: dict[str, Any]) -> dict[str, str]:
    return {"SessionId": session_id, "Name": name, "Args": json.dumps(args, ensure_ascii=False)}


class Floor:
    """The identical form POSTed with a bare httpx client: the cost of the wire itself."""

    def __init__(self, endpoint: str) -> None:
        self.http = httpx.Client(base_url=endpoint, timeout=60)

    def post(self, action: str, form: dict[str, str]) -> dict[str, Any]:
        return self.http.post(**floor_request(action, form)).json()  # type: ignore[no-any-return]

    def tool(self, session_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        return self.post("CallMcpTool", tool_form(session_id, name, args))


class AsyncFloor:
    """The async floor: the identical form POSTed with a bare ``httpx.AsyncClient``."""

    def __init__(self, endpoint: str) -> None:
        self.http = httpx.AsyncClient(base_url=endpoint, timeout=60)

    async def post(self, action: str, form: dict[str, str]) -> dict[str, Any]:
        response = await self.http.post(**floor_request(action, form))
        return response.json()  # type: ignore[no-any-return]

    async def tool(self, session_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        return await self.post("CallMcpTool", tool_form(session_id, name, args))


def official_python() -> Path | None:
    """The official 0.9.3 client's interpreter, for comparison (None: it cannot be installed)."""
    if not official_venv("0.9.3").joinpath(".ready").exists():
        print("installing the official client (wuying-agentbay-sdk==0.9.3) for comparison...")
    try:
        return ensure_official("0.9.3")
    except InstallFailed as exc:
        print(f"official client unavailable, comparison skipped: {exc}")
        return None


def import_time(python: str, statement: str, cwd: str) -> float:
    """Median CPU seconds of a fresh interpreter running ``statement``, minus a bare one.

    Each of ``IMPORT_RUNS`` runs comes right after a bare interpreter, so a change of load
    hits both (wall time of ~20 ms interpreters moved more than the imports cost). With
    bytecode caches, as an installed package has them (pip compiles at install; the official
    client's venv has them): a ``PYTHONDONTWRITEBYTECODE`` in the environment would
    otherwise make every run of our editable install compile its modules from source.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    where = Path(cwd)
    run_python(statement, where, env, python)  # writes the bytecode caches
    costs = []
    for _ in range(IMPORT_RUNS):
        bare, _ = run_python("pass", where, env, python)
        full, _ = run_python(statement, where, env, python)
        costs.append(full - bare)
    return p50(costs)


def section_limits(report: Report) -> dict[str, float]:
    """The machine's limits in this run: what the figures below are compared with."""
    limits = {
        "http round trip": http_round_trip_s(CALLS),
        "bash -c 'echo x'": spawn_echo_s(50),
        "copy 10 MB": 10 * MB / copy_bytes_per_s(10 * MB),
    }
    report.table(
        "Machine limits (this run)",
        ["what", "p50"],
        [
            [
                "loopback HTTP round trip (http.client, kept alive, minimal server)",
                ms(limits["http round trip"]),
            ],
            ["fork+exec of `bash -c 'echo x'` until it exits", ms(limits["bash -c 'echo x'"])],
            ["copying 10 MB in memory", ms(limits["copy 10 MB"])],
        ],
    )
    return limits


def section_sdk_overhead(
    report: Report,
    bay: AgentBay,
    endpoint: str,
    probe: OfficialProbe | None,
    limits: dict[str, float],
) -> dict[str, float]:
    """Our clients against the floor of their own flavour, calls interleaved with the floor's."""
    session = bay.create().session
    sid = session.session_id
    session.file_system.write_file("/tmp/1k.txt", "x" * 1024)
    floor = Floor(endpoint)
    read_args = {"path": "/tmp/1k.txt", "offset": 0, "length": 1024}
    sync_ops = {
        "GetLabel": (lambda: floor.post("GetLabel", {"SessionId": sid}), session.get_labels),
        "shell echo": (
            lambda: floor.tool(sid, "shell", {"command": "echo x", "timeout_ms": 5000}),
            lambda: session.command.execute_command("echo x", 5000),
        ),
        # read_file asks for the size first, then reads: two calls, on the floor too.
        "read_file 1 KB": (
            lambda: (
                floor.tool(sid, "get_file_info", {"path": "/tmp/1k.txt"}),
                floor.tool(sid, "read_file", read_args),
            ),
            lambda: session.file_system.read_file("/tmp/1k.txt"),
        ),
    }

    async def async_pairs() -> dict[str, list[list[float]]]:
        cfg = Config(endpoint=endpoint, timeout_ms=60000)
        async with AsyncAgentBay(api_key=KEY, cfg=cfg) as abay:
            asession = (await abay.get(sid)).session
            afloor = AsyncFloor(endpoint)

            async def read_floor() -> None:
                await afloor.tool(sid, "get_file_info", {"path": "/tmp/1k.txt"})
                await afloor.tool(sid, "read_file", read_args)

            ops = {
                "GetLabel": (
                    lambda: afloor.post("GetLabel", {"SessionId": sid}),
                    asession.get_labels,
                ),
                "shell echo": (
                    lambda: afloor.tool(sid, "shell", {"command": "echo x", "timeout_ms": 5000}),
                    lambda: asession.command.execute_command("echo x", 5000),
                ),
                "read_file 1 KB": (
                    read_floor,
                    lambda: asession.file_system.read_file("/tmp/1k.txt"),
                ),
            }
            out = {op: await ainterleaved(list(pair), CALLS) for op, pair in ops.items()}
            await afloor.http.aclose()
            return out

    official_keys = {
        "GetLabel": "get_labels",
        "shell echo": "shell_echo",
        "read_file 1 KB": "read_file_1k",
    }
    async_samples = asyncio.run(async_pairs())
    rows, medians = [], {}
    for op, pair in sync_ops.items():
        samplers = [timing(fn) for fn in pair]
        if probe is not None:
            samplers.append(partial(probe.seconds, official_keys[op]))
        floor_s, sync_s, *official_s = interleaved_samplers(samplers, CALLS)
        afloor_s, async_s = async_samples[op]
        off = official_s[0] if official_s else None
        sync_ratio, async_ratio = p50(sync_s) / p50(floor_s), p50(async_s) / p50(afloor_s)
        medians[op] = p50(sync_s)
        medians[f"async {op}"] = p50(async_s)
        rows.append(
            [
                op,
                ms(p50(floor_s)),
                f"{ms(p50(sync_s))} ({sync_ratio:.3f}x)",
                ms(p50(afloor_s)),
                f"{ms(p50(async_s))} ({async_ratio:.3f}x)",
                f"{ms(p50(off))} ({p50(off) / p50(floor_s):.2f}x)" if off else "n/a",
            ]
        )
        below_official = off is None or p50(sync_s) < p50(off)
        report.target(
            Target(
                f"SDK overhead, {op}",
                "<= 1.05x floor and below the official client",
                f"sync {sync_ratio:.3f}x, async {async_ratio:.3f}x"
                + (f"; official {p50(off) / p50(floor_s):.2f}x" if off else ""),
                max(sync_ratio, async_ratio) <= 1.05 and below_official,
                "" if off else "official client not measured",
            )
        )
    report.table(
        f"SDK overhead per call (p50 of {CALLS} calls, interleaved with the floor's and the "
        "official client's)",
        [
            "call",
            "sync floor",
            "agentbay sync",
            "async floor",
            "agentbay async",
            "official 0.9.3 (vs sync floor)",
        ],
        rows,
        "Floors: the identical form POSTed with a bare `httpx.Client` / `httpx.AsyncClient` to "
        "the same runtime in the same run (httpx's default transport). Our sync client sends "
        "through its own httpx transport on `http.client`, hence below its floor. The official "
        "client ran in its own process against the same runtime, one call at a time in turn "
        "with ours and the floor's (the seconds it measured itself).",
    )
    label_s, info_s, shell_s, code_s = interleaved(
        [
            session.get_labels,
            lambda: session.file_system.get_file_info("/tmp"),
            lambda: session.command.execute_command("echo x", 5000),
            lambda: session.code.run_code("print(1)", "python"),
        ],
        100,
    )
    spawn = in_session_spawn_s(session)
    report.table(
        "Tool round trips (sync SDK), and what a shell call is made of",
        ["call", "p50", "p95"],
        [
            ["GetLabel (an API call, no tool)", ms(p50(label_s)), ms(pct(label_s, 0.95))],
            ["get_file_info (a tool, no process)", ms(p50(info_s)), ms(pct(info_s, 0.95))],
            ["shell `echo x`", ms(p50(shell_s)), ms(pct(shell_s, 0.95))],
            ["run_code python `print(1)`", ms(p50(code_s)), ms(pct(code_s, 0.95))],
            [f"`bash -c 'echo x'` run {SPAWNS} times inside the session, each", ms(spawn), "-"],
        ],
        "A shell call is a tool call (get_file_info's round trip: HTTP, the runtime, the "
        "session's tool server) plus a bash started inside the session.",
    )
    limit = limits["http round trip"] + limits["bash -c 'echo x'"]
    report.target(
        Target(
            "shell echo round trip p50, sync",
            "<= 1.5 ms",
            f"{ms(p50(shell_s))} (machine limit {ms(limit)}: HTTP round trip + bash)",
            p50(shell_s) <= 0.0015,
        )
    )
    async_echo = medians["async shell echo"]
    report.target(
        Target(
            "shell echo round trip p50, async",
            "<= 2 ms",
            f"{ms(async_echo)} (machine limit {ms(limit)})",
            async_echo <= 0.002,
        )
    )
    session.delete()
    return medians


def in_session_spawn_s(session: Any) -> float:
    """Seconds per ``bash -c 'echo x'`` started by bash inside the session (timed there)."""
    loop = (
        f"s=$(date +%s%N); for i in $(seq {SPAWNS}); do /bin/bash -c 'echo x' >/dev/null; "
        "done; echo $(( $(date +%s%N) - s ))"
    )
    out = session.command.execute_command(loop, 60000)
    if not out.success:
        raise RuntimeError(f"the spawn loop failed: {out.error_message}")
    return int(out.output.strip()) / 1e9 / SPAWNS


def section_import(report: Report, official: Path | None) -> None:
    cwd = tempfile.mkdtemp()
    env_python = sys.executable
    ours = import_time(env_python, "import agentbay", str(REPO))
    ours_full = import_time(env_python, "from agentbay import AgentBay", str(REPO))
    off = import_time(str(official), "from agentbay import AgentBay", cwd) if official else None
    report.table(
        f"Import time (CPU, median of {IMPORT_RUNS} fresh interpreters, each minus a bare "
        "interpreter run just before it)",
        ["statement", "agentbay", "official 0.9.3"],
        [
            ["import agentbay", ms(ours), "-"],
            [
                "from agentbay import AgentBay",
                ms(ours_full),
                ms(off) if off is not None else "n/a",
            ],
        ],
    )
    report.target(Target("import agentbay", "<= 0.015 s", ms(ours), ours <= 0.015))
    report.target(
        Target("from agentbay import AgentBay", "<= 0.03 s", ms(ours_full), ours_full <= 0.03)
    )


def section_create(
    report: Report, bay: AgentBay, runtime_pid: int, data_dir: Path, limits: dict[str, float]
) -> None:
    """Create -> first command from a warm pool (the issue's condition): before each create
    the pool is full again and the runtime at rest (``bench.warm``).

    The SDK's create is one request (CreateMcpSession: the file-transfer context is made by
    the first transfer, so there is no download to wait for), then the command is a second:
    the machine's limit is two HTTP round trips and one bash.
    """
    samples = []
    for _ in range(50):
        wait_for_warm_pool(runtime_pid, data_dir / "sessions", POOL_SIZE)
        start = time.perf_counter()
        session = bay.create().session
        session.command.execute_command("echo ready", 5000)
        samples.append(time.perf_counter() - start)
        session.delete()
    report.table(
        "Create -> first command (50 sessions, sync SDK, warm pool)",
        ["p50", "p95", "max"],
        [[ms(p50(samples)), ms(pct(samples, 0.95)), ms(max(samples))]],
    )
    limit = 2 * limits["http round trip"] + limits["bash -c 'echo x'"]
    report.target(
        Target(
            "create -> first command p50",
            "<= 5 ms",
            f"{ms(p50(samples))} (machine limit {ms(limit)}: 2 HTTP round trips + bash)",
            p50(samples) <= 0.005,
        )
    )
    report.target(
        Target(
            "create -> first command p95",
            "<= 10 ms",
            ms(pct(samples, 0.95)),
            pct(samples, 0.95) <= 0.010,
        )
    )


def section_files(
    report: Report,
    bay: AgentBay,
    runtime_pid: int,
    probe: OfficialProbe | None,
    limits: dict[str, float],
) -> None:
    session = bay.create().session
    fs = session.file_system
    rows = []
    for size in (1024, 100 * 1024, MB, 10 * MB):
        text = mixed_text(size)
        write = timed(partial(fs.write_file, "/tmp/tp.txt", text), 3, warmup=1)
        read = timed(lambda: fs.read_file("/tmp/tp.txt"), 3, warmup=1)
        rows.append(
            [
                f"{size // 1024} KB",
                f"{size / p50(write) / MB:.1f} MB/s",
                f"{size / p50(read) / MB:.1f} MB/s",
            ]
        )
    report.table(
        "read_file / write_file throughput (51,200-unit chunks on the wire)",
        ["size", "write_file", "read_file"],
        rows,
    )
    # The last size of the loop above: the file now holds 10 MB of mixed text. Each of our
    # 10 MB calls alternates with the official client's.
    text = mixed_text(10 * MB)
    samplers = {
        "write_file_10m": timing(partial(fs.write_file, "/tmp/tp.txt", text)),
        "read_file_10m": timing(lambda: fs.read_file("/tmp/tp.txt")),
    }
    tens: dict[str, list[list[float]]] = {}
    for key, ours_sampler in samplers.items():
        pair = [ours_sampler] + ([partial(probe.seconds, key)] if probe else [])
        tens[key] = interleaved_samplers(pair, READS_10MB, warmup=0)
    for call, key in (("write_file", "write_file_10m"), ("read_file", "read_file_10m")):
        ours_s, *official_s = tens[key]
        ours = p50(ours_s)
        off = official_s[0] if official_s else None
        ratio = p50(off) / ours if off else 0.0
        measured = f"{ours:.3f} s"
        if off:
            measured = (
                f"{ratio:.2f}x faster ({ours:.3f} s vs {p50(off):.3f} s, medians of "
                f"{READS_10MB}; copying 10 MB in memory: {ms(limits['copy 10 MB'])})"
            )
        report.target(
            Target(
                f"10 MB {call} vs official (mixed text)",
                ">= 3x faster",
                measured,
                ratio >= 3,
                "" if off else "official client not measured",
            )
        )

    rows = []
    tmp = Path(tempfile.mkdtemp())
    hwm_before = rss_kb(runtime_pid, "VmHWM")
    speeds = {}
    for size in (1024, MB, 10 * MB, 100 * MB):
        local = tmp / f"f{size}"
        with local.open("wb") as handle:
            handle.write(os.urandom(min(size, MB)) * max(1, size // MB))
        ups, downs = [], []
        for attempt in range(TRANSFER_REPEATS):
            # New paths each time: replacing a 100 MB file first frees its page cache
            # (~65 ms), which is not transfer speed.
            remote, back = f"/tmp/up{size}-{attempt}", tmp / f"d{size}-{attempt}"
            start = time.perf_counter()
            up = fs.upload_file(str(local), remote)
            ups.append(time.perf_counter() - start)
            start = time.perf_counter()
            down = fs.download_file(remote, str(back))
            downs.append(time.perf_counter() - start)
            assert up.success and down.success, (up.error, down.error)
            back.unlink()
        up_s, down_s = p50(ups), p50(downs)
        speeds[size] = (size / up_s / MB, size / down_s / MB)
        rows.append(
            [f"{size // 1024} KB", f"{speeds[size][0]:.0f} MB/s", f"{speeds[size][1]:.0f} MB/s"]
        )
        local.unlink()
    growth = (rss_kb(runtime_pid, "VmHWM") - hwm_before) / 1024
    report.table(
        f"upload_file / download_file throughput (loopback, median of {TRANSFER_REPEATS})",
        ["size", "upload", "download"],
        rows,
        f"Runtime peak RSS grew by {growth:.1f} MB over these transfers (streamed).",
    )
    up100, down100 = speeds[100 * MB]
    report.target(Target("100 MB upload_file", ">= 200 MB/s", f"{up100:.0f} MB/s", up100 >= 200))
    report.target(
        Target("100 MB download_file", ">= 200 MB/s", f"{down100:.0f} MB/s", down100 >= 200)
    )
    session.delete()


def section_scaling(report: Report, bay: AgentBay, endpoint: str) -> list[tuple[int, float]]:
    rows, points = [], []
    for count in (1, 8, 64, MANY_SESSIONS):
        sessions = []
        with ThreadPoolExecutor(max_workers=16) as pool:
            created = list(pool.map(lambda _: bay.create(), range(count)))
        sessions = [c.session for c in created if c.success]
        create_errors = count - len(sessions)
        errors = 0

        def work(session: Any) -> int:
            failures = 0
            for _ in range(10):
                if not session.command.execute_command("echo x", 10000).success:
                    failures += 1
            return failures

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=min(64, count * 2)) as pool:
            errors = sum(pool.map(work, sessions))
        elapsed = time.perf_counter() - start
        throughput = len(sessions) * 10 / elapsed
        points.append((count, throughput))
        rows.append([str(count), f"{throughput:.0f} calls/s", str(errors + create_errors)])
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda s: s.delete(), sessions))
        if count == MANY_SESSIONS:
            report.target(
                Target(
                    f"{count} concurrent sessions, 10 shell calls each",
                    "zero errors, >= 800 calls/s",
                    f"{errors + create_errors} errors, {throughput:.0f} calls/s",
                    errors + create_errors == 0 and throughput >= 800,
                )
            )
    report.table(
        "Concurrent sessions (10 shell calls each)", ["sessions", "throughput", "errors"], rows
    )

    async def many() -> tuple[int, float]:
        async with AsyncAgentBay(
            api_key=KEY, cfg=Config(endpoint=endpoint, timeout_ms=120000)
        ) as abay:
            sessions = [(await abay.create()).session for _ in range(8)]
            start = time.perf_counter()
            results = await asyncio.gather(
                *(sessions[i % 8].command.execute_command(f"echo {i}", 60000) for i in range(500))
            )
            elapsed = time.perf_counter() - start
            await asyncio.gather(*(s.delete() for s in sessions))
            return sum(1 for r in results if not r.success), elapsed

    failures, elapsed = asyncio.run(many())
    report.table(
        "500 concurrent async tool calls through one AsyncAgentBay (8 sessions)",
        ["errors", "wall time", "throughput"],
        [[str(failures), f"{elapsed:.2f} s", f"{500 / elapsed:.0f} calls/s"]],
    )
    report.target(
        Target("500 concurrent async calls", "zero errors", f"{failures} errors", failures == 0)
    )
    return points


def section_idle_memory(report: Report, bay: AgentBay) -> None:
    sessions = [bay.create().session for _ in range(5)]
    time.sleep(1.0)
    sizes = [session_rss_bytes(s.session_id) / MB for s in sessions]
    for s in sessions:
        s.delete()
    report.table(
        "Idle session memory (sum of RSS of the session's processes)",
        ["median", "max"],
        [[f"{p50(sizes):.1f} MB", f"{max(sizes):.1f} MB"]],
    )
    report.target(Target("idle session RSS", "<= 8 MB", f"{p50(sizes):.1f} MB", p50(sizes) <= 8))


def plot(report: Report, medians: dict[str, float], scaling: list[tuple[int, float]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plots")
        return
    PLOTS.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    xs, ys = zip(*scaling, strict=True)
    ax.plot(xs, ys, marker="o")
    ax.set_xlabel("concurrent sessions")
    ax.set_ylabel("shell calls / s")
    ax.set_title("Throughput vs concurrent sessions")
    fig.tight_layout()
    fig.savefig(PLOTS / "scaling.png", dpi=110)
    report.plots.append(("Throughput vs concurrent sessions", "bench/scaling.png"))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(list(medians), [v * 1000 for v in medians.values()])
    ax.set_ylabel("ms (p50)")
    ax.set_title("Sync SDK call latency")
    fig.tight_layout()
    fig.savefig(PLOTS / "latency.png", dpi=110)
    report.plots.append(("Sync SDK call latency", "bench/latency.png"))


def main() -> None:
    report = Report()
    data_dir = Path(tempfile.mkdtemp(prefix="agentbay-bench-"))
    process, endpoint = start_runtime(data_dir)
    official = official_python()
    try:
        bay = AgentBay(api_key=KEY, cfg=Config(endpoint=endpoint, timeout_ms=120000))
        probe = None
        if official:
            try:
                # It writes its 10 MB file in its own session, to read it back when asked.
                probe = OfficialProbe(official, endpoint, KEY, "/tmp/official-10m.txt")
            except RuntimeError as error:
                print(f"official client unavailable, comparison skipped: {error}")
        limits = section_limits(report)
        medians = section_sdk_overhead(report, bay, endpoint, probe, limits)
        section_mcp(report, endpoint, KEY)
        section_import(report, official)
        section_create(report, bay, process.pid, data_dir, limits)
        section_files(report, bay, process.pid, probe, limits)
        if probe is not None:
            probe.close()
        scaling = section_scaling(report, bay, endpoint)
        section_idle_memory(report, bay)
        section_images(report, bay, data_dir, process.pid)
        section_network(report)
        section_pause(report, bay, endpoint)
        section_shared_network(report, bay, process.pid, data_dir)
        section_streams(report, bay, endpoint, process.pid)
        from bench.code_kernels import section_code_kernels  # it imports this module's helpers

        section_code_kernels(report, bay, endpoint)
        from bench.desktop import section_desktop  # it imports this module's helpers

        section_desktop(report, bay)
        from bench.browser import section_browser  # it imports this module's helpers

        section_browser(report, bay)
        section_image_roots(report)
        section_base_images(report)
        plot(report, medians, scaling)
        bay.close()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    header = (
        "# Benchmarks\n\n"
        f"Produced by `make bench` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}. "
        "The runtime ran as `agentbay local serve` in its own process; every ratio is against "
        "a baseline measured in the same run. What was fixed along the way, and what is "
        "left: [performance.md](performance.md)."
    )
    DOCS.mkdir(exist_ok=True)
    (DOCS / "benchmarks.md").write_text(report.markdown(header), encoding="utf-8")
    print(f"\nwrote {DOCS / 'benchmarks.md'}")


if __name__ == "__main__":
    main()
