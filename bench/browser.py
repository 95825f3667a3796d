"""The managed browser: create(browser_latest) -> initialize -> connected -> first page, the CDP
round trip through the session's link against a direct connection, idle browser memory.

``python -m bench.browser`` runs this section alone on its own ``agentbay local serve``;
``make bench`` runs it with the rest (``section_browser``). Needs Playwright; the sessions'
Chromium is browser_latest's own. The direct baseline of the round trip is a Chromium this
benchmark starts on the host with the sessions' flags (and ends by its PID), where the host
has one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from agentbay import AgentBay, Config
from agentbay.browser import BrowserOption
from agentbay.session_params import CreateSessionParams
from agentbay_local.sessions.browser_option import BASE_FLAGS, find_chromium
from bench.harness import Report, Target, ms, p50, pct

STARTS = 12
ROUND_TRIPS = 300
PAGE = "data:text/html,<title>first</title><h1>first page</h1>"
MB = 1024 * 1024


def first_page_seconds(bay: AgentBay, playwright: Any) -> tuple[float, Any]:
    """create(browser_latest) -> initialize -> connect_over_cdp -> a page loaded."""
    start = time.perf_counter()
    session = bay.create(CreateSessionParams(image_id="browser_latest")).session
    assert session.browser.initialize(BrowserOption()), "InitBrowser failed"
    browser = playwright.chromium.connect_over_cdp(session.browser.get_endpoint_url())
    context = browser.contexts[0]
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(PAGE)
    elapsed = time.perf_counter() - start
    browser.close()
    return elapsed, session


def round_trips(page: Any, count: int) -> list[float]:
    """Seconds per ``page.evaluate("1")``."""
    for _ in range(20):
        page.evaluate("1")
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        page.evaluate("1")
        samples.append(time.perf_counter() - start)
    return samples


def host_chromium(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A Chromium on the host with the sessions' flags; its CDP URL."""
    chromium = find_chromium()
    assert chromium is not None
    process = subprocess.Popen(
        [chromium.path, f"--user-data-dir={folder}", *BASE_FLAGS, "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    port_file = folder / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            port, path = port_file.read_text().split()[:2]
            return process, f"ws://127.0.0.1:{int(port)}{path}"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError("the host Chromium did not start")


def session_memory_mb(session_id: str) -> float:
    """Resident memory of the session's processes (the harness's per-cgroup sum)."""
    from bench.__main__ import session_rss_bytes

    return session_rss_bytes(session_id) / MB


def section_browser(report: Report, bay: AgentBay) -> None:
    """The browser's start, CDP round trip and memory."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        first_page_seconds(bay, playwright)[1].delete()  # warm-up (pool, page cache)
        starts = []
        for _ in range(STARTS):
            elapsed, session = first_page_seconds(bay, playwright)
            starts.append(elapsed)
            session.delete()
        report.table(
            f"create(browser_latest) -> initialize -> connected -> first page ({STARTS} runs)",
            ["p50", "p95", "max"],
            [[ms(p50(starts)), ms(pct(starts, 0.95)), ms(max(starts))]],
            note="Release not counted; Playwright's driver started once before.",
        )
        report.target(
            Target(
                "browser_latest create -> first page, p50",
                "<= 1.0 s",
                ms(p50(starts)),
                p50(starts) <= 1.0,
            )
        )

        if find_chromium() is None:
            print("no Chromium on the host: the direct round-trip baseline is skipped")
            return
        session = bay.create(CreateSessionParams(image_id="browser_latest")).session
        folder = Path(tempfile.mkdtemp(prefix="agentbay-bench-chromium-"))
        direct_process, direct_url = host_chromium(folder)
        try:
            assert session.browser.initialize(BrowserOption())
            linked = playwright.chromium.connect_over_cdp(session.browser.get_endpoint_url())
            direct = playwright.chromium.connect_over_cdp(direct_url)
            pages = []
            for browser in (linked, direct):
                context = browser.contexts[0]
                page = context.pages[0] if context.pages else context.new_page()
                page.goto(PAGE)
                pages.append(page)
            via_link: list[float] = []
            straight: list[float] = []
            for _ in range(3):  # interleaved rounds, so load changes hit both alike
                via_link += round_trips(pages[0], ROUND_TRIPS // 3)
                straight += round_trips(pages[1], ROUND_TRIPS // 3)
            ratio = p50(via_link) / p50(straight)
            report.table(
                f'CDP round trip, page.evaluate("1") ({ROUND_TRIPS} each)',
                ["path", "p50", "p95"],
                [
                    ["through the session's link", ms(p50(via_link)), ms(pct(via_link, 0.95))],
                    ["direct (a host Chromium)", ms(p50(straight)), ms(pct(straight, 0.95))],
                ],
            )
            report.target(
                Target(
                    "CDP round trip, link / direct (p50)", "<= 1.2", f"{ratio:.2f}", ratio <= 1.2
                ),
            )
            linked.close()
            direct.close()
            time.sleep(1.0)  # settle: idle means after the page work is done
            browser_mb = session_memory_mb(session.session_id)
            plain = bay.create(CreateSessionParams(image_id="code_latest")).session
            time.sleep(1.0)
            plain_mb = session_memory_mb(plain.session_id)
            plain.delete()
            report.table(
                "Idle session memory (sum of RSS of the session's processes)",
                ["session", "RSS"],
                [
                    ["browser_latest, browser started, one page", f"{browser_mb:.0f} MB"],
                    ["code_latest", f"{plain_mb:.1f} MB"],
                ],
                note="RSS counts pages shared between Chromium's processes once per process.",
            )
        finally:
            session.delete()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(direct_process.pid, signal.SIGKILL)
            direct_process.wait(timeout=30)
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    """This section alone, printed."""
    from bench.__main__ import KEY, start_runtime

    data_dir = Path(tempfile.mkdtemp(prefix="agentbay-bench-"))
    process, endpoint = start_runtime(data_dir)
    try:
        with AgentBay(api_key=KEY, cfg=Config(endpoint=endpoint, timeout_ms=120000)) as bay:
            section_browser(Report(), bay)
    finally:
        process.terminate()
        process.wait(timeout=60)


if __name__ == "__main__":
    main()
