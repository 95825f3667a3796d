"""File-system results (re-exported from ``agentbay.filesystem.filesystem``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentbay._types.response import ApiResponse


@dataclass
class FileInfoResult(ApiResponse):
    """``get_file_info``: the parsed ``key: value`` lines (``size``, ``isDirectory``, ...)."""

    success: bool = False
    file_info: dict[str, Any] = field(default_factory=dict)
    error_message: str = ""


@dataclass
class DirectoryListResult(ApiResponse):
    """``list_directory``: ``[{"isDirectory": bool, "name": str}, ...]``."""

    success: bool = False
    entries: list[dict[str, Any]] = field(default_factory=list)
    error_message: str = ""


@dataclass
class FileContentResult(ApiResponse):
    """``read_file``: the file's text."""

    success: bool = False
    content: str = ""
    error_message: str = ""


@dataclass
class MultipleFileContentResult(ApiResponse):
    """``read_multiple_files``: ``{path: text}``."""

    success: bool = False
    contents: dict[str, str] = field(default_factory=dict)
    error_message: str = ""


@dataclass
class FileSearchResult(ApiResponse):
    """``search_files``: matching paths."""

    success: bool = False
    matches: list[str] = field(default_factory=list)
    error_message: str = ""


class FileChangeEvent:
    """One change seen by ``watch_directory``: create, modify or delete of a file or directory."""

    def __init__(self, event_type: str = "", path: str = "", path_type: str = "") -> None:
        self.event_type = event_type
        self.path = path
        self.path_type = path_type

    def __repr__(self) -> str:
        return (
            f"FileChangeEvent(event_type='{self.event_type}', path='{self.path}', "
            f"path_type='{self.path_type}')"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FileChangeEvent) and self.to_dict() == other.to_dict()

    def to_dict(self) -> dict[str, str]:
        """The wire form."""
        return {"eventType": self.event_type, "path": self.path, "pathType": self.path_type}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileChangeEvent:
        """From the wire form."""
        return cls(
            event_type=str(data.get("eventType", "")),
            path=str(data.get("path", "")),
            path_type=str(data.get("pathType", "")),
        )


@dataclass
class FileChangeResult(ApiResponse):
    """``get_file_change``: the events since the previous call."""

    success: bool = False
    events: list[FileChangeEvent] = field(default_factory=list)
    raw_data: str = ""
    error_message: str = ""

    def has_changes(self) -> bool:
        """Whether any event arrived."""
        return bool(self.events)

    def _files(self, kind: str) -> list[str]:
        return [e.path for e in self.events if e.event_type == kind and e.path_type == "file"]

    def get_modified_files(self) -> list[str]:
        """Paths of modified files."""
        return self._files("modify")

    def get_created_files(self) -> list[str]:
        """Paths of created files."""
        return self._files("create")

    def get_deleted_files(self) -> list[str]:
        """Paths of deleted files."""
        return self._files("delete")


@dataclass
class UploadResult:
    """``upload_file``: what was sent and how it ended (``error`` when it failed)."""

    success: bool
    request_id_upload_url: str | None
    request_id_sync: str | None
    http_status: int | None
    etag: str | None
    bytes_sent: int
    path: str
    error: str | None = None


@dataclass
class DownloadResult:
    """``download_file``: what was received and how it ended (``error`` when it failed)."""

    success: bool
    request_id_download_url: str | None
    request_id_sync: str | None
    http_status: int | None
    bytes_received: int
    path: str
    local_path: str
    error: str | None = None
