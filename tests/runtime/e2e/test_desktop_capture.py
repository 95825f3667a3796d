"""``screenshot`` and ``long_screenshot`` (0.22's inline captures) on the real desktop of a
linux_latest session, through our SDK and the official 0.22.3 client."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
from pathlib import Path

import pytest

from agentbay import AsyncAgentBay, Config, CreateSessionParams
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


#: The first 60 bytes of the cloud's JPEG screenshot as 0.22.3's source records them
#: ("Observed backend payload"): JFIF 1.01 and libjpeg's quality-75 luminance table.
CLOUD_JPEG_HEAD = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwg"


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a baseline JPEG's frame header."""
    offset = 2
    while data[offset] == 0xFF and data[offset + 1] not in (0xC0, 0xC1, 0xC2):
        offset += 2 + struct.unpack(">H", data[offset + 2 : offset + 4])[0]
    height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
    return width, height


def test_jpeg_is_the_screen_encoded_as_the_cloud_does(desk: Session) -> None:
    pids = start(desk, "xterm -geometry 60x10+40+40 -bg white")
    window = window_of(desk, pids)
    x, y = window.absolute_upper_left_x + 20, window.absolute_upper_left_y + 20
    for tool in ("screenshot", "long_screenshot"):
        result = desk.call_mcp_tool(tool, {"format": "jpeg", "max_screens": 2})
        assert result.success, result.error_message
        answer = json.loads(result.data)
        assert (answer["mime_type"], answer["type"]) == ("image/jpeg", "image")
        assert answer["data"].startswith(CLOUD_JPEG_HEAD)
        image = base64.b64decode(answer["data"], validate=True)
        assert jpeg_size(image) == (answer["width"], answer["height"]) == (1024, 768)
    # It is the screen: decoded in the session (libjpeg's djpeg), the window is white.
    assert desk.file_system.write_file("/tmp/shot.b64", answer["data"]).success
    probe = (
        'base64 -d /tmp/shot.b64 | djpeg -pnm | python3 -c "import sys; d = sys.stdin.buffer.'
        f"read(); i = d.index(b'255\\n') + 4 + ({y} * 1024 + {x}) * 3; print(*d[i:i + 3])\""
    )
    pixel_text = desk.command.execute_command(probe, 10000)
    assert pixel_text.success, pixel_text.error_message
    assert all(value > 240 for value in map(int, pixel_text.output.split())), pixel_text.output
    # long_screenshot's quality is the encoder's: a lower one, a smaller image.
    low = desk.call_mcp_tool("long_screenshot", {"format": "jpeg", "max_screens": 2, "quality": 10})
    assert low.success, low.error_message
    assert len(json.loads(low.data)["data"]) < len(answer["data"])
    assert desk.computer.close_window(window.window_id).success


def test_bad_arguments_are_clear_errors(desk: Session) -> None:
    gif = desk.call_mcp_tool("screenshot", {"format": "gif"})
    assert gif.success is False and "must be png or jpeg" in gif.error_message
    few = desk.call_mcp_tool("long_screenshot", {"format": "png", "max_screens": 1})
    assert few.success is False and "between 2 and 10" in few.error_message
    worse = desk.call_mcp_tool(
        "long_screenshot", {"format": "jpeg", "max_screens": 2, "quality": 0}
    )
    assert worse.success is False and "between 1 and 100" in worse.error_message


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


@pytest.mark.parametrize("version", ["0.22.3", "0.15.2"])
def test_official_client_captures(runtime: EmbeddedRuntime, tmp_path: Path, version: str) -> None:
    got = run_driver(official_python(version), DRIVER, runtime.endpoint, API_KEY, tmp_path, 300)
    assert got["screenshot"][:2] == [True, ""]
    assert got["screenshot"][2:] == [1024, 768, "image/png", True]
    assert got["long_screenshot"][:2] == [True, ""]
    if version == "0.22.3":
        # 0.22.3's own beta_take_screenshot wants the cloud's LinkUrl channel, which the
        # local runtime does not answer: it refuses before sending anything.
        assert "does not support" in got["beta_take_screenshot"]
    else:
        assert got["beta_take_screenshot"] == [True, "jpeg", 1024, 768]
        assert got["jpeg_head"] == CLOUD_JPEG_HEAD


def test_our_sdk_takes_them(desk: Session) -> None:
    shot = desk.computer.beta_take_screenshot()
    assert (shot.success, shot.width, shot.height, shot.mime_type) == (True, 1024, 768, "image/png")
    assert decode(shot.data)[:2] == (1024, 768)
    long = desk.computer.beta_take_long_screenshot(max_screens=2)
    assert long.success and long.height is not None and long.height >= 768
    jpeg = desk.computer.beta_take_screenshot("jpg")
    assert (jpeg.success, jpeg.mime_type, jpeg.width) == (True, "image/jpeg", 1024)
    assert jpeg.data[:3] == b"\xff\xd8\xff"
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
