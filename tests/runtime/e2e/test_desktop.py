"""The linux_latest desktop end to end: a real X server in the session, driven through our SDK.

One desktop session is shared by the tests of this module (starting a display costs
~0.5 s); each test starts the apps it needs and leaves the screen as it found it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from agentbay import AgentBay, AsyncAgentBay, Config
from agentbay.session import Session
from agentbay.session_params import CreateSessionParams
from agentbay_local.sandbox import userns
from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.api import Api
from tests.runtime.e2e.conftest import API_KEY
from tests.support.pngdecode import decode, pixel

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], what: str, timeout_s: float = 10.0) -> T:
    """Poll ``probe`` until it returns something truthy (AssertionError after the deadline)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture(scope="module")
def desk(bay: AgentBay) -> Iterator[Session]:
    """One linux_latest session whose desktop the module's tests share."""
    created = bay.create(CreateSessionParams(image_id="linux_latest"))
    assert created.success, created.error_message
    yield created.session
    created.session.delete()


def screenshot(session: Session) -> tuple[int, int, list[bytes]]:
    shot = session.computer.screenshot()
    assert shot.success, shot.error_message
    assert isinstance(shot.data, str) and shot.data.startswith("http")
    response = httpx.get(shot.data, timeout=10)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    return decode(response.content)


def start(session: Session, command: str) -> list[int]:
    started = session.computer.start_app(command)
    assert started.success, started.error_message
    return [process.pid for process in started.data]


def window_of(session: Session, pids: list[int]) -> Any:
    """The top-level window of one of ``pids`` (waits until it is listed)."""

    def find() -> Any:
        listed = session.computer.list_root_windows()
        assert listed.success, listed.error_message
        return next((w for w in listed.windows if w.pid in pids), None)

    return wait_for(find, f"a window of {pids}")


def focused(session: Session, window_id: int) -> bool:
    active = session.computer.get_active_window()
    return active.success and active.window.window_id == window_id


def read_when(session: Session, path: str, expected: str) -> str:
    def probe() -> str | None:
        result = session.file_system.read_file(path)
        return result.content if result.success and result.content == expected else None

    try:
        return wait_for(probe, f"{path} to hold {expected!r}")
    except AssertionError:
        return str(session.file_system.read_file(path).content)


# ---- pointer and screen ----
def test_move_then_cursor_position(desk: Session) -> None:
    assert desk.computer.move_mouse(123, 456).success
    assert desk.computer.get_cursor_position().data == {"x": 123, "y": 456}
    assert desk.computer.get_screen_size().data == {
        "dpiScalingFactor": 1.0,
        "height": 768,
        "width": 1024,
    }


def test_answer_texts_are_the_clouds(api: Api, desk: Session) -> None:
    sid = desk.session_id
    assert api.text(sid, "move_mouse", x=100, y=100) == "Mouse moved to (100, 100) successfully"
    assert api.text(sid, "get_cursor_position") == '{"x":100,"y":100}'
    assert api.text(sid, "get_screen_size") == '{"dpiScalingFactor":1.0,"height":768,"width":1024}'
    assert (
        api.text(sid, "scroll", x=500, y=500, direction="down", amount=5)
        == "Mouse scrolled at (500, 500) direction: down amount: 5 successfully"
    )
    assert (
        api.text(sid, "drag_mouse", from_x=100, from_y=100, to_x=200, to_y=200, button="left")
        == "Mouse dragged from (100, 100) to (200, 200) with left button successfully"
    )
    assert (
        api.text(sid, "click_mouse", x=5, y=5, button="double_left")
        == "Mouse clicked at (5, 5) with double_left button successfully"
    )
    assert api.text(sid, "press_keys", keys=["Escape"]) == "Keys pressed and released successfully"
    assert api.text(sid, "release_keys", keys=["Shift"]) == "Keys released successfully"
    assert api.text(sid, "input_text", text="") == "Text sent successfully. Characters: 0"


def test_bad_arguments_are_clear_errors(desk: Session) -> None:
    off_screen = desk.computer.move_mouse(5000, 10)
    assert not off_screen.success and "outside the screen" in off_screen.error_message
    unknown_key = desk.computer.press_keys(["NoSuchKey"])
    assert not unknown_key.success and "unknown key 'NoSuchKey'" in unknown_key.error_message
    missing = desk.computer.activate_window(987654321)
    assert not missing.success and "Window 987654321 not found" in missing.error_message
    assert not desk.computer.stop_app_by_pid(999999).success
    assert desk.computer.get_cursor_position().success  # the desktop is still fine


