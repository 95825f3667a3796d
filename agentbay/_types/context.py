"""Context data and results (re-exported from ``agentbay.context``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from agentbay.model.response import ApiResponse


class Context:
    """A named persistent store (``state`` and ``os_type`` are deprecated, kept for 0.9)."""

    def __init__(
        self,
        id: str,
        name: str,
        state: str = "available",
        created_at: str | None = None,
        last_used_at: str | None = None,
        os_type: str | None = None,
    ) -> None:
        self.id = id
        self.name = name
        self.state = state
        self.created_at = created_at
        self.last_used_at = last_used_at
        self.os_type = os_type

    def __repr__(self) -> str:
        return f"Context(id={self.id!r}, name={self.name!r}, state={self.state!r})"


class ContextListParams:
    """Paging of ``ContextService.list`` (``max_results`` defaults to 10)."""

    def __init__(self, max_results: int | None = None, next_token: str | None = None) -> None:
        self.max_results = max_results if max_results is not None else 10
        self.next_token = next_token


@dataclass
class ContextResult(ApiResponse):
    """``get`` / ``create``."""

    success: bool = False
    context_id: str = ""
    context: Context | None = None
    error_message: str = ""


@dataclass
class ContextListResult(ApiResponse):
    """``list``: one page."""

    success: bool = False
    contexts: list[Context] = field(default_factory=list)
    next_token: str | None = None
    max_results: int | None = None
    total_count: int | None = None
    error_message: str = ""


@dataclass
class ContextFileEntry:
    """One file of a context folder."""

    file_id: str
    file_name: str
    file_path: str
    file_type: str | None = None
    gmt_create: str | None = None
    gmt_modified: str | None = None
    size: int | None = None
    status: str | None = None


@dataclass
class FileUrlResult(ApiResponse):
    """A pre-signed URL and when it expires (epoch seconds)."""

    success: bool = False
    url: str = ""
    expire_time: int | None = None
    error_message: str = ""


@dataclass
class ContextFileListResult(ApiResponse):
    """``list_files``: one page of a folder."""

    success: bool = False
    entries: list[ContextFileEntry] = field(default_factory=list)
    count: int | None = None
