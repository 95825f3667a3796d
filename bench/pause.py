"""Pause and resume of an idle session: how long ``PauseSessionAsync`` and
``ResumeSessionAsync`` take to answer. The answer comes once every process of the session
is frozen (resp. running again), so the round trip is the whole cost a client waits for.
Baseline in the same run: ``GetSession`` of the same session (an RPC that only reads),
sent between them. Goal (issue 28): pause and resume each <= 100 ms p50.

``python -m bench.pause`` runs this section alone; ``make bench`` runs it with the rest.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from agentbay import AgentBay, Config
from agentbay_local.sandbox.freezer import Freezer
from bench.harness import Report, Target, ms, p50, pct

ROUNDS = 40
GOAL_S = 0.100


def section_pause(report: Report, bay: AgentBay, endpoint: str) -> None:
    """Pause, read, resume an idle session ROUNDS times; the three round trips."""
    from bench.__main__ import Floor  # it imports this module's helpers

    floor = Floor(endpoint)
    session = bay.create().session
    sid = {"SessionId": session.session_id}
    samples: dict[str, list[float]] = {"pause": [], "resume": [], "read": []}
    try:
        for round_number in range(ROUNDS + 3):
            for name, action in (
                ("read", "GetSession"),
                ("pause", "PauseSessionAsync"),
                ("resume", "ResumeSessionAsync"),
            ):
                start = time.perf_counter()
                answer = floor.post(action, sid)
                took = time.perf_counter() - start
                assert answer.get("Success") is True, answer
                if round_number >= 3:  # the first rounds warm up (the freezer cgroup is made)
                    samples[name].append(took)
    finally:
        session.delete()
    rows = [
        [name, ms(p50(values)), ms(pct(values, 0.9)), f"{p50(values) / p50(samples['read']):.1f}x"]
        for name, values in samples.items()
    ]
    report.table(
        "Pause and resume of an idle session",
        ["action", "p50", "p90", "vs GetSession p50"],
        rows,
        f"{ROUNDS} rounds of GetSession, PauseSessionAsync, ResumeSessionAsync on one idle "
        "linux_latest session (its tool server and sandbox helper), raw HTTP POSTs; the "
        "answer of a pause comes once every process is frozen, by "
        f"{'a cgroup v1 freezer cgroup' if Freezer().v1_parent else 'cgroup v2 or SIGSTOP'}.",
    )
    for name in ("pause", "resume"):
        median = p50(samples[name])
        report.target(
            Target(f"{name} an idle session", "<= 100 ms p50", ms(median), median <= GOAL_S)
        )


def main() -> None:
    """This section alone, against a runtime of its own; prints the tables."""
    from bench.__main__ import KEY, start_runtime
    from bench.network import stop_runtime

    report = Report()
    with tempfile.TemporaryDirectory(prefix="agentbay-bench-pause-") as scratch:
        process, endpoint = start_runtime(Path(scratch))
        try:
            bay = AgentBay(api_key=KEY, cfg=Config(endpoint=endpoint, timeout_ms=60000))
            section_pause(report, bay, endpoint)
            bay.close()
        finally:
            stop_runtime(process)
    print(report.markdown("# Pause and resume"))


if __name__ == "__main__":
    main()
