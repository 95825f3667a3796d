"""Another stock MCP client: the MCP Inspector's CLI mode (npm ``@modelcontextprotocol/inspector``,
the TypeScript SDK's client) lists and calls the tools over stdio and over HTTP.

It is installed with npm in the tests' tool cache on first use (once per machine and user);
where node or the registry is not there the test is skipped and says so.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from agentbay_local.server import EmbeddedRuntime
from tests.mcp.conftest import API_KEY, server_argv, server_env
from tests.support.paths import installing, tools_cache
from tests.support.spawn import free_port, wait_until_listening
from tests.support.system_parts import install_command

VERSION = "2.12.0"
PREFIX = tools_cache() / f"mcp-inspector-{VERSION}"


def inspector() -> Path:
    """The inspector's command, installed on first use (skips where npm cannot install it)."""
    binary = PREFIX / "node_modules" / ".bin" / "mcp-inspector"
    with installing(PREFIX):
        if not binary.exists():
            _install()
    return binary


def _install() -> None:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip(
            "the MCP Inspector needs node and npm (not installed; a test tool, not one of the "
            f"project's parts); to install: {install_command(['nodejs', 'npm'])}"
        )
    PREFIX.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", f"@modelcontextprotocol/inspector@{VERSION}"],
        cwd=PREFIX,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        pytest.skip(f"npm could not install the MCP Inspector: {done.stderr[-500:]}")


def run(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [str(inspector()), "--cli", *args],
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def test_inspector_over_stdio(runtime: EmbeddedRuntime, tmp_path: Path) -> None:
    # The client configuration users write (the key in its env, not on a command line).
    command, *args = server_argv(runtime)
    config = tmp_path / "mcp.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "agentbay": {
                        "command": command,
                        "args": args,
                        "env": {"AGENTBAY_API_KEY": API_KEY},
                    }
                }
            }
        )
    )
    server = ["--config", str(config), "--server", "agentbay"]
    listed = run(*server, "--method", "tools/list")
    names = {tool["name"] for tool in listed["tools"]}  # type: ignore[attr-defined,index]
    assert {"shell", "run_code", "read_file", "session_create"} <= names
    called = run(
        *server,
        "--method",
        "tools/call",
        "--tool-name",
        "shell",
        "--tool-arg",
        "command=echo inspected",
        "--tool-arg",
        "timeout_ms=5000",
    )
    assert called == {"content": [{"type": "text", "text": "inspected\n"}], "isError": False}


def test_inspector_over_http(runtime: EmbeddedRuntime) -> None:
    inspector()
    port = free_port()
    process = subprocess.Popen(
        server_argv(runtime, "--http", f"127.0.0.1:{port}"),
        env={**server_env(), "AGENTBAY_MCP_TOKEN": "inspector-token"},
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_listening(process, port)
        called = run(
            "--transport",
            "http",
            "--server-url",
            f"http://127.0.0.1:{port}/mcp",
            "--header",
            "Authorization: Bearer inspector-token",
            "--method",
            "tools/call",
            "--tool-name",
            "run_code",
            "--tool-arg",
            "code=print(6 * 7)",
            "--tool-arg",
            "language=python",
        )
        assert called == {"content": [{"type": "text", "text": "42\n"}], "isError": False}
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
