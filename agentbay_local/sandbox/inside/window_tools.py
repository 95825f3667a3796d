"""Window tools of the desktop (``wuying_window``; stdlib only).

Windows are the window manager's clients (EWMH ``_NET_CLIENT_LIST``); requests go to it as
EWMH client messages, and each tool waits (with a deadline) until the change is visible,
so a closed window is gone and a minimised one is hidden when the answer arrives.
"""

from __future__ import annotations

import json
import time

from . import tool_args as ta
from . import xproto

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .computer_tools import Context

#: How long a window request may take to show its effect.
EFFECT_TIMEOUT_S = 3.0
_ADD, _REMOVE = 1, 0
_SOURCE_PAGER = 2  # EWMH source indication: requests from a pager/tool are always honoured
_CHILD_DEPTH = 3


def process_name(pid: int) -> str:
    """The command name of a session process ("" when it is gone)."""
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return ""


class _Windows:
    """One connection's view of the desktop's windows."""

    def __init__(self, ctx: Context, conn: xproto.XConnection) -> None:
        self.desktop = ctx.desktop
        self.conn = conn
        self.root = conn.screen.root

    def atom(self, name: str) -> int:
        return self.desktop.atom(self.conn, name)

    def clients(self) -> list[int]:
        return self.conn.cardinals(self.root, self.atom("_NET_CLIENT_LIST"))

    def active(self) -> int:
        found = self.conn.cardinals(self.root, self.atom("_NET_ACTIVE_WINDOW"))
        return found[0] if found else 0

    def states(self, window: int) -> set[int]:
        return set(self.conn.cardinals(window, self.atom("_NET_WM_STATE")))

    def pid(self, window: int) -> int:
        found = self.conn.cardinals(window, self.atom("_NET_WM_PID"))
        return found[0] if found else 0

    def title(self, window: int) -> str:
        return self.conn.text(window, self.atom("_NET_WM_NAME")) or self.conn.text(
            window, self.atom("WM_NAME")
        )

    def describe(self, window: int, pid: int = 0, depth: int = 0) -> dict[str, Any]:
        """The cloud's window object (``window_title`` and, for the 0.9.3 client, ``title``)."""
        conn = self.conn
        _x, _y, width, height = conn.geometry(window)
        left, top = conn.translate(window)
        pid = self.pid(window) or pid
        title = self.title(window)
        children = []
        if depth < _CHILD_DEPTH:
            for child in conn.children(window):
                if conn.map_state(child) == 2:
                    children.append(self.describe(child, pid, depth + 1))
        return {
            "window_id": window,
            "window_title": title,
            "title": title,
            "absolute_upper_left_x": left,
            "absolute_upper_left_y": top,
            "width": width,
            "height": height,
            "pid": pid,
            "pname": process_name(pid) if pid else "",
            "child_windows": children,
        }

    def existing(self, args: dict[str, Any]) -> int:
        value = args.get("window_id")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ta.ToolError("Invalid arguments: 'window_id' must be an integer")
        if value not in self.clients():
            raise ta.ToolError(f"Window {value} not found (list_root_windows lists the windows)")
        return value

    def message(self, window: int, kind: str, *data: int) -> None:
        self.conn.send_client_message(window, self.atom(kind), data)
        self.conn.sync()

    def set_state(self, window: int, action: int, *names: str) -> None:
        first, second = [self.atom(name) for name in names] + [0] * (2 - len(names))
        self.message(window, "_NET_WM_STATE", action, first, second, _SOURCE_PAGER)

    def wait(self, done: Callable[[], bool], failure: str) -> None:
        deadline = time.monotonic() + EFFECT_TIMEOUT_S
        while not done():
            if time.monotonic() > deadline:
                raise ta.ToolError(failure)
            time.sleep(0.005)


def _with_windows(ctx: Context, action: Callable[[_Windows], str]) -> str:
    return ctx.desktop.run(lambda conn: action(_Windows(ctx, conn)))


def list_root_windows(args: dict[str, Any], ctx: Context) -> str:
    """The top-level windows (the window manager's clients) with their child windows."""
    ta.integer(args, "timeout_ms", 3000)

    def listing(windows: _Windows) -> str:
        found = []
        for window in windows.clients():
            try:
                found.append(windows.describe(window))
            except xproto.XError:
                continue  # closed while we looked
        return json.dumps(found, ensure_ascii=False)

    return _with_windows(ctx, listing)


def get_active_window(args: dict[str, Any], ctx: Context) -> str:
    """The focused top-level window."""
    ta.integer(args, "timeout_ms", 3000)

    def active(windows: _Windows) -> str:
        window = windows.active()
        if not window or window not in windows.clients():
            raise ta.ToolError("No active window")
        return json.dumps(windows.describe(window), ensure_ascii=False)

    return _with_windows(ctx, active)


def activate_window(args: dict[str, Any], ctx: Context) -> str:
    """Raise and focus a window (de-minimising it)."""

    def activate(windows: _Windows) -> str:
        window = windows.existing(args)
        windows.message(window, "_NET_ACTIVE_WINDOW", _SOURCE_PAGER, 0, 0)
        windows.wait(lambda: windows.active() == window, f"Window {window} did not become active")
        return f"Window {window} activated successfully"

    return _with_windows(ctx, activate)


