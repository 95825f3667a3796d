"""``McpTool``: one entry of ``ListMcpTools``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class McpTool:
    """An in-session MCP tool: its name, schema and the server that runs it."""

    name: str
    description: str
    input_schema: dict[str, Any] = field(default_factory=dict)
    server: str = ""
    tool: str = ""

    def get_name(self) -> str:
        """The tool name."""
        return self.name

    def get_server(self) -> str:
        """The MCP server of the tool."""
        return self.server
