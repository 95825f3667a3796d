"""Shell commands in a session: ``Command`` and ``CommandResult``."""

from agentbay._types.command import CommandResult
from agentbay.command.command import Command

__all__ = ["Command", "CommandResult"]
