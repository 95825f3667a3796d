"""The async API: ``AsyncAgentBay``, ``AsyncSession`` and async managers (same shape as sync)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
