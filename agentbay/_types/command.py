"""``CommandResult``."""

from __future__ import annotations

from dataclasses import dataclass

from agentbay._types.response import ApiResponse


@dataclass
class CommandResult(ApiResponse):
    """``execute_command``: what the command printed."""

    success: bool = False
    output: str = ""
    error_message: str = ""
