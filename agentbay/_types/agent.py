"""Agent task results."""

from __future__ import annotations

from dataclasses import dataclass

from agentbay._types.response import ApiResponse


@dataclass
class QueryResult(ApiResponse):
    """``get_task_status``: the raw status JSON text."""

    success: bool = False
    output: str = ""
    error_message: str = ""


@dataclass
class ExecutionResult(ApiResponse):
    """``execute_task`` / ``terminate_task``."""

    success: bool = False
    error_message: str = ""
    task_id: str = ""
    task_status: str = ""
    task_result: str = ""
