"""Runs the OFFICIAL client's computer, window and application flows on a local desktop.

Executed by tests/runtime/e2e/test_official_desktop.py with the official client's interpreter and
AGENTBAY_ENDPOINT / AGENTBAY_API_KEY set; it imports nothing of this project. Results go to
the JSON file named by the first argument.
"""

from __future__ import annotations

import json
import struct
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(1, str(Path(__file__).resolve().parents[2] / "support"))

import loopback_only  # noqa: F401  (first: nothing below reaches past loopback)

from agentbay import AgentBay  # the official client
from agentbay.session_params import CreateSessionParams

results: dict[str, Any] = {}


def until(probe: Any, timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    value = probe()
    while not value and time.monotonic() < deadline:
        time.sleep(0.05)
        value = probe()
    return value


def window_of(computer: Any, pids: set[int]) -> Any:
    return until(
        lambda: next((w for w in computer.list_root_windows().windows if w.pid in pids), None)
    )


def main() -> None:
    bay = AgentBay()
    session = bay.create(CreateSessionParams(image_id="linux_latest")).session
    computer = session.computer
    try:
        results["move"] = computer.move_mouse(200, 150).success
        results["cursor"] = computer.get_cursor_position().data
        results["screen"] = computer.get_screen_size().data
        results["click"] = computer.click_mouse(10, 10, "left").success
        shot = computer.screenshot()
        png = urllib.request.urlopen(shot.data, timeout=10).read()
        results["screenshot"] = [png[:8] == b"\x89PNG\r\n\x1a\n", *struct.unpack(">II", png[16:24])]
        results["ui_screenshot"] = session.ui.screenshot().data.startswith("http")

        started = computer.start_app("xterm -e sh -c 'cat > /root/official.txt'")
        results["start_app"] = sorted({p.pname for p in started.data})
        pids = {p.pid for p in started.data}
        window = window_of(computer, pids)
        results["focused"] = bool(
            until(lambda: computer.get_active_window().window.window_id == window.window_id)
        )
        results["input_text"] = computer.input_text("official ✓ 日本\n").success
        results["press_keys"] = computer.press_keys(["Ctrl", "d"]).success
        results["typed"] = until(
            lambda: (
                session.file_system.read_file("/root/official.txt").content == "official ✓ 日本\n"
            )
        )

        started = computer.start_app("xterm -title official-window")
        pids = {p.pid for p in started.data}
        window = window_of(computer, pids)
        results["title"] = window.title
        results["resize"] = session.window.resize_window(window.window_id, 400, 300).success
        results["minimize"] = computer.minimize_window(window.window_id).success
        results["visible_after_minimize"] = bool(
            pids & {p.pid for p in computer.list_visible_apps().data}
        )
        results["restore"] = computer.restore_window(window.window_id).success
        results["maximize"] = computer.maximize_window(window.window_id).success
        results["maximized_width"] = window_of(computer, pids).width
        results["close"] = computer.close_window(window.window_id).success
        results["closed"] = window.window_id not in {
            w.window_id for w in computer.list_root_windows().windows
        }
        results["bad_window"] = computer.activate_window(123456789).success
        results["bad_key"] = computer.press_keys(["NoSuchKey"]).success

        apps = computer.get_installed_apps()
        results["apps"] = {app.name: app.start_cmd for app in apps.data}
        started = session.application.start_app("xterm -title official-stop")
        window_of(computer, {p.pid for p in started.data})
        results["stop_by_pname"] = session.application.stop_app_by_pname("xterm").success
        results["after_stop"] = [w.title for w in computer.list_root_windows().windows]
    finally:
        results["delete"] = session.delete().success


if __name__ == "__main__":
    try:
        main()
    finally:
        with open(sys.argv[1], "w", encoding="utf-8") as handle:
            json.dump(results, handle)
