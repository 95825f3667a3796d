"""``Session.call_mcp_tool``: any catalogue tool by name, with 0.22's arguments and result."""

from __future__ import annotations

import asyncio

from agentbay import AgentBay, AsyncAgentBay, Config
from agentbay.model.response import McpToolResult
from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.conftest import API_KEY


def test_call_mcp_tool_answers_text_and_tool_errors(bay: AgentBay) -> None:
    created = bay.create()
    assert created.success, created.error_message
    with created.session as session:
        echoed = session.call_mcp_tool("shell", {"command": "echo hi", "timeout_ms": 3000})
        assert echoed == McpToolResult(request_id=echoed.request_id, success=True, data="hi\n")
        assert echoed.request_id
        missing = session.call_mcp_tool("read_file", {"path": "/tmp/no/such/file"})
        assert not missing.success
        # The tool's own message, as 0.22 gives it: no "Error in response:" of the 0.9 managers.
        assert missing.error_message
        assert not missing.error_message.startswith("Error in response")
        assert "no/such/file" in missing.error_message
        unknown = session.call_mcp_tool("no_such_tool", {})
        assert not unknown.success and "no_such_tool" in unknown.error_message


def test_read_timeout_replaces_the_deadline(bay: AgentBay) -> None:
    with bay.create().session as session:
        # The shell's own timeout would allow 20 s; read_timeout (ms) cuts the call at 0.5 s.
        slow = session.call_mcp_tool(
            "shell", {"command": "sleep 5", "timeout_ms": 20000}, read_timeout=500
        )
        assert not slow.success
        assert "Failed to call MCP tool shell" in slow.error_message


def test_async_call_mcp_tool(runtime: EmbeddedRuntime) -> None:
    async def main() -> McpToolResult:
        cfg = Config(endpoint=runtime.endpoint, timeout_ms=60000)
        async with (
            AsyncAgentBay(api_key=API_KEY, cfg=cfg) as bay,
            (await bay.create()).session as session,
        ):
            return await session.call_mcp_tool(
                "run_code", {"code": "print(6 * 7)", "language": "python"}
            )

    result = asyncio.run(main())
    assert result.success, result.error_message
    assert result.data == "42\n"
