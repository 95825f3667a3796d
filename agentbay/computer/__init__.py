"""``Computer`` and its data classes."""

from agentbay.computer.computer import (
    Computer,
    MouseButton,
    ScrollDirection,
)

__all__ = [
    "Computer",
    "MouseButton",
    "ScrollDirection",
]
