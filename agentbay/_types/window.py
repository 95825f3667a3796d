"""Window data and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentbay._types.response import ApiResponse


@dataclass
class Window:
    """A desktop window (with its child windows)."""

    window_id: int
    title: str
    absolute_upper_left_x: int | None = None
    absolute_upper_left_y: int | None = None
    width: int | None = None
    height: int | None = None
    pid: int | None = None
    pname: str | None = None
    child_windows: list[Window] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Window:
        """From the tool's JSON (recursive)."""
        return cls(
            window_id=int(data.get("window_id") or 0),
            title=str(data.get("title", "")),
            absolute_upper_left_x=data.get("absolute_upper_left_x"),
            absolute_upper_left_y=data.get("absolute_upper_left_y"),
            width=data.get("width"),
            height=data.get("height"),
            pid=data.get("pid"),
            pname=data.get("pname"),
            child_windows=[cls.from_dict(c) for c in data.get("child_windows") or []],
        )


@dataclass
class WindowListResult(ApiResponse):
    """``list_root_windows``."""

    success: bool = False
    windows: list[Window] = field(default_factory=list)
    error_message: str = ""


@dataclass
class WindowInfoResult(ApiResponse):
    """``get_active_window``."""

    success: bool = False
    window: Window | None = None
    error_message: str = ""
