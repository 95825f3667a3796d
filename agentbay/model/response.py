"""The 0.9 path of the generic result models (defined in ``agentbay._types.response``)."""

from agentbay._types.response import (
    ApiResponse,
    BoolResult,
    DeleteResult,
    GetSessionData,
    GetSessionResult,
    McpToolResult,
    McpToolsResult,
    NetworkResult,
    NetworkStatusResult,
    OperationResult,
    SessionListResult,
    SessionPauseResult,
    SessionResult,
    SessionResumeResult,
    SessionStatusResult,
    extract_request_id,
)
from agentbay._types.screenshot import ScreenshotResult

__all__ = [
    "ApiResponse",
    "BoolResult",
    "DeleteResult",
    "GetSessionData",
    "GetSessionResult",
    "McpToolResult",
    "McpToolsResult",
    "NetworkResult",
    "NetworkStatusResult",
    "OperationResult",
    "ScreenshotResult",
    "SessionListResult",
    "SessionPauseResult",
    "SessionResult",
    "SessionResumeResult",
    "SessionStatusResult",
    "extract_request_id",
]
