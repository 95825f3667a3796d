"""``CodeExecutionResult``."""

from __future__ import annotations

from dataclasses import dataclass

from agentbay._types.response import ApiResponse


@dataclass
class CodeExecutionResult(ApiResponse):
    """``run_code``: the program's output."""

    success: bool = False
    result: str = ""
    error_message: str = ""
