"""Data models of the 0.9 API."""

from agentbay.models.mcp_tool import McpTool

__all__ = ["McpTool"]
