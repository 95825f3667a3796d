"""Mouse, keyboard and screen tools of the desktop (``wuying_computer``, ``wuying_ui``).

Stdlib only (runs inside the session).

Every effect is real: events go through XTEST into the session's X server, exactly as a
physical mouse or keyboard would deliver them to the focused window. Answer texts are the
cloud's (desktop-browser.md, section 2). Each tool waits (``sync``) until the server has
handled its events, so the next call sees their effect.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import time
import zlib

from . import keysyms, png, xproto
from . import tool_args as ta

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol

    from . import procs
    from .desktop import Desktop

    class Context(Protocol):
        """What the desktop tools need from the tool server."""

        @property
        def desktop(self) -> Desktop: ...

        @property
        def reaper(self) -> procs.Reaper: ...

        @property
        def env(self) -> dict[str, str]: ...


_BUTTONS = {"left": 1, "middle": 2, "right": 3}
_SCROLL_BUTTONS = {"up": 4, "down": 5, "left": 6, "right": 7}
_SHIFT = 0xFFE1
#: Pointer steps of a drag: apps see motion with the button held, not a jump.
_DRAG_STEPS = 12


def _point(
    args: dict[str, Any], ctx: Context, x_name: str = "x", y_name: str = "y"
) -> tuple[int, int]:
    x, y = _coordinate(args, x_name), _coordinate(args, y_name)
    ctx.desktop.check_point(x, y)
    return x, y


def _coordinate(args: dict[str, Any], name: str) -> int:
    value = args.get(name)
    if value is None:
        raise ta.ToolError(f"Invalid arguments: '{name}' is required")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ta.ToolError(f"Invalid arguments: '{name}' must be an integer")
    return value


def _button(args: dict[str, Any], allowed: dict[str, int], default: str = "left") -> str:
    name = ta.text(args, "button", default) or default
    if name not in allowed:
        raise ta.ToolError(
            f"Invalid arguments: 'button' must be one of {', '.join(allowed)} (got {name!r})"
        )
    return name


def _click(conn: xproto.XConnection, x: int, y: int, button: int, times: int) -> None:
    conn.fake_input(xproto.MOTION_NOTIFY, 0, x, y)
    for _ in range(times):
        conn.fake_input(xproto.BUTTON_PRESS, button)
        conn.fake_input(xproto.BUTTON_RELEASE, button)
    conn.sync()


# ---- wuying_computer ----
def click_mouse(args: dict[str, Any], ctx: Context) -> str:
    """Click (or double-click: ``double_left``) at a point."""
    x, y = _point(args, ctx)
    name = _button(args, {**_BUTTONS, "double_left": 1})
    times = 2 if name == "double_left" else 1
    ctx.desktop.run(lambda conn: _click(conn, x, y, 1 if times == 2 else _BUTTONS[name], times))
    return f"Mouse clicked at ({x}, {y}) with {name} button successfully"


def move_mouse(args: dict[str, Any], ctx: Context) -> str:
    """Move the pointer."""
    x, y = _point(args, ctx)

    def move(conn: xproto.XConnection) -> None:
        conn.fake_input(xproto.MOTION_NOTIFY, 0, x, y)
        conn.sync()

    ctx.desktop.run(move)
    return f"Mouse moved to ({x}, {y}) successfully"


def _drag(
    conn: xproto.XConnection,
    start: tuple[int, int],
    end: tuple[int, int],
    button: int,
    pause_s: float,
) -> None:
    conn.fake_input(xproto.MOTION_NOTIFY, 0, *start)
    conn.fake_input(xproto.BUTTON_PRESS, button)
    conn.sync()
    for step in range(1, _DRAG_STEPS + 1):
        x = start[0] + (end[0] - start[0]) * step // _DRAG_STEPS
        y = start[1] + (end[1] - start[1]) * step // _DRAG_STEPS
        conn.fake_input(xproto.MOTION_NOTIFY, 0, x, y)
        if pause_s:
            conn.sync()
            time.sleep(pause_s)  # a swipe's duration is real time the user asked for
    conn.fake_input(xproto.BUTTON_RELEASE, button)
    conn.sync()


def drag_mouse(args: dict[str, Any], ctx: Context) -> str:
    """Press a button at one point, move to another, release."""
    start = _point(args, ctx, "from_x", "from_y")
    end = _point(args, ctx, "to_x", "to_y")
    name = _button(args, _BUTTONS)
    ctx.desktop.run(lambda conn: _drag(conn, start, end, _BUTTONS[name], 0.0))
    return (
        f"Mouse dragged from ({start[0]}, {start[1]}) to ({end[0]}, {end[1]}) "
        f"with {name} button successfully"
    )


def scroll(args: dict[str, Any], ctx: Context) -> str:
    """Turn the wheel ``amount`` notches at a point."""
    x, y = _point(args, ctx)
    direction = ta.text(args, "direction", "up") or "up"
    if direction not in _SCROLL_BUTTONS:
        raise ta.ToolError(
            "Invalid arguments: 'direction' must be one of up, down, left, right "
            f"(got {direction!r})"
        )
    amount = ta.integer(args, "amount", 1)
    if not 1 <= amount <= 1000:
        raise ta.ToolError("Invalid arguments: 'amount' must be between 1 and 1000")
    ctx.desktop.run(lambda conn: wheel(conn, (x, y), direction, amount))
    return f"Mouse scrolled at ({x}, {y}) direction: {direction} amount: {amount} successfully"


def get_cursor_position(args: dict[str, Any], ctx: Context) -> str:
    """``{"x":..,"y":..}``."""
    x, y = ctx.desktop.run(lambda conn: conn.pointer())
    return json.dumps({"x": x, "y": y}, separators=(",", ":"))


def get_screen_size(args: dict[str, Any], ctx: Context) -> str:
    """``{"dpiScalingFactor":1.0,"height":768,"width":1024}`` (the cloud's key order)."""
    screen = ctx.desktop.run(lambda conn: conn.screen)
    factor = round(screen.dpi / 96.0, 2)
    return json.dumps(
        {"dpiScalingFactor": factor, "height": screen.height, "width": screen.width},
        separators=(",", ":"),
    )


def _keys(args: dict[str, Any]) -> list[int]:
    names = ta.text_list(args, "keys")
    if not names:
        raise ta.ToolError("Invalid arguments: 'keys' must not be empty")
    return [keysyms.key(name) for name in names]


def _codes(ctx: Context, conn: xproto.XConnection, symbols: list[int]) -> list[int]:
    """Keycodes to press for a combination, Shift added where a key needs it."""
    keyboard = ctx.desktop.keyboard
    assert keyboard is not None
    codes: list[int] = []
    for symbol in symbols:
        keycode, shifted = keyboard.resolve(conn, symbol)
        if shifted and _SHIFT not in symbols:
            shift = keyboard.resolve(conn, _SHIFT)[0]
            if shift not in codes:
                codes.append(shift)
        codes.append(keycode)
    return codes


def press_keys(args: dict[str, Any], ctx: Context) -> str:
    """Press keys together (in order), then release them (reverse order) unless ``hold``."""
    symbols = _keys(args)
    hold = ta.flag(args, "hold", False)
    desktop = ctx.desktop

    def press(conn: xproto.XConnection) -> None:
        codes = _codes(ctx, conn, symbols)
        for code in codes:
            conn.fake_input(xproto.KEY_PRESS, code)
        if hold:
            desktop.held.extend(code for code in codes if code not in desktop.held)
        else:
            for code in reversed(codes):
                conn.fake_input(xproto.KEY_RELEASE, code)
        conn.sync()

    desktop.run(press)
    return "Keys pressed successfully" if hold else "Keys pressed and released successfully"


def release_keys(args: dict[str, Any], ctx: Context) -> str:
    """Release keys (held by ``press_keys(hold=True)``), in reverse order."""
    symbols = _keys(args)
    desktop = ctx.desktop

    def release(conn: xproto.XConnection) -> None:
        for code in reversed(_codes(ctx, conn, symbols)):
            conn.fake_input(xproto.KEY_RELEASE, code)
            if code in desktop.held:
                desktop.held.remove(code)
        conn.sync()

    desktop.run(release)
    return "Keys released successfully"


# ---- wuying_ui ----
def input_text(args: dict[str, Any], ctx: Context) -> str:
    """Type text into the focused window, any Unicode included."""
    text = ta.text(args, "text")
    keyboard_of = ctx.desktop

    def type_text(conn: xproto.XConnection) -> None:
        keyboard = keyboard_of.keyboard
        assert keyboard is not None
        shift = keyboard.resolve(conn, _SHIFT)[0]
        symbols = [keysyms.character(char) for char in text]
        start = 0
        while start < len(symbols):
            end = keyboard.bind(conn, symbols, start)
            for symbol in symbols[start:end]:
                keycode, shifted = keyboard.codes[symbol]
                if shifted:
                    conn.fake_input(xproto.KEY_PRESS, shift)
                conn.fake_input(xproto.KEY_PRESS, keycode)
                conn.fake_input(xproto.KEY_RELEASE, keycode)
                if shifted:
                    conn.fake_input(xproto.KEY_RELEASE, shift)
            conn.sync()  # a bounded backlog: the server has handled this part
            start = end

    keyboard_of.run(type_text)
    return f"Text sent successfully. Characters: {len(text)}"


def click(args: dict[str, Any], ctx: Context) -> str:
    """UI.click: a click at a point with a named button."""
    x, y = _point(args, ctx)
    name = _button(args, _BUTTONS)
    ctx.desktop.run(lambda conn: _click(conn, x, y, _BUTTONS[name], 1))
    return f"Mouse clicked at ({x}, {y}) with {name} button successfully"


def swipe(args: dict[str, Any], ctx: Context) -> str:
    """UI.swipe: a left-button drag lasting ``duration_ms``."""
    start = _point(args, ctx, "start_x", "start_y")
    end = _point(args, ctx, "end_x", "end_y")
    duration_ms = ta.integer(args, "duration_ms", 300)
    if duration_ms > 60_000:
        raise ta.ToolError("Invalid arguments: 'duration_ms' must be at most 60000")
    pause_s = duration_ms / 1000 / _DRAG_STEPS
    ctx.desktop.run(lambda conn: _drag(conn, start, end, 1, pause_s))
    return f"Swiped from ({start[0]}, {start[1]}) to ({end[0]}, {end[1]}) successfully"


def send_key(args: dict[str, Any], ctx: Context) -> str:
    """Android key codes have no meaning on a Linux desktop."""
    ta.integer(args, "key", 0)
    raise ta.ToolError(
        "send_key sends Android key codes and is not available on a Linux desktop; "
        'use press_keys (e.g. ["Ctrl", "a"])'
    )


def ui_elements(args: dict[str, Any], ctx: Context) -> str:
    """UI element trees are an Android facility."""
    raise ta.ToolError(
        "UI element trees are not available on a Linux desktop; "
        "use system_screenshot and list_root_windows"
    )


def capture_rgb(conn: xproto.XConnection, *, pointer: bool) -> bytearray:
    """The screen as RGB rows, with the pointer drawn where it is or without it."""
    return _capture(conn, pointer=pointer)[1]


def wheel(conn: xproto.XConnection, point: tuple[int, int], direction: str, notches: int) -> None:
    """Turn the wheel ``notches`` notches (``up``, ``down``, ``left``, ``right``) at a point."""
    _click(conn, point[0], point[1], _SCROLL_BUTTONS[direction], notches)


def _capture(conn: xproto.XConnection, *, pointer: bool = True) -> tuple[int, bytearray]:
    """The screen as RGB rows with the pointer drawn where it is (X's GetImage leaves it
    out; a real display's capture and the cloud's show it), and a checksum of both."""
    screen = conn.screen
    depth, pixels = conn.image(screen.root, screen.width, screen.height)
    bits = conn.pixmap_formats.get(depth, (0, 0))[0]
    if bits != 32 or conn.image_byte_order != 0:
        raise ta.ToolError(f"Error: unsupported screen format ({depth}-bit, {bits} bits per pixel)")
    rgb = png.rgb_from_bgrx(pixels, screen.width, screen.height)
    crc = zlib.crc32(pixels)
    if not pointer:
        return crc, rgb
    try:
        cursor = conn.cursor()
    except xproto.XError:  # a server without XFIXES: the screen alone
        return crc, rgb
    png.overlay_argb(
        rgb,
        screen.width,
        screen.height,
        cursor.x - cursor.xhot,
        cursor.y - cursor.yhot,
        cursor.argb,
        cursor.width,
        cursor.height,
    )
    return zlib.crc32(struct.pack("<hhI", cursor.x, cursor.y, cursor.serial), crc), rgb


def system_screenshot(args: dict[str, Any], ctx: Context) -> str:
    """A PNG of the whole screen, written in the session; the answer is its path (the
    runtime turns it into a signed URL)."""
    desktop = ctx.desktop
    _crc, rgb = desktop.run(_capture)
    data = png.encode_rgb(rgb, desktop.width, desktop.height)
    path = desktop.next_screenshot_path()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with open(fd, "wb") as handle:
        handle.write(data)
    return path


# ---- internal (called by the runtime, not in the catalogue) ----
def desktop_start(args: dict[str, Any], ctx: Context) -> str:
    """Start the display now (sessions created with the desktop up front)."""
    ctx.desktop.ensure()
    return f"Desktop started on :{ctx.desktop.number}"


def desktop_frame(args: dict[str, Any], ctx: Context) -> str:
    """One frame for the live view: ``{"etag", "png"}`` (base64), or ``{"etag",
    "unchanged": true}`` when the screen still has the pixels of ``args["etag"]``. Never
    starts the display: watching must not change the session."""
    desktop = ctx.desktop
    if not desktop.running:
        raise ta.ToolError("The desktop has not started yet")
    crc, rgb = desktop.run(_capture)
    etag = f"{crc:08x}"
    if args.get("etag") == etag:
        return json.dumps({"etag": etag, "unchanged": True})
    data = png.encode_rgb(rgb, desktop.width, desktop.height)
    return json.dumps({"etag": etag, "png": base64.b64encode(data).decode("ascii")})
