"""``Agent`` and its data classes."""

from agentbay.aio.agent.agent import (
    Agent,
    ExecutionResult,
    QueryResult,
)

__all__ = [
    "Agent",
    "ExecutionResult",
    "QueryResult",
]
