"""``Mobile`` and its data classes."""

from agentbay.mobile.mobile import (
    KeyCode,
    Mobile,
)

__all__ = [
    "KeyCode",
    "Mobile",
]
