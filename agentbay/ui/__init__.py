"""``UI`` and its data classes."""

from agentbay.ui.ui import (
    UI,
    KeyCode,
    UIElementListResult,
)

__all__ = [
    "UI",
    "KeyCode",
    "UIElementListResult",
]
