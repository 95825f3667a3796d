"""The linux_latest desktop: display start, screenshot and input round trips, idle memory.

``python -m bench.desktop`` runs this section alone on a runtime of its own; ``make bench``
runs it with the rest (``section_desktop``). Every round trip is interleaved with a
``shell echo`` of the same session, the baseline of a tool call that does nothing.

- first desktop tool call of a session (the X server and window manager start);
- ``system_screenshot`` at 1024x768 with a terminal on screen: the tool call alone, and the
  call plus downloading the PNG from its URL (what an agent does);
- ``click_mouse`` and ``input_text`` (one character into a terminal);
- RSS of an idle session whose desktop runs (tool server, X server, window manager).
"""

from __future__ import annotations

import signal
import tempfile
import time
from pathlib import Path

import httpx

from agentbay import AgentBay, Config
from agentbay.session import Session
from bench.harness import Report, Target, interleaved, ms, p50, pct

SESSIONS = 8
CALLS = 60


def _echo(session: Session) -> None:
    session.command.execute_command("echo x", 5000)


def _wait_for_window(session: Session, pids: set[int]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if pids & {w.pid for w in session.computer.list_root_windows().windows}:
            return
        time.sleep(0.02)
    raise RuntimeError("the terminal's window never appeared")


def section_desktop(report: Report, bay: AgentBay) -> None:
    """Every measurement of this module, on ``bay``'s runtime."""
    from bench.__main__ import MB, session_rss_bytes

    starts, warm = [], []
    for _ in range(SESSIONS):
        session = bay.create().session
        _echo(session)  # the sandbox is up; only the desktop is left to start
        begin = time.perf_counter()
        assert session.computer.get_screen_size().success
        starts.append(time.perf_counter() - begin)
        begin = time.perf_counter()
        session.computer.get_screen_size()
        warm.append(time.perf_counter() - begin)
        session.delete()
    report.table(
        f"First desktop tool call of a session ({SESSIONS} sessions, sync SDK)",
        ["first call (display start)", "second call"],
        [[ms(p50(starts)), ms(p50(warm))]],
    )
    report.target(Target("first desktop call p50", "<= 1.5 s", ms(p50(starts)), p50(starts) <= 1.5))

    session = bay.create().session
    try:
        started = session.computer.start_app("xterm -e cat")
        _wait_for_window(session, {p.pid for p in started.data})
        http = httpx.Client(timeout=30)

        def shot() -> None:
            session.computer.screenshot()

        def shot_and_fetch() -> None:
            url = session.computer.screenshot().data
            http.get(url).raise_for_status()

        echo_s, shot_s, fetch_s = interleaved([lambda: _echo(session), shot, shot_and_fetch], CALLS)
        click_s, type_s, echo2_s = interleaved(
            [
                lambda: session.computer.click_mouse(500, 400),
                lambda: session.computer.input_text("a"),
                lambda: _echo(session),
            ],
            CALLS * 2,
        )
        report.table(
            f"Desktop round trips (sync SDK, p50 of {CALLS}-{CALLS * 2}, interleaved)",
            ["call", "p50", "p95", "vs shell echo"],
            [
                ["shell `echo x` (baseline)", ms(p50(echo_s)), ms(pct(echo_s, 0.95)), "1.00x"],
                [
                    "system_screenshot 1024x768",
                    ms(p50(shot_s)),
                    ms(pct(shot_s, 0.95)),
                    f"{p50(shot_s) / p50(echo_s):.2f}x",
                ],
                [
                    "system_screenshot + GET the PNG",
                    ms(p50(fetch_s)),
                    ms(pct(fetch_s, 0.95)),
                    f"{p50(fetch_s) / p50(echo_s):.2f}x",
                ],
                [
                    "click_mouse",
                    ms(p50(click_s)),
                    ms(pct(click_s, 0.95)),
                    f"{p50(click_s) / p50(echo2_s):.2f}x",
                ],
                [
                    "input_text (1 character)",
                    ms(p50(type_s)),
                    ms(pct(type_s, 0.95)),
                    f"{p50(type_s) / p50(echo2_s):.2f}x",
                ],
            ],
            "A terminal is on screen during the screenshots; the PNG is encoded in the "
            "session (zlib level 1) and served by the runtime from the session's files.",
        )
        report.target(
            Target(
                "screenshot round trip p50 (call + GET)",
                "<= 150 ms",
                ms(p50(fetch_s)),
                p50(fetch_s) <= 0.150,
            )
        )
        worst = max(p50(click_s), p50(type_s))
        report.target(
            Target(
                "click/type round trip p50",
                "<= 20 ms",
                f"click {ms(p50(click_s))}, type {ms(p50(type_s))}",
                worst <= 0.020,
            )
        )
        http.close()
    finally:
        session.delete()

    idle = bay.create().session
    try:
        idle.computer.get_screen_size()
        time.sleep(1.0)  # let start-up allocations settle: this measures an idle session
        size = session_rss_bytes(idle.session_id) / MB
    finally:
        idle.delete()
    report.table(
        "Idle session with its desktop started (sum of RSS of the session's processes)",
        ["RSS"],
        [[f"{size:.1f} MB"]],
    )
    report.target(Target("idle session with desktop RSS", "<= 60 MB", f"{size:.1f} MB", size <= 60))


def main() -> None:
    from bench.__main__ import KEY, start_runtime

    process, endpoint = start_runtime(Path(tempfile.mkdtemp(prefix="agentbay-bench-desktop-")))
    try:
        with AgentBay(api_key=KEY, cfg=Config(endpoint=endpoint, timeout_ms=120000)) as bay:
            section_desktop(Report(), bay)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


if __name__ == "__main__":
    main()
