"""``ToolAnswer``: an MCP tool answer as the runtime received it, decoded and as JSON bytes.

The runtime checks every answer a tool server sends, then forwards the bytes it received
instead of encoding the decoded value again: for a 51,200-character ``read_file`` chunk the
second encoding was a quarter of the runtime's CPU time per call.
"""

from __future__ import annotations

import json
from typing import Any

#: What a tool server's answer may hold: MCP's ``content``, ``isError`` and
#: ``structuredContent`` (an object: the same facts as fields).
_ANSWER_KEYS = frozenset({"content", "isError", "structuredContent"})


class ToolAnswer:
    """``{"content": [...], "isError": bool}`` and the JSON bytes that spell it.

    Attributes:
        value: the decoded answer.
        raw: its JSON encoding (what goes into the API envelope unchanged).
    """

    __slots__ = ("raw", "value")

    def __init__(self, value: dict[str, Any], raw: bytes) -> None:
        self.value = value
        self.raw = raw

    def __repr__(self) -> str:
        return f"ToolAnswer({self.value!r})"

    @classmethod
    def error(cls, text: str) -> ToolAnswer:
        """An answer the runtime itself gives to report a failure."""
        return cls.text(text, is_error=True)

    @classmethod
    def text(cls, text: str, *, is_error: bool = False) -> ToolAnswer:
        """An answer the runtime itself gives: one text item."""
        value = {"content": [{"type": "text", "text": text}], "isError": is_error}
        return cls(value, json.dumps(value).encode("ascii"))

    @classmethod
    def parse(cls, raw: bytes) -> ToolAnswer | None:
        """A tool server's answer, or None when it is not exactly ``{content: list, isError:
        bool}`` in ASCII JSON (the bytes are forwarded verbatim, so nothing else may pass)."""
        try:
            value = json.loads(raw.decode("ascii"))
        except ValueError:  # UnicodeDecodeError included
            return None
        if (
            not isinstance(value, dict)
            or not isinstance(value.get("content"), list)
            or not isinstance(value.get("isError"), bool)
            or not set(value) <= _ANSWER_KEYS
            or not isinstance(value.get("structuredContent", {}), dict)
        ):
            return None
        return cls(value, raw)
