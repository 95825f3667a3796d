"""The official client's computer, window and application flows, unchanged, on a local desktop."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.official import official_python, run_driver
from tests.support.spawn import free_port, serve_argv, stop_serve, wait_until_listening

DRIVER = Path(__file__).with_name("official_desktop_driver.py")
KEY = "akm-official-desktop"


def test_official_client_desktop_flows(tmp_path: Path) -> None:
    python = official_python("0.9.3")
    port = free_port()
    process = subprocess.Popen(
        serve_argv(tmp_path / "data", port, KEY, "--pool-size", "1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_listening(process, port)
        got = run_driver(python, DRIVER, f"http://127.0.0.1:{port}", KEY, tmp_path, 300)
    finally:
        stop_serve(process)

    assert got["move"] is True and got["click"] is True
    assert got["cursor"] == '{"x":200,"y":150}'  # 0.9.3 hands the raw text over
    assert got["screen"] == '{"dpiScalingFactor":1.0,"height":768,"width":1024}'
    assert got["screenshot"] == [True, 1024, 768] and got["ui_screenshot"] is True
    assert "xterm" in got["start_app"] and got["focused"] is True
    assert got["input_text"] is True and got["press_keys"] is True and got["typed"] is True
    assert got["title"] == "official-window"
    for key in ("resize", "minimize", "restore", "maximize", "close", "closed"):
        assert got[key] is True, key
    assert got["visible_after_minimize"] is False
    assert got["maximized_width"] == 1024
    assert got["bad_window"] is False and got["bad_key"] is False
    assert got["apps"]["XTerm"] == "xterm"
    assert got["stop_by_pname"] is True and "official-stop" not in got["after_stop"]
    assert got["delete"] is True
