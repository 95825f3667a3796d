"""The session WebSocket: a keystroke's echo through a terminal, the first streamed chunk of
a program, and 100 MB through a terminal with the runtime's memory watched.

Baseline in the same run: ``GetSession`` of the same session over raw HTTP (an RPC that only
reads), for the echo; the first chunk is measured against the program's own clock (same
machine); the 100 MB figure against the runtime's memory before it. Goals (issue 29): echo
p50 <= 5 ms, first chunk p50 <= 20 ms, >= 100 MB/s with the runtime's memory flat.

``python -m bench.streams`` runs this section alone; ``make bench`` runs it with the rest.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

from agentbay import AgentBay, Config
from agentbay.session_params import CreateSessionParams
from bench.harness import Report, Target, ms, p50, pct

KEYSTROKES = 300
CHUNKS = 30
FLOOD_BYTES = 100 * 1024 * 1024
#: "Flat": the runtime's resident memory may grow by less than this during the flood.
FLAT_BYTES = 32 * 1024 * 1024
MB = 1024 * 1024


def rss_bytes(pid: int) -> int:
    """Resident memory of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class _Received:
    """Bytes a terminal sent, with a condition to wait on."""

    def __init__(self) -> None:
        self.count = 0
        self.cond = threading.Condition()

    def on_data(self, chunk: bytes) -> None:
        with self.cond:
            self.count += len(chunk)
            self.cond.notify_all()

    def wait_count(self, count: int, timeout_s: float) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: self.count >= count, timeout_s):
                raise TimeoutError(f"{self.count} of {count} bytes came")


def keystroke_echo(session: object) -> list[float]:
    """Type one character at a time into ``cat`` (the terminal echoes it): round trips."""
    received = _Received()
    term = session.pty.create(shell="cat", on_data=received.on_data)  # type: ignore[attr-defined]
    samples = []
    try:
        term.send_input("ready\r")  # the terminal's echo, then cat's copy: 2 x "ready\r\n"
        received.wait_count(14, 15)
        for round_number in range(KEYSTROKES + 10):
            before = received.count
            start = time.perf_counter()
            term.send_input("x")
            received.wait_count(before + 1, 10)
            if round_number >= 10:
                samples.append(time.perf_counter() - start)
    finally:
        term.kill()
    return samples


def first_chunk(session: object) -> list[float]:
    """How long after a program wrote a line its chunk arrived (the program's clock)."""
    samples = []
    code = "import time\nprint(repr(time.time()), flush=True)\ntime.sleep(0.05)\n"
    for _ in range(CHUNKS):
        arrived: list[float] = []

        def on_stdout(chunk: str, arrived: list[float] = arrived) -> None:
            if not arrived and chunk.strip():
                arrived.append(time.time() - float(chunk.split()[0]))

        ran = session.code.run_code(code, "python", on_stdout=on_stdout)  # type: ignore[attr-defined]
        assert ran.success, ran.error_message
        samples.append(arrived[0])
    return samples


def flood(session: object, pid: int) -> tuple[float, int]:
    """100 MB of a program's output through a terminal: seconds, and the runtime's largest
    memory growth meanwhile."""
    received = _Received()
    before = rss_bytes(pid)
    peak = [before]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], rss_bytes(pid))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.perf_counter()
    term = session.pty.create(  # type: ignore[attr-defined]
        shell=f"stty raw -echo; head -c {FLOOD_BYTES} /dev/zero", on_data=received.on_data
    )
    term.wait(300)
    took = time.perf_counter() - start
    done.set()
    watcher.join()
    received.wait_count(FLOOD_BYTES, 30)
    return took, peak[0] - before


PUSHES = 30


def pushed_changes(session: object) -> tuple[list[float], list[float]]:
    """How long after a write_file call started its change arrived pushed, and how long the
    write_file calls themselves took (the baseline: the change happens within it)."""
    fs = session.file_system  # type: ignore[attr-defined]
    fs.create_directory("/tmp/bench-watch")
    arrived: list[float] = []
    got = threading.Event()

    def on_events(events: list[object]) -> None:
        arrived.append(time.perf_counter())
        got.set()

    watcher = fs.watch_directory("/tmp/bench-watch", on_events, interval=3600)
    watcher.start()
    watcher.ready_event.wait(30)
    fs.write_file("/tmp/bench-watch/warm", "x")  # the subscription is in place once it came
    if not got.wait(30):
        raise TimeoutError("no change was pushed")
    latencies, writes = [], []
    try:
        for number in range(PUSHES):
            got.clear()
            arrived.clear()
            start = time.perf_counter()
            fs.write_file(f"/tmp/bench-watch/f{number}", "x")
            writes.append(time.perf_counter() - start)
            if not got.wait(10):
                raise TimeoutError("a change was not pushed")
            latencies.append(arrived[0] - start)
    finally:
        watcher.stop_event.set()
        watcher.join(10)
    return latencies, writes


