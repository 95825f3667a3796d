"""The sync spelling of the few things sync and async code do differently.

Templates import these names from ``{{ core }}.flavour`` and write ``{{ aw }}sleep(s)``, so
one template line reads right in both flavours; ``agentbay._core.aio.flavour`` is the async twin.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def sleep(seconds: float) -> None:
    """Wait ``seconds``."""
    time.sleep(seconds)


def blocking(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking call (file I/O): here directly, in the async flavour on a thread."""
    return function(*args, **kwargs)
