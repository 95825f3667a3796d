"""OSS results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentbay._types.response import ApiResponse


@dataclass
class OSSClientResult(ApiResponse):
    """``Oss.env_init``: ``client_config`` holds the tool's text, as in 0.9."""

    success: bool = False
    client_config: Any = None
    error_message: str = ""


@dataclass
class OSSUploadResult(ApiResponse):
    """``Oss.upload`` / ``upload_anonymous``."""

    success: bool = False
    content: str = ""
    error_message: str = ""


@dataclass
class OSSDownloadResult(ApiResponse):
    """``Oss.download`` / ``download_anonymous``."""

    success: bool = False
    content: str = ""
    error_message: str = ""