def pty_floor() -> float:
    """Seconds ``head`` takes to push FLOOD_BYTES through a bare pty on the host, read in
    this process (the kernel's tty path alone: the floor of any terminal figure)."""
    import select
    import subprocess
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    start = time.perf_counter()
    head = subprocess.Popen(
        ["head", "-c", str(FLOOD_BYTES), "/dev/zero"], stdin=slave, stdout=slave, stderr=slave
    )
    os.close(slave)
    got = 0
    try:
        while got < FLOOD_BYTES:
            select.select([master], [], [], 30)
            try:
                chunk = os.read(master, 1 << 20)
            except OSError:
                break
            if not chunk:
                break
            got += len(chunk)
    finally:
        head.wait(30)
        os.close(master)
    return time.perf_counter() - start


def section_streams(report: Report, bay: AgentBay, endpoint: str, runtime_pid: int) -> None:
    """The three figures, on one code_latest session."""
    from bench.__main__ import Floor  # it imports this module's helpers

    floor = Floor(endpoint)
    session = bay.create(CreateSessionParams(image_id="code_latest")).session
    try:
        echo = keystroke_echo(session)
        reads = []
        for _ in range(100):
            start = time.perf_counter()
            floor.post("GetSession", {"SessionId": session.session_id})
            reads.append(time.perf_counter() - start)
        chunk = first_chunk(session)
        pushes, writes = pushed_changes(session)
        seconds, growth = flood(session, runtime_pid)
        floor_s = pty_floor()
    finally:
        session.delete()
    rate = FLOOD_BYTES / seconds
    report.table(
        "Terminals and streams (the session WebSocket)",
        ["figure", "p50", "p90", "baseline in the same run"],
        [
            [
                "keystroke echo round trip",
                ms(p50(echo)),
                ms(pct(echo, 0.9)),
                f"GetSession p50 {ms(p50(reads))} ({p50(echo) / p50(reads):.2f}x)",
            ],
            [
                "first streamed chunk after the write",
                ms(p50(chunk)),
                ms(pct(chunk, 0.9)),
                "the program's own clock",
            ],
            [
                "file change pushed, from the write_file call",
                ms(p50(pushes)),
                ms(pct(pushes, 0.9)),
                f"the write_file call itself p50 {ms(p50(writes))}",
            ],
            [
                "100 MB through a terminal",
                f"{rate / MB:.0f} MB/s",
                "",
                f"a bare pty on the host {FLOOD_BYTES / floor_s / MB:.0f} MB/s "
                f"({seconds / floor_s:.1f}x its time); runtime memory +{growth / MB:.1f} MB "
                f"(limit {FLAT_BYTES // MB} MB)",
            ],
        ],
        f"{KEYSTROKES} keystrokes typed one at a time into `cat` in a terminal (the echo the "
        f"terminal sends back), {CHUNKS} streamed run_code programs each printing its clock, "
        "and `head -c 100M /dev/zero` in a raw terminal, all through this SDK's session "
        f"socket; memory is the runtime process's resident set, sampled every 50 ms. Load "
        f"average when done: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.",
    )
    report.target(
        Target(
            "keystroke echo through a terminal", "<= 5 ms p50", ms(p50(echo)), p50(echo) <= 0.005
        )
    )
    report.target(
        Target("first streamed chunk", "<= 20 ms p50", ms(p50(chunk)), p50(chunk) <= 0.020)
    )
    report.target(
        Target(
            "file change pushed",
            "<= 50 ms p50",
            ms(p50(pushes)),
            p50(pushes) <= 0.050,
        )
    )
    report.target(
        Target(
            "100 MB through a terminal",
            ">= 100 MB/s, memory flat",
            f"{rate / MB:.0f} MB/s, +{growth / MB:.1f} MB",
            rate >= 100 * MB and growth < FLAT_BYTES,
        )
    )


def main() -> None:
    """This section alone, against a runtime of its own; prints the tables."""
    from bench.__main__ import KEY, start_runtime
    from bench.network import stop_runtime

    report = Report()
    with tempfile.TemporaryDirectory(prefix="agentbay-bench-streams-") as scratch:
        process, endpoint = start_runtime(Path(scratch))
        try:
            bay = AgentBay(api_key=KEY, cfg=Config(endpoint=endpoint, timeout_ms=60000))
            section_streams(report, bay, endpoint, process.pid)
            bay.close()
        finally:
            stop_runtime(process)
    print(report.markdown("# Terminals and streams"))


if __name__ == "__main__":
    main()
