"""What ``agentbay mcp`` adds to a tool call: the same tool on the same session called
through the MCP server (stdio, the ``mcp`` package's client, as MCP clients do) and through
the async SDK directly (what the server itself calls), interleaved, in one run.

``python -m bench.mcp`` runs this section alone; ``make bench`` runs it with the rest
(``section_mcp``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import anyio
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters

from agentbay import AsyncAgentBay, Config
from bench.harness import Report, Target, ainterleaved, ms, p50, pct
from tests.support.spawn import free_port, serve_argv, wait_until_listening

KEY = "akm-bench-mcp"
CALLS = 300
#: The issue's goal for the server's added latency, p50.
GOAL_S = 0.001
#: A tool that starts no process, so the figure is the call path, not bash.
TOOL, ARGS = "get_file_info", {"path": "/tmp"}


async def _samples(endpoint: str, key: str) -> tuple[list[float], list[float]]:
    """Seconds per call: through the MCP server, and through the SDK."""
    bay = AsyncAgentBay(api_key=key, cfg=Config(endpoint=endpoint, timeout_ms=60000))
    created = await bay.create()
    assert created.success and created.session is not None, created.error_message
    session = created.session
    server = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "agentbay.cli",
            "mcp",
            "--endpoint",
            endpoint,
            "--session-id",
            session.session_id,
        ],
        env={**os.environ, "AGENTBAY_API_KEY": key},
    )
    try:
        async with Client(server) as client:

            async def via_mcp() -> None:
                answer = await client.call_tool(TOOL, ARGS)
                assert not answer.is_error, answer

            async def via_sdk() -> None:
                answer = await session.call_mcp_tool(TOOL, ARGS)
                assert answer.success, answer.error_message

            mcp_s, sdk_s = await ainterleaved([via_mcp, via_sdk], CALLS, warmup=20)
    finally:
        await session.delete()
        await bay.close()
    return mcp_s, sdk_s


def section_mcp(report: Report, endpoint: str, key: str) -> None:
    """The MCP server's added latency per tool call (a table and a target)."""
    mcp_s, sdk_s = anyio.run(_samples, endpoint, key)
    added = p50(mcp_s) - p50(sdk_s)
    report.table(
        "agentbay mcp: a tool call through the MCP server vs the same SDK call",
        ["path", "p50 ms", "p95 ms"],
        [
            [
                f"MCP client -> agentbay mcp (stdio) -> SDK -> runtime: {TOOL}",
                ms(p50(mcp_s)),
                ms(pct(mcp_s, 0.95)),
            ],
            [
                f"SDK (AsyncSession.call_mcp_tool) -> runtime: {TOOL}",
                ms(p50(sdk_s)),
                ms(pct(sdk_s, 0.95)),
            ],
            ["added by the MCP server (difference of p50s)", ms(added), ""],
        ],
        note=f"{CALLS} calls each, interleaved, one session (the server attached with "
        "--session-id). The MCP path includes the mcp package's client and server: JSON-RPC "
        "over the server's stdin/stdout, validation of each message on both sides.",
    )
    report.target(
        Target(
            "MCP tool call's added latency over the same SDK call",
            f"<= {GOAL_S * 1000:.0f} ms p50",
            f"{added * 1000:.2f} ms",
            added <= GOAL_S,
        )
    )


def main() -> None:
    """This section alone, against a runtime of its own."""
    data_dir = Path(tempfile.mkdtemp(prefix="agentbay-bench-mcp-"))
    port = free_port()
    process = subprocess.Popen(
        serve_argv(data_dir, port, KEY), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until_listening(process, port)
        section_mcp(Report(), f"http://127.0.0.1:{port}", KEY)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


if __name__ == "__main__":
    main()
