"""``WindowManager`` and its data classes."""

from agentbay.aio.window.window import (
    Window,
    WindowInfoResult,
    WindowListResult,
    WindowManager,
)

__all__ = [
    "Window",
    "WindowInfoResult",
    "WindowListResult",
    "WindowManager",
]
