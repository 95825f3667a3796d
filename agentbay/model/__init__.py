"""Generic result models of the 0.9 API."""

from agentbay.model.response import (
    ApiResponse,
    BoolResult,
    DeleteResult,
    GetSessionData,
    GetSessionResult,
    McpToolsResult,
    OperationResult,
    SessionListResult,
    SessionResult,
    extract_request_id,
)

__all__ = [
    "ApiResponse",
    "BoolResult",
    "DeleteResult",
    "GetSessionData",
    "GetSessionResult",
    "McpToolsResult",
    "OperationResult",
    "SessionListResult",
    "SessionResult",
    "extract_request_id",
]
