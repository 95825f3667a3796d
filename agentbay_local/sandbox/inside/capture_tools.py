"""Screenshots answered inline (``wuying_capture``, 0.22): ``screenshot`` and
``long_screenshot`` of the session's desktop (stdlib only; runs inside the session).

Both answer what 0.22.3's ``beta_take_screenshot``/``beta_take_long_screenshot`` decode: a
JSON object ``{"data": <base64 image>, "height", "mime_type", "type", "width"}``. PNG is
encoded here; JPEG (the standard library has no encoder) by the image's ``cjpeg``
(libjpeg-turbo, in linux_latest) at libjpeg's default quality 75, the quality the cloud's
JPEG screenshots show (their quantisation tables, in 0.22.3's recorded answer). An image
without it answers an error saying so.

``long_screenshot`` scrolls the screen's centre down one screen at a time and stitches what
came into view under what was there: rows that stay put at the top and bottom (title bars,
status bars) are kept once, and each new screen adds only the rows it scrolled in. It stops
early when scrolling changes nothing (the end of the page).
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import time

from . import png, procs
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
#: The image's JPEG encoder (Debian's libjpeg-turbo-progs): a PPM file in, JPEG out.
_JPEG_ENCODER = "cjpeg"
#: libjpeg's default, and what the cloud's JPEG screenshots are encoded at.
_JPEG_QUALITY = 75
#: The most encoding one capture may take (a 10-screen long screenshot takes ~0.1 s).
_JPEG_TIMEOUT_S = 30.0


def _format(args: dict[str, Any], ctx: Context) -> str:
    """The format asked for (``jpg`` is ``jpeg``), checked before anything is captured."""
    fmt = (ta.text(args, "format", "png") or "png").lower()
    if fmt == "jpg":
        fmt = "jpeg"
    if fmt not in ("png", "jpeg"):
        raise ta.ToolError(f"Invalid arguments: 'format' must be png or jpeg (got {fmt!r})")
    if fmt == "jpeg" and procs.which(_JPEG_ENCODER, ctx.env) is None:
        raise ta.ToolError(
            f"Error: format 'jpeg' needs the image's JPEG encoder ({_JPEG_ENCODER}, Debian's "
            "libjpeg-turbo-progs), which this session's image lacks; use 'png'"
        )
    return fmt


def _quality(args: dict[str, Any]) -> int:
    """``quality`` of a JPEG (1-100; long_screenshot takes it), else libjpeg's default."""
    quality = ta.integer(args, "quality", _JPEG_QUALITY)
    if not 1 <= quality <= 100:
        raise ta.ToolError("Invalid arguments: 'quality' must be between 1 and 100")
    return quality


def _jpeg(rgb: bytes | bytearray, width: int, height: int, quality: int, ctx: Context) -> bytes:
    """``rgb`` as a JPEG, by the image's encoder (run like any command of the session)."""
    program = procs.which(_JPEG_ENCODER, ctx.env) or _JPEG_ENCODER
    fd, path = tempfile.mkstemp(prefix="agentbay-screen-", suffix=".ppm")
    try:
        with os.fdopen(fd, "wb") as ppm:
            ppm.write(b"P6\n%d %d\n255\n" % (width, height))
            ppm.write(rgb)
        argv = [program, "-quality", str(quality), path]
        done = procs.run(ctx.reaper, argv, ctx.env, _JPEG_TIMEOUT_S)
    finally:
        os.unlink(path)
    if done.timed_out or done.exit_code != 0 or not done.stdout.startswith(b"\xff\xd8"):
        reason = "timed out" if done.timed_out else done.err().strip() or "no JPEG came out"
        raise ta.ToolError(f"Error: encoding the screenshot as JPEG failed: {reason}")
    return done.stdout


def _answer(
    fmt: str, rgb: bytes | bytearray, width: int, height: int, ctx: Context, quality: int
) -> str:
    if fmt == "jpeg":
        data = _jpeg(rgb, width, height, quality, ctx)
    else:
        data = png.encode_rgb(rgb, width, height)
    return json.dumps(
        {
            "data": base64.b64encode(data).decode("ascii"),
            "height": height,
            "mime_type": f"image/{fmt}",
            "type": "image",
            "width": width,
        }
    )


def screenshot(args: dict[str, Any], ctx: Context) -> str:
    """The whole screen (pointer included), inline."""
    fmt = _format(args, ctx)
    desktop = ctx.desktop
    rgb = desktop.run(lambda conn: capture_rgb(conn, pointer=True))
    return _answer(fmt, rgb, desktop.width, desktop.height, ctx, _JPEG_QUALITY)


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
    fmt = _format(args, ctx)
    quality = _quality(args)
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
    return _answer(fmt, b"".join(rows), width, len(rows), ctx, quality)


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