def test_screenshot_has_the_screen_size_and_changes_when_an_app_opens(desk: Session) -> None:
    width, height, before = screenshot(desk)
    assert (width, height) == (1024, 768)
    pids = start(desk, "xterm -geometry 60x10+40+40 -bg white")
    window = window_of(desk, pids)
    _, _, after = screenshot(desk)
    assert after != before
    inside = (window.absolute_upper_left_x + 20, window.absolute_upper_left_y + 20)
    assert pixel(after, *inside) == (255, 255, 255) != pixel(before, *inside)
    assert desk.computer.close_window(window.window_id).success


# ---- keyboard ----
def test_input_text_into_a_terminal_lands_in_a_file(desk: Session) -> None:
    pids = start(desk, "xterm -e sh -c 'cat > /root/typed.txt'")
    window = window_of(desk, pids)
    wait_for(lambda: focused(desk, window.window_id), "the terminal to have the focus")
    text = "héllo wörld ✓ 日本語 Ünïcödé ABC xyz 0123 !@#$%^&*()_+{}|:\"<>?~`-=[]\\;',./"
    typed = desk.computer.input_text(text + "\n")
    assert typed.success, typed.error_message
    assert desk.computer.press_keys(["Ctrl", "d"]).success  # end of input: cat exits
    assert read_when(desk, "/root/typed.txt", text + "\n") == text + "\n"


def test_long_unicode_text_arrives_whole(desk: Session) -> None:
    # More distinct characters than the keyboard has spare keycodes: bindings get recycled.
    text = "".join(chr(0x4E00 + 7 * i) for i in range(300)) + " ÀÉÎÕÜ ąęłńś ∑∫√∞ ★☆♠♥\n"
    pids = start(desk, "xterm -e sh -c 'cat > /root/long.txt'")
    window = window_of(desk, pids)
    wait_for(lambda: focused(desk, window.window_id), "the terminal to have the focus")
    assert desk.computer.input_text(text).success
    assert desk.computer.press_keys(["Ctrl", "d"]).success
    assert read_when(desk, "/root/long.txt", text) == text


def test_select_all_copy_paste_through_the_clipboard(desk: Session) -> None:
    pids = start(desk, "mousepad /root/notes.txt")
    window = window_of(desk, pids)
    wait_for(lambda: focused(desk, window.window_id), "the editor to have the focus")
    assert desk.computer.input_text("copy me ✓").success
    for keys in (["Ctrl", "a"], ["Ctrl", "c"], ["End"], ["Ctrl", "v"], ["Ctrl", "s"]):
        assert desk.computer.press_keys(keys).success, keys
    assert read_when(desk, "/root/notes.txt", "copy me ✓copy me ✓") == "copy me ✓copy me ✓"
    clipboard = desk.command.execute_command("xclip -o -selection clipboard", timeout_ms=5000)
    assert clipboard.output == "copy me ✓"
    assert desk.computer.stop_app_by_pname("mousepad").success


def test_held_keys_stay_down_until_released(desk: Session) -> None:
    pids = start(desk, "xterm -e sh -c 'cat > /root/held.txt'")
    window = window_of(desk, pids)
    wait_for(lambda: focused(desk, window.window_id), "the terminal to have the focus")
    assert desk.computer.press_keys(["Shift"], hold=True).success
    assert desk.computer.press_keys(["a"]).success  # with Shift held: "A"
    assert desk.computer.release_keys(["Shift"]).success
    assert desk.computer.press_keys(["b"]).success
    assert desk.computer.press_keys(["Enter"]).success
    assert desk.computer.press_keys(["Ctrl", "d"]).success
    assert read_when(desk, "/root/held.txt", "Ab\n") == "Ab\n"


