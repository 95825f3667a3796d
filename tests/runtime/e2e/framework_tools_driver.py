"""Runs the tools of a framework integration (``langchain`` or ``llama_index``, the variable
``FRAMEWORK``) against a local runtime, called directly as an agent would call them (no model).

langchain-agentbay-integration (pins wuying-agentbay-sdk 0.15.x): the codespace toolkit on a
``code_latest`` session and the computer toolkit on a ``linux_latest`` one, the session handed
in through the tool runtime's context as its README does. llama-index-tools-agentbay (pins
0.13.x): every tool of ``create_all_tools`` (code, command, files, browser), the sessions made
by its own session manager. Executed by test_framework_tools.py with the integration's own
interpreter; imports nothing of this project but loopback_only. Each tool's answer goes to the
JSON file named by the first argument.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(1, str(Path(__file__).resolve().parents[2] / "support"))

import loopback_only  # noqa: F401  (first: nothing below reaches past loopback)

FRAMEWORK, RESULTS = os.environ["FRAMEWORK"], Path(sys.argv[1])
results: dict[str, Any] = {}


def langchain_tools() -> None:
    from langchain_agentbay_integration.toolkits import (
        CodespaceIntegrationToolkit,
        ComputerIntegrationToolkit,
    )
    from langchain_agentbay_integration.tools import SessionData

    from agentbay import AgentBay, CreateSessionParams

    bay = AgentBay()
    code = bay.create(CreateSessionParams(image_id="code_latest")).session
    desktop = bay.create(CreateSessionParams(image_id="linux_latest")).session
    data = SessionData()
    data.codespace_session, data.computer_session = code, desktop
    runtime = SimpleNamespace(context=SimpleNamespace(session_data=data))
    try:
        tools = {tool.name: tool for tool in CodespaceIntegrationToolkit().get_tools()}
        tools.update({tool.name: tool for tool in ComputerIntegrationToolkit().get_tools()})
        results["tools"] = sorted(tools)

        def call(name: str, **args: Any) -> Any:
            results[name] = tools[name].func(**args, runtime=runtime)

        call("codespace_write_file", path="/tmp/lc.txt", content="from langchain", mode="overwrite")
        call("codespace_read_file", path="/tmp/lc.txt")
        call("codespace_execute_command", command="echo $((6*7))", timeout_ms=20000)
        call("codespace_run_code", code="print(6*7)", language="python", timeout_s=60)
        call("codespace_run_code", code="console.log(6*7)", language="javascript", timeout_s=60)
        call("computer_get_screen_size")
        call("computer_move_mouse", x=100, y=120)
        call("computer_get_cursor_position")
        call("computer_click_mouse", x=100, y=120, button="left")
        call("computer_input_text", text="hello")
        call("computer_press_keys", keys=["Escape"], hold=False)
        # Beside the results (the test's own directory): a fixed /tmp path is another user's.
        call("computer_screenshot", file_path=str(RESULTS.with_name("lc-screen.png")))
    finally:
        results["deleted"] = [bay.delete(code).success, bay.delete(desktop).success]


def llama_index_tools() -> None:
    import llama_index.tools.agentbay as integration

    manager = integration.AgentBaySessionManager()
    tools = {
        tool.metadata.name: tool
        for make in (
            integration.create_code_tools,
            integration.create_command_tools,
            integration.create_filesystem_tools,
            integration.create_browser_tools,
        )
        for tool in make(manager)
    }
    results["tools"] = sorted(tools)
    try:

        def call(name: str, **args: Any) -> None:
            results[name] = str(tools[name].call(**args).content)

        call("python_run_code", code="print(6*7)")
        call("javascript_run_code", code="console.log(6*7)")
        call("python_execute", code="print(6*7)")  # its own tool runs `python`
        call("command_execute", command="command -v python || echo none")
        results["has_python"] = not results.pop("command_execute").endswith("none\n")
        call("command_execute", command="echo $((6*7))")
        call("file_write", file_path="/tmp/li.txt", content="from llama-index")
        call("file_read", file_path="/tmp/li.txt")
        call("file_list", directory="/tmp")
        call(
            "file_download", remote_path="/tmp/li.txt", local_path=str(RESULTS.with_name("li.txt"))
        )
        results["downloaded"] = RESULTS.with_name("li.txt").read_text()
        call("browser_info")
        call("browser_screenshot")
    finally:
        made = sorted(manager._session_ids.values())
        manager.cleanup()
        results["made"] = made
        results["left"] = sorted(set(made) & set(manager.client.list().session_ids))


{"langchain": langchain_tools, "llama_index": llama_index_tools}[FRAMEWORK]()
RESULTS.write_text(json.dumps(results, indent=1, default=str))
