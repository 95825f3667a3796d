"""run_code on the session's kernels: a warm kernel's round trip against a new process per
call (the 0.9 path, the baseline, in the same run and session), the first call of a new
session (the kernel's start) per language, and a matplotlib figure's PNG back.

Every call is a raw ``CallMcpTool`` POST (the wire alone, no SDK): with ``AutoGenSession``
it runs in the kernel and answers the rich shape, without it in a fresh process, as the
0.9.3 client gets it. Goals (issue 30): a warm Python ``1+1`` <= 5 ms p50; a new session's
first Python call <= 1.5 s; a figure's PNG <= 300 ms.

``python -m bench.code_kernels`` runs this section alone; ``make bench`` runs it with the
rest.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from agentbay import AgentBay, Config
from bench.harness import Report, Target, interleaved, ms, p50, pct

ROUNDS = 100
NEW_SESSIONS = 5
FIGURES = 20
FIGURE = (
    "import matplotlib.pyplot as plt\n"
    "plt.plot([1, 2, 3, 4], [1, 4, 9, 16], label='squares')\n"
    "plt.title('demo')\n"
    "plt.show()"
)
#: A cell per language whose value is 2, and the program its kernel needs.
FIRST_CALLS = {
    "python": ("1+1", "python3"),
    "javascript": ("1+1", "node"),
    "r": ("1+1", "Rscript"),
    "java": ("1+1", "jshell"),
}


def _call(floor: Any, session_id: str, code: str, language: str, kernel: bool) -> Any:
    from bench.__main__ import tool_form  # it imports this module's helpers

    args = {"code": code, "language": language, "timeout_s": 60}
    form = tool_form(session_id, "run_code", args)
    if kernel:
        form["AutoGenSession"] = "False"
    answer = floor.post("CallMcpTool", form)
    data = answer.get("Data") or {}
    assert not data.get("isError"), answer
    return data["content"][0]["text"]


def section_code_kernels(report: Report, bay: AgentBay, endpoint: str) -> None:
    """The three measurements of the module's description."""
    from bench.__main__ import Floor  # it imports this module's helpers

    floor = Floor(endpoint)
    session = bay.create().session
    sid = session.session_id
    try:
        _call(floor, sid, "1+1", "python", kernel=True)  # started: the others are warm
        warm, process = interleaved(
            [
                lambda: _call(floor, sid, "1+1", "python", kernel=True),
                lambda: _call(floor, sid, "print(1+1)", "python", kernel=False),
            ],
            ROUNDS,
        )
        figure_times: list[float] = []
        answer = json.loads(_call(floor, sid, "import matplotlib.pyplot as plt", "python", True))
        if not answer["executionError"]:  # the session's image has matplotlib
            for _ in range(FIGURES):
                start = time.perf_counter()
                shown = json.loads(_call(floor, sid, FIGURE, "python", kernel=True))
                figure_times.append(time.perf_counter() - start)
                assert '"image/png"' in shown["result"][0], shown
        present = {
            language: session.command.execute_command(f"command -v {program}", 20000).success
            for language, (_, program) in FIRST_CALLS.items()
        }
    finally:
        session.delete()
    firsts: dict[str, list[float]] = {language: [] for language, ok in present.items() if ok}
    for _ in range(NEW_SESSIONS):
        fresh = bay.create().session
        try:
            for language in firsts:
                start = time.perf_counter()
                _call(floor, fresh.session_id, FIRST_CALLS[language][0], language, kernel=True)
                firsts[language].append(time.perf_counter() - start)
        finally:
            fresh.delete()

    rows = [
        ["warm Python kernel, 1+1", ms(p50(warm)), ms(pct(warm, 0.9)), "1.0x"],
        [
            "a new process per call (0.9 path), print(1+1)",
            ms(p50(process)),
            ms(pct(process, 0.9)),
            f"{p50(process) / p50(warm):.1f}x",
        ],
    ]
    if figure_times:
        rows.append(
            [
                "warm kernel, a matplotlib figure's PNG (and chart data)",
                ms(p50(figure_times)),
                ms(pct(figure_times, 0.9)),
                f"{p50(figure_times) / p50(warm):.1f}x",
            ]
        )
    for language, samples in firsts.items():
        rows.append(
            [
                f"first {language} call of a new session (kernel start)",
                ms(p50(samples)),
                ms(max(samples)),
                f"{p50(samples) / p50(warm):.0f}x",
            ]
        )
    absent = [language for language, ok in present.items() if not ok]
    report.table(
        "run_code: the session's kernels",
        ["call", "p50", "p90 (first calls: max)", "vs warm 1+1"],
        rows,
        f"Raw CallMcpTool POSTs on one session: {ROUNDS} warm kernel calls interleaved with "
        f"{ROUNDS} calls that start a process (the same session); {FIGURES} figures; the "
        f"first call of each language in {NEW_SESSIONS} new sessions (one after the other in "
        "each)."
        + (f" Not measured (not in the session's image): {', '.join(absent)}." if absent else "")
        + ("" if figure_times else " No matplotlib in the session: no figure measured."),
    )
    report.target(
        Target("warm Python kernel 1+1", "<= 5 ms p50", ms(p50(warm)), p50(warm) <= 0.005)
    )
    if "python" in firsts:
        first = p50(firsts["python"])
        report.target(
            Target("first Python call of a new session", "<= 1.5 s p50", ms(first), first <= 1.5)
        )
    if figure_times:
        figure = p50(figure_times)
        report.target(
            Target("a matplotlib figure's PNG", "<= 300 ms p50", ms(figure), figure <= 0.3)
        )


def main() -> None:
    """This section alone, against a runtime of its own; prints the tables."""
    from bench.__main__ import KEY, start_runtime
    from bench.network import stop_runtime

    report = Report()
    with tempfile.TemporaryDirectory(prefix="agentbay-bench-code-") as scratch:
        process, endpoint = start_runtime(Path(scratch))
        try:
            bay = AgentBay(api_key=KEY, cfg=Config(endpoint=endpoint, timeout_ms=120000))
            section_code_kernels(report, bay, endpoint)
            bay.close()
        finally:
            stop_runtime(process)
    print(report.markdown("# run_code kernels"))


if __name__ == "__main__":
    main()
