"""The 0.9 path of ``McpTool`` (defined in ``agentbay._types.mcp_tool``)."""

from agentbay._types.mcp_tool import McpTool

__all__ = ["McpTool"]
