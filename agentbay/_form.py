"""``form_body``: ``urlencode(fields)`` byte for byte, without its per-byte Python loop.

A write_file chunk is a 51,200-character form field; ``quote_plus`` turns its UTF-8 bytes into
text one dict lookup per byte in a list comprehension (about 40 ms per chunk, 4 of every 5
milliseconds a 10 MB write spends in the client). Mapping the bytes through a 256-entry list
with ``map`` does the same lookups in C, about twice as fast. The official client's requests
and ours must stay identical (tests/contract), so every value is encoded as urlencode does:
``str()`` of anything that is not bytes, UTF-8, strict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_ALWAYS_SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
#: What quote_plus writes for each byte: itself if always safe, "+" for a space, else %XX.
_QUOTED = [
    chr(byte) if byte in _ALWAYS_SAFE else "+" if byte == 0x20 else f"%{byte:02X}"
    for byte in range(256)
]


def quote_plus_fast(value: str | bytes) -> str:
    """``urllib.parse.quote_plus(value)`` (``safe=""``, UTF-8, strict), same text, in C loops."""
    data = value.encode("utf-8") if isinstance(value, str) else value
    if not data.rstrip(_ALWAYS_SAFE):
        return data.decode("ascii")
    return "".join(map(_QUOTED.__getitem__, data))


def form_body(fields: Mapping[Any, Any]) -> str:
    """``urllib.parse.urlencode(fields)`` for a mapping: same text, faster on large values."""
    return "&".join(
        f"{quote_plus_fast(_text(key))}={quote_plus_fast(_text(value))}"
        for key, value in fields.items()
    )


def _text(value: Any) -> str | bytes:
    return value if isinstance(value, str | bytes) else str(value)