def maximize_window(args: dict[str, Any], ctx: Context) -> str:
    """Maximise a window."""

    def maximize(windows: _Windows) -> str:
        window = windows.existing(args)
        names = ("_NET_WM_STATE_MAXIMIZED_VERT", "_NET_WM_STATE_MAXIMIZED_HORZ")
        windows.set_state(window, _ADD, *names)
        wanted = {windows.atom(name) for name in names}
        windows.wait(lambda: wanted <= windows.states(window), f"Window {window} did not maximize")
        return f"Window {window} maximized successfully"

    return _with_windows(ctx, maximize)


def _hidden(windows: _Windows, window: int) -> bool:
    return windows.atom("_NET_WM_STATE_HIDDEN") in windows.states(window)


def minimize_window(args: dict[str, Any], ctx: Context) -> str:
    """Minimise (iconify) a window."""

    def minimize(windows: _Windows) -> str:
        window = windows.existing(args)
        windows.message(window, "WM_CHANGE_STATE", 3)  # IconicState
        windows.wait(lambda: _hidden(windows, window), f"Window {window} did not minimize")
        return f"Window {window} minimized successfully"

    return _with_windows(ctx, minimize)


def restore_window(args: dict[str, Any], ctx: Context) -> str:
    """Undo minimise, maximise and full screen."""

    def restore(windows: _Windows) -> str:
        window = windows.existing(args)
        if _hidden(windows, window):
            windows.message(window, "_NET_ACTIVE_WINDOW", _SOURCE_PAGER, 0, 0)
        # Full screen first: the window manager keeps a full-screen window's other states.
        windows.set_state(window, _REMOVE, "_NET_WM_STATE_FULLSCREEN")
        windows.set_state(
            window, _REMOVE, "_NET_WM_STATE_MAXIMIZED_VERT", "_NET_WM_STATE_MAXIMIZED_HORZ"
        )
        unwanted = {
            windows.atom(name)
            for name in (
                "_NET_WM_STATE_HIDDEN",
                "_NET_WM_STATE_MAXIMIZED_VERT",
                "_NET_WM_STATE_MAXIMIZED_HORZ",
                "_NET_WM_STATE_FULLSCREEN",
            )
        }
        windows.wait(
            lambda: not unwanted & windows.states(window), f"Window {window} was not restored"
        )
        return f"Window {window} restored successfully"

    return _with_windows(ctx, restore)


def close_window(args: dict[str, Any], ctx: Context) -> str:
    """Ask a window to close (as its close button does) and wait until it is gone."""

    def close(windows: _Windows) -> str:
        window = windows.existing(args)
        windows.message(window, "_NET_CLOSE_WINDOW", 0, _SOURCE_PAGER)
        windows.wait(
            lambda: window not in windows.clients(),
            f"Window {window} did not close (it may be asking whether to save changes)",
        )
        return f"Window {window} closed successfully"

    return _with_windows(ctx, close)


def fullscreen_window(args: dict[str, Any], ctx: Context) -> str:
    """Switch a window to full screen."""

    def fullscreen(windows: _Windows) -> str:
        window = windows.existing(args)
        windows.set_state(window, _ADD, "_NET_WM_STATE_FULLSCREEN")
        wanted = windows.atom("_NET_WM_STATE_FULLSCREEN")
        windows.wait(
            lambda: wanted in windows.states(window), f"Window {window} did not go full screen"
        )
        return f"Window {window} set to full screen successfully"

    return _with_windows(ctx, fullscreen)


def resize_window(args: dict[str, Any], ctx: Context) -> str:
    """Resize a window (apps with size steps, such as terminals, round to their step)."""
    width, height = ta.integer(args, "width", 0), ta.integer(args, "height", 0)
    if not (1 <= width <= 16384 and 1 <= height <= 16384):
        raise ta.ToolError("Invalid arguments: 'width' and 'height' must be between 1 and 16384")

    def resize(windows: _Windows) -> str:
        window = windows.existing(args)
        before = windows.conn.geometry(window)[2:]
        if before == (width, height):
            return f"Window {window} resized successfully"
        flags = (1 << 10) | (1 << 11) | (_SOURCE_PAGER << 12)  # width, height given
        windows.message(window, "_NET_MOVERESIZE_WINDOW", flags, 0, 0, width, height)
        windows.wait(
            lambda: windows.conn.geometry(window)[2:] != before,
            f"Window {window} did not resize (is it maximized or full screen?)",
        )
        return f"Window {window} resized successfully"

    return _with_windows(ctx, resize)


def focus_mode(args: dict[str, Any], ctx: Context) -> str:
    """On: new windows do not take the focus from the window that has it."""
    on = ta.flag(args, "on", False)
    desktop = ctx.desktop

    def apply(windows: _Windows) -> str:
        desktop.focus_new = not on
        desktop.write_wm_config()
        windows.message(windows.root, "_OB_CONTROL", 1)  # openbox: reconfigure
        return f"Focus mode turned {'on' if on else 'off'} successfully"

    return _with_windows(ctx, apply)
