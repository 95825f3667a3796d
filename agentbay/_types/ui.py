"""UI results and key codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentbay._types.response import ApiResponse


@dataclass
class UIElementListResult(ApiResponse):
    """UI elements (``get_clickable_ui_elements``, ``get_all_ui_elements``)."""

    success: bool = False
    elements: list[dict[str, Any]] = field(default_factory=list)
    error_message: str = ""


class KeyCode:
    """Android key codes for ``send_key``."""

    HOME = 3
    BACK = 4
    VOLUME_UP = 24
    VOLUME_DOWN = 25
    POWER = 26
    MENU = 82
