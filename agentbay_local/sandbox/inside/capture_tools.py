"""Screenshots answered inline (``wuying_capture``, 0.22): ``screenshot`` and
``long_screenshot`` of the session's desktop (stdlib only; runs inside the session).

Both answer what 0.22.3's ``beta_take_screenshot``/``beta_take_long_screenshot`` decode: a
JSON object ``{"data": <base64 image>, "height", "mime_type", "type", "width"}``. The
session has no JPEG encoder (the standard library has none), so ``format="jpeg"`` answers an
error saying so; PNG is lossless and always available.

``long_screenshot`` scrolls the screen's centre down one screen at a time and stitches what
came into view under what was there: rows that stay put at the top and bottom (title bars,
status bars) are kept once, and each new screen adds only the rows it scrolled in. It stops
early when scrolling changes nothing (the end of the page).
"""

from __future__ import annotations

import base64
import json
import time

from . import png
from . import tool_args as ta
from .computer_tools import capture_rgb, wheel

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .computer_tools import Context

#: Wheel notches per scroll step (about a screen of a 1024x768 terminal or page; the
#: stitching finds the real distance).
_NOTCHES = 10
#: How long the screen may take to settle after a scroll, and how often it is looked at.
_SETTLE_S = 1.5
_SETTLE_POLL_S = 0.05


def _format(args: dict[str, Any]) -> str:
    fmt = (ta.text(args, "format", "png") or "png").lower()
    if fmt == "jpg":
        fmt = "jpeg"
    if fmt == "jpeg":
        raise ta.ToolError(
            "Error: format 'jpeg' is not available on the local desktop (no JPEG encoder in "
            "the session); use 'png'"
        )
    if fmt != "png":
        raise ta.ToolError(f"Invalid arguments: 'format' must be png or jpeg (got {fmt!r})")
    return fmt


def _answer(rgb: bytes | bytearray, width: int, height: int) -> str:
    data = png.encode_rgb(rgb, width, height)
    return json.dumps(
        {
            "data": base64.b64encode(data).decode("ascii"),
            "height": height,
            "mime_type": "image/png",
            "type": "image",
            "width": width,
        }
    )


def screenshot(args: dict[str, Any], ctx: Context) -> str:
    """The whole screen (pointer included), inline."""
    _format(args)
    desktop = ctx.desktop
    rgb = desktop.run(lambda conn: capture_rgb(conn, pointer=True))
    return _answer(rgb, desktop.width, desktop.height)


def _rows(rgb: bytes | bytearray, width: int, height: int) -> list[bytes]:
    stride = width * 3
    return [bytes(rgb[y * stride : (y + 1) * stride]) for y in range(height)]


def _shift(before: list[bytes], after: list[bytes]) -> int | None:
    """How many rows the content moved up from ``before`` to ``after`` (both the scrolling
    part only), or None when ``after`` is no scrolled ``before``."""
    for moved in range(1, len(before)):
        if before[moved:] == after[: len(after) - moved]:
            return moved
    return None


def long_screenshot(args: dict[str, Any], ctx: Context) -> str:
    """Up to ``max_screens`` screens, scrolled and stitched into one tall image."""
    _format(args)
    screens = ta.integer(args, "max_screens", 4)
    if not 2 <= screens <= 10:
        raise ta.ToolError("Invalid arguments: 'max_screens' must be between 2 and 10")
    desktop = ctx.desktop
    width, height = desktop.width, desktop.height
    centre = (width // 2, height // 2)
    current = _rows(desktop.run(lambda conn: capture_rgb(conn, pointer=False)), width, height)
    top: list[bytes] | None = None  # rows that stayed put at the top and bottom
    bottom: list[bytes] = []
    middle = list(current)
    for _ in range(screens - 1):
        desktop.run(lambda conn: wheel(conn, centre, "down", _NOTCHES))
        following = _settled(ctx, width, height, current)
        if following == current:
            break  # nothing moved: the end
        if top is None:
            head = _same_rows(current, following)
            tail = _same_rows(current[::-1], following[::-1])
            top, bottom = current[:head], current[height - tail :] if tail else []
            middle = current[head : height - tail]
        lo, hi = len(top), height - len(bottom)
        moved = _shift(current[lo:hi], following[lo:hi])
        middle += following[lo:hi][-moved:] if moved else following[lo:hi]
        current = following
    rows = (top or []) + middle + bottom
    return _answer(b"".join(rows), width, len(rows))


def _same_rows(before: list[bytes], after: list[bytes]) -> int:
    """How many leading rows the two screens share (not all: they differ somewhere)."""
    return next(i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b)


def _settled(ctx: Context, width: int, height: int, before: list[bytes]) -> list[bytes]:
    """The screen once two looks in a row agree (or ``_SETTLE_S`` passed)."""
    deadline = time.monotonic() + _SETTLE_S
    last: list[bytes] | None = None
    while True:
        time.sleep(_SETTLE_POLL_S)
        rows = _rows(ctx.desktop.run(lambda conn: capture_rgb(conn, pointer=False)), width, height)
        if (rows == last and rows != before) or time.monotonic() > deadline:
            return rows
        last = rows
