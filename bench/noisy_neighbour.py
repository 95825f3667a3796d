"""``python -m bench.noisy_neighbour [SAMPLES] [SERVE FLAG ...]``: a fork bomb next door.

One ``agentbay local serve`` (as this user: root, or rootless when run as an ordinary
user) with two sessions. The quiet one answers ``echo x`` shell tool calls through the
SDK; its p50 is measured first alone, then while the other session runs a fork bomb that
never stops (every process forks in a loop, so the session sits at its process limit with
all of them runnable: the worst a session can do to the CPU), and once more after that
session's release; a second bomb puts each of its processes in a session of its own (where
the kernel's autogroups share the CPU, that multiplies its share). Printed: the p50s, their
ratio to the first, and the limits serve reported. Extra arguments go to serve
(``--session-cpus 1``, ``--session-pids 64``).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agentbay import AgentBay, Config
from agentbay.session import Session
from bench.harness import ms, p50, pct
from tests.support.spawn import free_port, serve_argv, wait_until_listening

KEY = "akm-bench-neighbour"
#: Every process forks in a loop and ignores failures: at the process limit they all spin.
SPIN = "import os\nwhile True:\n try: os.fork()\n except OSError: pass"
#: The same, each child in a session of its own: a scheduling group (autogroup) of its own
#: where the kernel shares CPU time between those rather than between processes.
SPIN_SETSID = (
    "import os\nwhile True:\n try:\n  if os.fork() == 0: os.setsid()\n except OSError: pass"
)
BOMBS = {"fork bomb": SPIN, "fork bomb, setsid in each child": SPIN_SETSID}
#: How long the bomb runs before the measurement starts (it reaches the limit meanwhile).
SETTLE_S = 3.0


def _echo_times(session: Session, samples: int) -> list[float]:
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        result = session.command.execute_command("echo x", 60_000)
        times.append(time.perf_counter() - start)
        assert result.success and result.output == "x\n", result.error_message
    return times


def main() -> None:
    samples = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    flags = sys.argv[2:]
    data_dir = Path(tempfile.mkdtemp(prefix="agentbay-bench-neighbour-"))
    port = free_port()
    argv = serve_argv(data_dir, port, KEY, "--pool-size", "2", "--network", "none", *flags)
    # Serve's stderr says which limits are in force and how; kept to print it.
    log = data_dir.with_name(data_dir.name + ".log")
    with open(log, "w") as stderr:
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        wait_until_listening(process, port)
        config = Config(endpoint=f"http://127.0.0.1:{port}", timeout_ms=120_000)
        phases: dict[str, list[float]] = {}
        with AgentBay(api_key=KEY, cfg=config) as bay:
            quiet = bay.create().session
            _echo_times(quiet, 5)  # warm-up
            phases["alone"] = _echo_times(quiet, samples)
            for name, code in BOMBS.items():
                noisy = bay.create().session
                command = f"nohup setsid python3 -c {shlex.quote(code)} >/dev/null 2>&1 &"
                started = noisy.command.execute_command(command, 10_000)
                assert started.success, started.error_message
                time.sleep(SETTLE_S)
                phases[f"{name} next door"] = _echo_times(quiet, samples)
                noisy.delete()
            phases["after"] = _echo_times(quiet, samples)
            quiet.delete()
        limits = [line for line in log.read_text().splitlines() if "session limits" in line]
        print(f"user {os.geteuid()}; serve flags: {' '.join(flags) or '(defaults)'}")
        print("; ".join(limits))
        alone = p50(phases["alone"])
        for name, times in phases.items():
            print(
                f"echo p50 {name}: {ms(p50(times))} (p95 {ms(pct(times, 0.95))}, "
                f"x{p50(times) / alone:.1f}; {len(times)} calls)"
            )
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
