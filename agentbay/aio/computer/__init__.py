"""``Computer`` and its data classes."""

from agentbay.aio.computer.computer import (
    Computer,
    MouseButton,
    ScrollDirection,
)

__all__ = [
    "Computer",
    "MouseButton",
    "ScrollDirection",
]
