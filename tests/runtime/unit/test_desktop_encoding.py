"""The desktop's in-session encoders without an X server: key names, PNG screenshots, the
JPEG encoder's absence."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from agentbay_local.sandbox.inside import capture_tools, keysyms, png
from agentbay_local.sandbox.inside.tool_args import ToolError
from tests.support.pngdecode import decode, pixel


@pytest.mark.parametrize(
    ("name", "keysym"),
    [
        ("Ctrl", 0xFFE3),
        ("control", 0xFFE3),
        ("Enter", 0xFF0D),
        ("return", 0xFF0D),
        ("esc", 0xFF1B),
        ("Delete", 0xFFFF),
        ("del", 0xFFFF),
        ("PageUp", 0xFF55),
        ("pgup", 0xFF55),
        ("ArrowLeft", 0xFF51),
        ("F1", 0xFFBE),
        ("F24", 0xFFD5),
        ("Win", 0xFFEB),
        ("a", ord("a")),
        ("A", ord("a")),  # upper-case letters name the key, as later SDKs normalise them
        ("7", ord("7")),
        ("/", ord("/")),
        ("é", 0xE9),
        ("✓", 0x01002713),
    ],
)
def test_key_names(name: str, keysym: int) -> None:
    assert keysyms.key(name) == keysym


@pytest.mark.parametrize("name", ["NoSuchKey", "", "F25", "Ctrl+a"])
def test_unknown_keys_are_clear_errors(name: str) -> None:
    with pytest.raises(ToolError, match="unknown key"):
        keysyms.key(name)


def test_typed_characters() -> None:
    assert keysyms.character("\n") == 0xFF0D and keysyms.character("\t") == 0xFF09
    assert keysyms.character("日") == 0x01000000 | ord("日")


def test_png_of_an_x_image_decodes_to_its_pixels() -> None:
    width, height = 3, 2
    # 0x00RRGGBB little-endian, as X's ZPixmap gives them: B, G, R, pad.
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (1, 2, 3), (250, 128, 7), (0, 0, 0)]
    pixels = b"".join(bytes((b, g, r, 0)) for r, g, b in colours)
    encoded = png.encode_rgb(png.rgb_from_bgrx(pixels, width, height), width, height)
    got_width, got_height, rows = decode(encoded)
    assert (got_width, got_height) == (width, height)
    assert [pixel(rows, x, y) for y in range(height) for x in range(width)] == colours


def test_a_short_image_is_refused() -> None:
    with pytest.raises(ValueError, match="not a 4x4"):
        png.rgb_from_bgrx(b"\0" * 12, 4, 4)


class _NoEncoder:
    """A tool server context whose session PATH has no JPEG encoder."""

    def __init__(self, folder: str) -> None:
        self.env = {"PATH": folder}


def test_jpeg_without_the_image_encoder_is_a_clear_error(tmp_path: Path) -> None:
    ctx = cast(Any, _NoEncoder(str(tmp_path)))
    with pytest.raises(ToolError, match=r"needs the image.s JPEG encoder \(cjpeg"):
        capture_tools.screenshot({"format": "jpg"}, ctx)
    with pytest.raises(ToolError, match="must be png or jpeg"):
        capture_tools.screenshot({"format": "gif"}, ctx)
