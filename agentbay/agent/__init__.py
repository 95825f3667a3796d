"""``Agent`` and its data classes."""

from agentbay.agent.agent import (
    Agent,
    ExecutionResult,
    QueryResult,
)

__all__ = [
    "Agent",
    "ExecutionResult",
    "QueryResult",
]
