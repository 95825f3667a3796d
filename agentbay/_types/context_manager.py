"""Sync status records and results (re-exported from ``agentbay.context_manager``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentbay._types.response import ApiResponse


@dataclass
class ContextStatusData:
    """One sync task: context, path, status (Pending/Running/Success/Failed), type, times."""

    context_id: str = ""
    path: str = ""
    error_message: str = ""
    status: str = ""
    start_time: int = 0
    finish_time: int = 0
    task_type: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContextStatusData:
        """From a wire record (camelCase keys)."""
        return cls(
            context_id=str(data.get("contextId", "")),
            path=str(data.get("path", "")),
            error_message=str(data.get("errorMessage", "")),
            status=str(data.get("status", "")),
            start_time=int(data.get("startTime") or 0),
            finish_time=int(data.get("finishTime") or 0),
            task_type=str(data.get("taskType", "")),
        )


@dataclass
class ContextInfoResult(ApiResponse):
    """``ContextManager.info``."""

    success: bool = True
    context_status_data: list[ContextStatusData] = field(default_factory=list)
    error_message: str = ""


@dataclass
class ContextSyncResult(ApiResponse):
    """``ContextManager.sync``."""

    success: bool = False
    error_message: str = ""


@dataclass
class ContextBinding:
    """A context bound to a session (``session.context.list_bindings``, 0.22)."""

    context_id: str = ""
    context_name: str = ""
    path: str = ""
    policy: str = ""
    bind_time: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ContextBinding:
        """From one ``DescribeSessionContexts`` entry."""
        return cls(
            context_id=str(data.get("ContextId", "") or ""),
            context_name=str(data.get("ContextName", "") or ""),
            path=str(data.get("Path", "") or ""),
            policy=str(data.get("Policy", "") or ""),
            bind_time=str(data.get("BindTime", "") or ""),
        )


@dataclass
class ContextBindResult(ApiResponse):
    """``session.context.bind`` (0.22's shape)."""

    success: bool = False
    error_message: str = ""


@dataclass
class ContextBindingsResult(ApiResponse):
    """``session.context.list_bindings`` (0.22's shape)."""

    success: bool = False
    bindings: list[ContextBinding] = field(default_factory=list)
    error_message: str = ""
