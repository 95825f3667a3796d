"""PNG encoding of X screen images (stdlib only: zlib does the work)."""

from __future__ import annotations

import struct
import zlib

#: zlib level 1: a 1024x768 desktop compresses in a few ms to within ~30 % of level 6.
COMPRESSION_LEVEL = 1


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def rgb_from_bgrx(pixels: bytes, width: int, height: int) -> bytearray:
    """24-bit RGB rows from 32-bit little-endian ``0x00RRGGBB`` pixels (X's ZPixmap)."""
    count = width * height
    if len(pixels) < count * 4:
        raise ValueError(f"{len(pixels)} bytes are not a {width}x{height} 32-bit image")
    rgb = bytearray(count * 3)
    rgb[0::3] = pixels[2 : count * 4 : 4]
    rgb[1::3] = pixels[1 : count * 4 : 4]
    rgb[2::3] = pixels[0 : count * 4 : 4]
    return rgb


def overlay_argb(
    rgb: bytearray,
    width: int,
    height: int,
    left: int,
    top: int,
    argb: bytes,
    argb_width: int,
    argb_height: int,
) -> None:
    """Draw a premultiplied ARGB image (a cursor) onto RGB rows at ``left, top``, clipped."""
    for row in range(max(0, -top), min(argb_height, height - top)):
        base = ((top + row) * width + left) * 3
        for col in range(max(0, -left), min(argb_width, width - left)):
            (pixel,) = struct.unpack_from("<I", argb, (row * argb_width + col) * 4)
            alpha = pixel >> 24
            if alpha == 0:
                continue
            keep = 255 - alpha
            i = base + col * 3
            rgb[i] = min(255, ((pixel >> 16) & 255) + (rgb[i] * keep + 127) // 255)
            rgb[i + 1] = min(255, ((pixel >> 8) & 255) + (rgb[i + 1] * keep + 127) // 255)
            rgb[i + 2] = min(255, (pixel & 255) + (rgb[i + 2] * keep + 127) // 255)


def encode_rgb(rgb: bytes | bytearray, width: int, height: int) -> bytes:
    """A PNG file of 8-bit RGB rows (no filtering: flat desktop areas compress anyway)."""
    stride = width * 3
    view = memoryview(rgb)
    raw = b"".join(b"\0" + view[row * stride : (row + 1) * stride] for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(raw, COMPRESSION_LEVEL)),
            _chunk(b"IEND", b""),
        )
    )
