"""Data models of the 0.9 API (defined in ``agentbay._types``)."""

from agentbay._types.mcp_tool import McpTool

__all__ = ["McpTool"]
