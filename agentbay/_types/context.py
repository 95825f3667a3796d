"""Context data and results (re-exported from ``agentbay.context``).

The wire shapes (``Context``, ``ContextFile``, ``FileUrlData``) are the description's, as
generated models; the 0.9 classes here keep the documented names and are built from those
models in one place each (``from_wire``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agentbay._core.answer import given
from agentbay._types.response import ApiResponse, OperationResult

if TYPE_CHECKING:
    from agentbay._rendered.openapi.models import Context as WireContext
    from agentbay._rendered.openapi.models import ContextFile, FileUrlData


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

    @classmethod
    def from_wire(cls, data: WireContext) -> Context:
        """The 0.9 view of a context of an answer."""
        return cls(
            id=str(data.id or ""),
            name=str(data.name or ""),
            state=str(data.state or "available"),
            created_at=given(data.create_time),
            last_used_at=given(data.last_used_time),
            os_type=given(data.os_type),
        )


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

    @classmethod
    def from_wire(cls, data: ContextFile) -> ContextFileEntry:
        """The 0.9 view of a file of a ``DescribeContextFiles`` answer."""
        return cls(
            file_id=str(data.file_id or ""),
            file_name=str(data.file_name or ""),
            file_path=str(data.file_path or ""),
            file_type=given(data.file_type),
            gmt_create=given(data.gmt_create),
            gmt_modified=given(data.gmt_modified),
            size=given(data.size),
            status=given(data.status),
        )


@dataclass
class FileUrlResult(ApiResponse):
    """A pre-signed URL and when it expires (epoch seconds)."""

    success: bool = False
    url: str = ""
    expire_time: int | None = None
    error_message: str = ""

    @classmethod
    def from_wire(cls, request_id: str, data: FileUrlData) -> FileUrlResult:
        """A successful result from the ``Data`` of a file-URL answer."""
        return cls(
            request_id=request_id,
            success=True,
            url=str(data.url or ""),
            expire_time=given(data.expire_time),
        )


@dataclass
class ContextFileListResult(ApiResponse):
    """``list_files``: one page of a folder (``error_message`` says why there is none)."""

    success: bool = False
    entries: list[ContextFileEntry] = field(default_factory=list)
    count: int | None = None
    error_message: str = ""


@dataclass
class ClearContextResult(OperationResult):
    """``agent_bay.context.clear``/``clear_async``/``get_clear_status`` (0.22's shape):
    ``status`` is the context's state (``clearing``, then ``available``)."""

    status: str | None = None
    context_id: str | None = None
