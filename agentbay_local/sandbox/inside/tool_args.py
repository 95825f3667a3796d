"""Argument checking and error values shared by the in-sandbox tools (stdlib only).

A tool never crashes on bad input: every problem becomes a ``ToolError`` whose text is
what the caller sees (with ``isError: true``).
"""

from __future__ import annotations

import errno
import os

TYPE_CHECKING = False  # not imported from typing: importing typing costs startup time
if TYPE_CHECKING:
    from typing import Any


class ToolError(Exception):
    """A tool failure; ``str(error)`` is the text returned to the caller, ``structured`` (when
    given) its MCP ``structuredContent``: the same facts as fields (a command's exit code,
    stdout and stderr), so a client need not take the text apart."""

    def __init__(self, text: str, structured: dict[str, Any] | None = None) -> None:
        super().__init__(text)
        self.structured = structured


class StructuredText(str):
    """A tool's successful text with MCP ``structuredContent`` beside it (a command's exit
    code, stdout and stderr): the text is what the 0.9 API reads, the fields what 0.13+
    clients are given (the runtime rewrites the answer for them)."""

    structured: dict[str, Any]

    def __new__(cls, text: str, structured: dict[str, Any]) -> StructuredText:
        made = super().__new__(cls, text)
        made.structured = structured
        return made


_MISSING: Any = object()  # marks a required argument


def _bad(name: str, expected: str) -> ToolError:
    return ToolError(f"Invalid arguments: '{name}' must be {expected}")


def text(args: dict[str, Any], name: str, default: str = _MISSING) -> str:
    """A string argument (required unless a default is given)."""
    value = args.get(name, default)
    if value is _MISSING:
        raise ToolError(f"Invalid arguments: '{name}' is required")
    if not isinstance(value, str):
        raise _bad(name, "a string")
    return value


def path(args: dict[str, Any], name: str = "path") -> str:
    """A non-empty path argument; relative paths are relative to the working directory."""
    value = text(args, name)
    if not value:
        raise _bad(name, "a non-empty path")
    if "\0" in value:
        raise _bad(name, "a path without NUL characters")
    return value


def number(args: dict[str, Any], name: str, default: float) -> float:
    """A number argument (booleans and numeric strings are refused)."""
    value = args.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(name, "a number")
    return float(value)


def integer(args: dict[str, Any], name: str, default: int) -> int:
    """A non-negative integer argument (integral floats are accepted)."""
    value = args.get(name, default)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(name, "an integer")
    if value < 0:
        raise _bad(name, "a non-negative integer")
    return value


def flag(args: dict[str, Any], name: str, default: bool = False) -> bool:
    """A boolean argument."""
    value = args.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _bad(name, "a boolean")
    return value


def text_list(args: dict[str, Any], name: str) -> list[str]:
    """A required list of strings."""
    value = args.get(name, _MISSING)
    if value is _MISSING:
        raise ToolError(f"Invalid arguments: '{name}' is required")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _bad(name, "a list of strings")
    return value


def os_error(exc: OSError, operation: str, target: str) -> ToolError:
    """An OSError as the Node-style text file tools conventionally report.

    e.g. ``Error: ENOENT: no such file or directory, open '/tmp/x'``.
    """
    code = errno.errorcode.get(exc.errno or 0, "EIO")
    reason = (exc.strerror or os.strerror(exc.errno or errno.EIO)).lower()
    return ToolError(f"Error: {code}: {reason}, {operation} '{target}'")
