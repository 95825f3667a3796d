"""The live view: a desktop session's ResourceUrl page shows its screen, in a real browser.

These run on a runtime of their own that grants live views mouse and keyboard
(``--live-view-control keyboard``); what a view-only URL refuses is in test_live_view_rights.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentbay import AgentBay, Config
from agentbay.session import Session
from agentbay.session_params import CreateSessionParams
from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.api import Api
from tests.runtime.e2e.conftest import own_runtime
from tests.support.pngdecode import decode, pixel

BACKGROUND = (0x2E, 0x5A, 0x88)  # the desktop's colour (inside/desktop.py BACKGROUND_PIXEL)
RED = (255, 0, 0)


KEY = "akm-live-view"


@pytest.fixture(scope="module")
def interactive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRuntime]:
    data_dir = tmp_path_factory.mktemp("live-view")
    with own_runtime(data_dir, KEY, live_view_control="keyboard") as embedded:
        yield embedded


@pytest.fixture(scope="module")
def api(interactive: EmbeddedRuntime) -> Api:
    return Api(interactive.endpoint, KEY)


@pytest.fixture(scope="module")
def bay(interactive: EmbeddedRuntime) -> Iterator[AgentBay]:
    with AgentBay(api_key=KEY, cfg=Config(endpoint=interactive.endpoint, timeout_ms=60000)) as bay:
        yield bay


@pytest.fixture(scope="module")
def desk(bay: AgentBay) -> Iterator[Session]:
    created = bay.create(CreateSessionParams(image_id="linux_latest"))
    assert created.success, created.error_message
    session = created.session
    yield session
    session.delete()


@pytest.fixture(scope="module")
def red_window(desk: Session) -> tuple[int, int]:
    """A red terminal on the desktop; the point 20 px inside its top-left corner."""
    started = desk.computer.start_app("xterm -bg red -geometry 40x10+300+200")
    assert started.success, started.error_message
    pids = {process.pid for process in started.data}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        window = next((w for w in desk.computer.list_root_windows().windows if w.pid in pids), None)
        if window is not None:
            return window.absolute_upper_left_x + 20, window.absolute_upper_left_y + 20
        time.sleep(0.02)
    raise AssertionError("the terminal's window never appeared")


def page_url(api: Api, desk: Session) -> str:
    return str(api.call("GetMcpResource", SessionId=desk.session_id)["ResourceUrl"])


def test_frames_are_the_screen_and_unchanged_ones_are_304(
    api: Api, desk: Session, red_window: tuple[int, int]
) -> None:
    url = page_url(api, desk)
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200 and "view only" in page.text
    frame_url = url.replace("/mcp.html?", "/mcp.html/frame?")
    frame = httpx.get(frame_url, timeout=10)
    assert frame.status_code == 200 and frame.headers["content-type"] == "image/png"
    width, height, rows = decode(frame.content)
    assert (width, height) == (1024, 768)
    assert pixel(rows, *red_window) == RED and pixel(rows, 5, 5) == BACKGROUND
    again = httpx.get(frame_url, headers={"If-None-Match": frame.headers["etag"]}, timeout=10)
    assert again.status_code == 304
    forged = frame_url.replace("authcode=", "authcode=1")
    assert httpx.get(forged, timeout=10).status_code == 403


def test_input_needs_the_url_to_ask_for_it(api: Api, desk: Session) -> None:
    input_url = page_url(api, desk).replace("/mcp.html?", "/mcp.html/input?")
    click = {"type": "click", "x": 40, "y": 30, "button": "left"}
    assert httpx.post(input_url, json=click, timeout=10).status_code == 403
    interactive = input_url + "&input=true"
    assert httpx.post(interactive, json=click, timeout=10).status_code == 200
    assert desk.computer.get_cursor_position().data == {"x": 40, "y": 30}
    typing = {"type": "text", "text": "x"}
    assert httpx.post(interactive, json=typing, timeout=10).status_code == 400
    assert httpx.post(interactive + "&keyboard=true", json=typing, timeout=10).status_code == 200
    bad = httpx.post(interactive, json={"type": "click", "x": "a", "y": 1}, timeout=10)
    assert bad.status_code == 400


def test_the_page_shows_the_desktop_in_headless_chromium(
    api: Api, desk: Session, red_window: tuple[int, int], tmp_path: Path
) -> None:
    # A viewer on this machine, as a user's browser looks at the page (the runtime's
    # sessions bring their own Chromium; the host need not have one).
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium on this machine to look at the page with (a viewer only)")
    shot = tmp_path / "page.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=1024,800",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            page_url(api, desk),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    width, height, rows = decode(shot.read_bytes())
    assert (width, height) == (1024, 800)
    # The image sits at the page's top-left corner at its natural size: desktop pixels 1:1.
    assert pixel(rows, *red_window) == RED
    assert pixel(rows, 5, 5) == BACKGROUND
