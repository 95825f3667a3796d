"""A session's desktop as processes of its sandbox: started on demand, ended by release."""

from __future__ import annotations

import json
from pathlib import Path

from tests.runtime.sandbox.conftest import Env, new_env


def _names(pids: list[int]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for pid in pids:
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        found.setdefault(name, []).append(pid)
    return found


def test_release_ends_the_x_server_the_window_manager_and_the_apps(env: Env) -> None:
    box = env.session("desktop")
    assert "Xvfb" not in _names(box.pids())  # nothing runs before the first desktop call
    assert env.text(box, "desktop_start").startswith("Desktop started on :")
    started = json.loads(env.text(box, "start_app", start_cmd="xterm -title released"))
    assert "xterm" in {process["pname"] for process in started}
    running = _names(box.pids())
    assert {"Xvfb", "openbox", "xterm"} <= set(running)
    desktop_pids = [pid for name in ("Xvfb", "openbox", "xterm") for pid in running[name]]
    env.release(box)
    assert not [pid for pid in desktop_pids if Path(f"/proc/{pid}").exists()]


def test_display_size_comes_from_the_manager(tmp_path: Path) -> None:
    custom = new_env(tmp_path, pool_size=0, screen={"width": 800, "height": 600, "dpi": 96})
    try:
        box = custom.session("small")
        size = json.loads(custom.text(box, "get_screen_size"))
        assert size == {"dpiScalingFactor": 1.0, "height": 600, "width": 800}
        assert custom.error(box, "move_mouse", x=800, y=10).startswith("Invalid arguments")
    finally:
        custom.close()


def test_the_live_view_frame_never_starts_the_display(env: Env) -> None:
    box = env.session("frames")
    assert env.error(box, "desktop_frame") == "The desktop has not started yet"
    assert "Xvfb" not in _names(box.pids())
    env.text(box, "move_mouse", x=1, y=1)
    frame = json.loads(env.text(box, "desktop_frame"))
    assert frame["png"] and frame["etag"]
    again = json.loads(env.text(box, "desktop_frame", etag=frame["etag"]))
    assert again == {"etag": frame["etag"], "unchanged": True}
    env.release(box)
