"""File system of a session: ``FileSystem`` and its result classes."""

from agentbay._types.filesystem import (
    DirectoryListResult,
    DownloadResult,
    FileChangeEvent,
    FileChangeResult,
    FileContentResult,
    FileInfoResult,
    FileSearchResult,
    MultipleFileContentResult,
    UploadResult,
)
from agentbay.filesystem.filesystem import FileSystem

__all__ = [
    "DirectoryListResult",
    "DownloadResult",
    "FileChangeEvent",
    "FileChangeResult",
    "FileContentResult",
    "FileInfoResult",
    "FileSearchResult",
    "FileSystem",
    "MultipleFileContentResult",
    "UploadResult",
]
