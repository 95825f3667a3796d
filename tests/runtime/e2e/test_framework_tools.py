"""The framework integrations, unchanged, with the official clients they pin, against
`agentbay local serve`: langchain-agentbay-integration (wuying-agentbay-sdk 0.15.x) and
llama-index-tools-agentbay (0.13.x). Neither ships tests, so their tools are called directly,
as an agent would call them (no model): code, commands, files, the desktop and the browser.

Each integration runs in its own virtual environment of the tests' tool cache
(tests/support/official.py); the driver is framework_tools_driver.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.conftest import API_KEY
from tests.support.official import integration_python, run_driver

DRIVER = Path(__file__).with_name("framework_tools_driver.py")


def test_langchain_toolkits(runtime: EmbeddedRuntime, tmp_path: Path) -> None:
    python = integration_python("langchain-agentbay-integration")
    served = runtime.endpoint
    got = run_driver(python, DRIVER, served, API_KEY, tmp_path, 600, {"FRAMEWORK": "langchain"})
    answers = {name: json.loads(got[name]) for name in got if name.startswith(("code", "comp"))}
    assert all(answer["success"] for answer in answers.values()), answers
    assert answers["codespace_read_file"]["content"] == "from langchain"
    assert answers["codespace_execute_command"]["output"] == "42\n"
    assert answers["codespace_run_code"]["result"] == "42\n"
    assert answers["computer_get_cursor_position"] | {"message": ""} == {
        "success": True,
        "message": "",
        "x": 100,
        "y": 120,
    }
    assert answers["computer_get_screen_size"]["width"] > 0
    assert answers["computer_screenshot"]["screenshot_url"].startswith(served)
    assert got["deleted"] == [True, True]


def test_llama_index_tools(runtime: EmbeddedRuntime, tmp_path: Path) -> None:
    python = integration_python("llama-index-tools-agentbay")
    endpoint = runtime.endpoint
    got = run_driver(python, DRIVER, endpoint, API_KEY, tmp_path, 600, {"FRAMEWORK": "llama_index"})
    assert got["python_run_code"] == "Code executed successfully:\n42"
    assert got["javascript_run_code"] == "Code executed successfully:\n42\n"
    assert got["command_execute"] == "Command executed successfully:\n42\n"
    if got["has_python"]:
        assert got["python_execute"] == "Python code executed successfully:\n42\n"
    else:
        print("python_execute not checked: the session's code_latest has no `python` command")
    assert got["file_read"] == "from llama-index"
    assert "li.txt" in got["file_list"].splitlines()
    assert got["downloaded"] == "from llama-index"
    assert "CDP Endpoint: ws://127.0.0.1:" in got["browser_info"]
    assert got["browser_screenshot"].startswith("Screenshot captured successfully: data:image/")
    assert len(got["made"]) == 2 and got["left"] == []  # code_latest, browser_latest; deleted
