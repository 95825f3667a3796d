"""``agentbay mcp``: an MCP server through which any MCP client drives AgentBay sessions.

A client of the SDK (it uses ``agentbay``'s public API only, and never the local runtime's
package: ``endpoint="local"`` reaches that through the SDK), installed with the ``mcp`` extra.
Its tools are a session's catalogue tools plus session management; one session per MCP client
connection, created on first use and deleted when the client goes away.
"""

from agentbay_mcp.options import ServeOptions
from agentbay_mcp.server import build_server

__all__ = ["ServeOptions", "build_server"]
