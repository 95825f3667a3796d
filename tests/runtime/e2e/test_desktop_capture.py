"""``screenshot`` and ``long_screenshot`` (0.22's inline captures) on the real desktop of a
linux_latest session, through our SDK and the official 0.22.3 client."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest

from agentbay import AsyncAgentBay, Config, CreateSessionParams
from agentbay.exceptions import AgentBayError
from agentbay.session import Session
from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.conftest import API_KEY
from tests.runtime.e2e.test_desktop import desk, start, wait_for, window_of
from tests.support.official import official_python, run_driver
from tests.support.pngdecode import decode, pixel

__all__ = ["desk"]  # the module's shared desktop session (a fixture of test_desktop)
DRIVER = Path(__file__).with_name("official_capture_driver.py")
#: A pager of 400 numbered lines (curses: the alternate screen, where xterm turns the wheel
#: into arrow keys), one line further down per arrow.
PAGER = """
import curses
def main(screen):
    top = 0
    while True:
        height, _ = screen.getmaxyx()
        screen.erase()
        for row in range(height - 1):
            screen.addstr(row, 0, "line %03d" % (top + row + 1))
        screen.refresh()
        if screen.getch() == curses.KEY_DOWN:
            top = min(top + 1, 400 - height)
curses.wrapper(main)
"""


def capture(session: Session, tool: str, **args: object) -> tuple[dict[str, object], list[bytes]]:
    """The tool's JSON answer and its decoded rows (the answer's size checked)."""
    result = session.call_mcp_tool(tool, {"format": "png", **args})
    assert result.success, result.error_message
    answer = json.loads(result.data)
    assert sorted(answer) == ["data", "height", "mime_type", "type", "width"]
    assert (answer["mime_type"], answer["type"]) == ("image/png", "image")
    width, height, rows = decode(base64.b64decode(answer["data"], validate=True))
    assert (width, height) == (answer["width"], answer["height"])
    return answer, rows


def test_screenshot_is_the_screen_inline(desk: Session) -> None:
    answer, before = capture(desk, "screenshot")
    assert (answer["width"], answer["height"]) == (1024, 768)
    pids = start(desk, "xterm -geometry 60x10+40+40 -bg white")
    window = window_of(desk, pids)
    inside = (window.absolute_upper_left_x + 20, window.absolute_upper_left_y + 20)
    _, after = capture(desk, "screenshot")
    assert pixel(after, *inside) == (255, 255, 255) != pixel(before, *inside)
    assert desk.computer.close_window(window.window_id).success


def test_jpeg_and_bad_arguments_are_clear_errors(desk: Session) -> None:
    jpeg = desk.call_mcp_tool("screenshot", {"format": "jpeg"})
    assert jpeg.success is False and "use 'png'" in jpeg.error_message
    few = desk.call_mcp_tool("long_screenshot", {"format": "png", "max_screens": 1})
    assert few.success is False and "between 2 and 10" in few.error_message


def test_long_screenshot_stitches_what_scrolling_brings(desk: Session) -> None:
    # Nothing scrolls on the empty desktop: one screen, however many were allowed.
    still, _ = capture(desk, "long_screenshot", max_screens=4)
    assert still["height"] == 768
    assert desk.file_system.write_file("/root/pager.py", PAGER).success
    pids = start(
        desk,
        "xterm -xrm 'XTerm*alternateScroll: true' -geometry 120x50+0+0 -bg white "
        "-e python3 /root/pager.py",
    )
    window = window_of(desk, pids)
    wait_for(lambda: capture(desk, "screenshot")[1], "the pager to draw")
    answer, _ = capture(desk, "long_screenshot", max_screens=3)
    assert 768 < int(answer["height"]) < 3 * 768  # more than one screen, each row once
    assert desk.computer.close_window(window.window_id).success


def test_official_022_client_captures(runtime: EmbeddedRuntime, tmp_path: Path) -> None:
    got = run_driver(official_python("0.22.3"), DRIVER, runtime.endpoint, API_KEY, tmp_path, 300)
    assert got["screenshot"][:2] == [True, ""]
    assert got["screenshot"][2:] == [1024, 768, "image/png", True]
    assert got["long_screenshot"][:2] == [True, ""]
    # 0.22.3's own beta_take_screenshot wants the cloud's LinkUrl channel, which the
    # local runtime does not answer: it refuses before sending anything.
    assert "does not support" in got["beta_take_screenshot"]


def test_our_sdk_takes_them(desk: Session) -> None:
    shot = desk.computer.beta_take_screenshot()
    assert (shot.success, shot.width, shot.height, shot.mime_type) == (True, 1024, 768, "image/png")
    assert decode(shot.data)[:2] == (1024, 768)
    long = desk.computer.beta_take_long_screenshot(max_screens=2)
    assert long.success and long.height is not None and long.height >= 768
    with pytest.raises(AgentBayError, match="use 'png'"):
        desk.computer.beta_take_screenshot("jpg")
    with pytest.raises(ValueError, match="Invalid format"):
        desk.computer.beta_take_screenshot("gif")
    with pytest.raises(ValueError, match="max_screens"):
        desk.computer.beta_take_long_screenshot(max_screens=11)


def test_our_async_sdk_takes_a_screenshot(runtime: EmbeddedRuntime) -> None:
    async def main() -> tuple[int | None, bytes]:
        cfg = Config(endpoint=runtime.endpoint, timeout_ms=60000)
        async with AsyncAgentBay(api_key=API_KEY, cfg=cfg) as bay:
            session = (await bay.create(CreateSessionParams(image_id="linux_latest"))).session
            try:
                shot = await session.computer.beta_take_screenshot()
            finally:
                await session.delete()
            return shot.width, shot.data[:8]

    assert asyncio.run(main()) == (1024, b"\x89PNG\r\n\x1a\n")