# ---- windows ----
def test_windows_are_listed_resized_minimised_maximised_and_closed(api: Api, desk: Session) -> None:
    pids = start(desk, "xterm -title desk-test-window")
    window = window_of(desk, pids)
    assert window.title == "desk-test-window" and window.pname == "xterm"
    raw = json.loads(api.text(desk.session_id, "list_root_windows", timeout_ms=3000))
    entry = next(w for w in raw if w["window_id"] == window.window_id)
    assert entry["window_title"] == entry["title"] == "desk-test-window"

    assert desk.computer.resize_window(window.window_id, 500, 300).success
    resized = window_of(desk, pids)
    assert (resized.width, resized.height) != (window.width, window.height)
    assert abs(resized.width - 500) < 20 and abs(resized.height - 300) < 20  # xterm cell steps

    assert desk.computer.minimize_window(window.window_id).success
    visible = desk.computer.list_visible_apps()
    assert visible.success and not set(pids) & {p.pid for p in visible.data}
    assert desk.computer.restore_window(window.window_id).success
    assert set(pids) & {p.pid for p in desk.computer.list_visible_apps().data}

    assert desk.computer.maximize_window(window.window_id).success
    assert window_of(desk, pids).width == 1024
    assert desk.computer.fullscreen_window(window.window_id).success
    full = window_of(desk, pids)
    assert (full.width, full.height) == (1024, 768)
    assert desk.computer.restore_window(window.window_id).success
    assert desk.computer.activate_window(window.window_id).success
    assert focused(desk, window.window_id)

    assert desk.computer.close_window(window.window_id).success
    left = desk.computer.list_root_windows().windows
    assert window.window_id not in {w.window_id for w in left}


def test_focus_mode_keeps_the_focus(desk: Session) -> None:
    first = window_of(desk, start(desk, "xterm -title focus-first"))
    assert desk.computer.activate_window(first.window_id).success
    assert desk.computer.focus_mode(True).success
    try:
        second = window_of(desk, start(desk, "xterm -title focus-second"))
        assert focused(desk, first.window_id) and not focused(desk, second.window_id)
    finally:
        assert desk.computer.focus_mode(False).success
    for window in (first, second):
        assert desk.computer.close_window(window.window_id).success


# ---- applications ----
def test_installed_apps_come_from_desktop_entries(desk: Session) -> None:
    apps = desk.computer.get_installed_apps()
    assert apps.success, apps.error_message
    by_name = {app.name: app.start_cmd for app in apps.data}
    assert by_name["XTerm"] == "xterm" and by_name["Mousepad"] == "mousepad %U"
    everything = desk.computer.get_installed_apps(ignore_system_apps=False)
    assert len(everything.data) > len(apps.data)
    # a start_cmd with field codes starts as the cloud's does
    pids = start(desk, by_name["Mousepad"])
    window = window_of(desk, pids)
    assert desk.computer.stop_app_by_cmd("pkill -x mousepad").success
    wait_for(
        lambda: (
            window.window_id not in {w.window_id for w in desk.computer.list_root_windows().windows}
        ),
        "the editor's window to go",
    )


@pytest.mark.skipif(
    userns.rootless(), reason="rootless, Chromium's menu entry runs it as root without --no-sandbox"
)
def test_chromium_starts_from_its_menu_entry(desk: Session) -> None:
    apps = desk.computer.get_installed_apps().data
    entry = next(app for app in apps if app.name.startswith("Chromium"))
    pids = start(desk, entry.start_cmd.replace("%U", "--no-first-run"))
    window = window_of(desk, pids)
    assert window.title.endswith("Chromium") and window.pname == "chromium"
    assert desk.computer.stop_app_by_pname("chromium").success
    assert window.window_id not in {w.window_id for w in desk.computer.list_root_windows().windows}


def test_stop_app_by_pid_and_pname_end_the_app(desk: Session) -> None:
    started = desk.computer.start_app("xterm -title stop-by-pid")
    xterm = next(p for p in started.data if p.pname == "xterm")
    assert xterm.cmdline == "xterm -title stop-by-pid"
    window_of(desk, [xterm.pid])
    assert desk.computer.stop_app_by_pid(xterm.pid).success
    gone = desk.command.execute_command(f"kill -0 {xterm.pid} 2>&1 || echo gone", timeout_ms=3000)
    assert "gone" in gone.output
    pids = start(desk, "xterm -title stop-by-pname")
    window_of(desk, pids)
    assert desk.computer.stop_app_by_pname("xterm").success
    assert not set(pids) & {w.pid for w in desk.computer.list_root_windows().windows}
    assert not desk.computer.stop_app_by_pname("xterm").success  # nothing left to stop


