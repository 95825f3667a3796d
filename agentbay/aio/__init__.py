"""The async API: ``AsyncAgentBay``, ``AsyncSession`` and async managers (same shape as sync)."""

from __future__ import annotations

# typing (with re and collections behind it) would be most of the import time of
# `from agentbay import AsyncAgentBay`; mypy reads a module-level TYPE_CHECKING as typing's.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

    from agentbay.aio.agentbay import AsyncAgentBay
    from agentbay.aio.session import AsyncSession

__all__ = ["AsyncAgentBay", "AsyncSession"]


def __getattr__(name: str) -> Any:
    if name == "AsyncAgentBay":
        from agentbay.aio.agentbay import AsyncAgentBay

        return AsyncAgentBay
    if name == "AsyncSession":
        from agentbay.aio.session import AsyncSession

        return AsyncSession
    raise AttributeError(f"module 'agentbay.aio' has no attribute {name!r}")
