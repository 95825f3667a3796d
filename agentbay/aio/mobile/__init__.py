"""``Mobile`` and its data classes."""

from agentbay.aio.mobile.mobile import (
    KeyCode,
    Mobile,
)

__all__ = [
    "KeyCode",
    "Mobile",
]
