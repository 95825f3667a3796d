"""Mouse buttons and scroll directions."""

from __future__ import annotations

from enum import StrEnum


class MouseButton(StrEnum):
    """Mouse buttons of ``click_mouse`` / ``drag_mouse``."""

    LEFT = "left"
    RIGHT = "right"
    MIDDLE = "middle"
    DOUBLE_LEFT = "double_left"


class ScrollDirection(StrEnum):
    """Directions of ``scroll``."""

    UP = "up"
    DOWN = "down"
    LEFT = "left"
    RIGHT = "right"
