"""The async spelling of the few things sync and async code do differently.

The twin of ``agentbay._core.flavour`` (same names, same signatures, awaited).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


async def sleep(seconds: float) -> None:
    """Wait ``seconds`` without blocking the event loop."""
    await asyncio.sleep(seconds)


async def blocking(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking call (file I/O) on a thread, off the event loop."""
    return await asyncio.to_thread(function, *args, **kwargs)