# ---- sessions ----
def test_two_sessions_have_independent_desktops(bay: AgentBay, desk: Session) -> None:
    assert desk.computer.move_mouse(10, 20).success
    other = bay.create(CreateSessionParams(image_id="linux_latest")).session
    try:
        assert other.computer.move_mouse(700, 500).success
        pids = start(other, "xterm -title only-in-other")
        window_of(other, pids)
        assert desk.computer.get_cursor_position().data == {"x": 10, "y": 20}
        titles = {w.title for w in desk.computer.list_root_windows().windows}
        assert "only-in-other" not in titles
        # Both displays are :0, each only in its session's /tmp: no abstract socket (which
        # would live in the shared network namespace) reaches the other one.
        probe = desk.code.run_code(
            "import os, socket\n"
            "print(sorted(os.listdir('/tmp/.X11-unix')))\n"
            "s = socket.socket(socket.AF_UNIX)\n"
            "try:\n"
            "    s.connect('\\0/tmp/.X11-unix/X0')\n"
            "    print('connected')\n"
            "except OSError as exc:\n"
            "    print(type(exc).__name__)\n",
            "python",
        )
        assert probe.result == "['X0']\nConnectionRefusedError\n", probe
    finally:
        other.delete()


def test_desktop_tools_are_not_on_code_latest(bay: AgentBay) -> None:
    session = bay.create(CreateSessionParams(image_id="code_latest")).session
    try:
        names = {tool.name for tool in session.list_mcp_tools().tools}
        assert "click_mouse" not in names and "shell" in names
        result = session.computer.move_mouse(1, 1)
        assert not result.success and "tool not found: move_mouse" in result.error_message
    finally:
        session.delete()


def test_linux_latest_lists_the_desktop_tools(bay: AgentBay, desk: Session) -> None:
    names = {tool.name for tool in desk.list_mcp_tools().tools}
    assert {"click_mouse", "system_screenshot", "list_root_windows", "start_app"} <= names


def test_async_sdk_drives_the_desktop(runtime: EmbeddedRuntime) -> None:
    async def main() -> None:
        cfg = Config(endpoint=runtime.endpoint, timeout_ms=60000)
        async with AsyncAgentBay(api_key=API_KEY, cfg=cfg) as bay:
            created = await bay.create(CreateSessionParams(image_id="linux_latest"))
            async with created.session as session:
                assert (await session.computer.move_mouse(321, 123)).success
                position = await session.computer.get_cursor_position()
                assert position.data == {"x": 321, "y": 123}
                shot = await session.computer.screenshot()
                async with httpx.AsyncClient() as http:
                    png = (await http.get(shot.data, timeout=10)).content
                assert decode(png)[:2] == (1024, 768)
                started = await session.computer.start_app("xterm -title async-window")
                assert started.success and started.data
                # start_app answers once the process runs; its window is mapped a little later.
                deadline = time.monotonic() + 10
                titles: set[str] = set()
                while "async-window" not in titles and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                    windows = await session.computer.list_root_windows()
                    titles = {window.title for window in windows.windows}
                assert "async-window" in titles

    asyncio.run(main())


def test_screenshot_urls_are_signed(desk: Session) -> None:
    url = desk.computer.screenshot().data
    assert httpx.get(url, timeout=10).status_code == 200
    assert httpx.get(url.replace("signature=", "signature=0"), timeout=10).status_code == 404
    assert httpx.get(url.split("?")[0], timeout=10).status_code == 404


def test_a_session_without_the_x_server_says_what_to_install(bay: AgentBay) -> None:
    session = bay.create(CreateSessionParams(image_id="linux_latest")).session
    try:
        # The session's root is its own copy-on-write view: the image keeps its X server.
        removed = session.command.execute_command('rm "$(command -v Xvfb)" && echo ok', 5000)
        assert removed.output == "ok\n", removed
        missing = session.computer.get_screen_size()
        assert not missing.success
        assert "Xvfb not installed" in missing.error_message
        assert "apt-get install xvfb" in missing.error_message
        assert session.command.execute_command("echo still", 5000).output == "still\n"
        assert session.file_system.write_file("/root/f.txt", "x").success
    finally:
        session.delete()


def _around(rows: list[bytes], x: int, y: int) -> list[tuple[int, int, int]]:
    """The pixels of a 16x16 square centred on ``x, y`` (where a pointer's image lies)."""
    return [pixel(rows, x + dx, y + dy) for dy in range(-8, 8) for dx in range(-8, 8)]


def test_screenshots_show_the_pointer_where_it_is(desk: Session) -> None:
    assert desk.computer.move_mouse(200, 200).success
    _, _, first = screenshot(desk)
    assert desk.computer.move_mouse(600, 500).success
    _, _, second = screenshot(desk)
    # The pointer left (200, 200) and arrived at (600, 500): both places changed.
    assert _around(first, 200, 200) != _around(second, 200, 200)
    assert _around(first, 600, 500) != _around(second, 600, 500)
