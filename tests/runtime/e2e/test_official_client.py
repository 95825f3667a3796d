"""The official client (PyPI wuying-agentbay-sdk==0.9.3), unchanged, against `agentbay local serve`.

The official client runs in its own virtual environment (tests/support/official.py).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentbay import AgentBay, Config
from tests.runtime.e2e.api import LINK_URL
from tests.runtime.e2e.watch_steps import expected_stream
from tests.support.message_probes import probe_messages
from tests.support.official import official_python, run_driver
from tests.support.spawn import serving, stop_serve
from tests.support.system_parts import needs

DRIVER = Path(__file__).with_name("official_driver.py")
KEY = "akm-official-test"
USER_IMAGE = "imgc-07eksy57nw6r759fb"
IMAGE_BUILD = [sys.executable, "-m", "agentbay.cli", "local", "image", "build"]


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    """`agentbay local serve` in the foreground of a child process."""
    data_dir = tmp_path_factory.mktemp("serve")
    with serving(data_dir, KEY) as (endpoint, process):
        yield endpoint, data_dir, process


@pytest.fixture(scope="module")
def driven(
    served: tuple[str, Path, subprocess.Popen[str]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """What the official client's driver recorded, all flows run once against ``served``
    (the browser and JavaScript steps too: where their system part is missing they fail,
    and their tests skip)."""
    endpoint, data_dir, _ = served
    tmp_path = tmp_path_factory.mktemp("official")
    python = official_python("0.9.3")

    def build(*args: str) -> None:
        """``agentbay local image build ARGS`` into serve's data dir, while it runs."""
        argv = [*IMAGE_BUILD, *args, "--data-dir", str(data_dir)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr

    # A user image with a cloud custom image id, then one on it.
    greeting = "mkdir -p /srv/app && echo hello from the image > /srv/app/greeting"
    build(USER_IMAGE, "--from", "linux_latest", "--run", greeting)
    (tmp_path / "Imagefile").write_text(f"FROM {USER_IMAGE}\nWORKDIR /srv/app\n")
    build(USER_IMAGE + "-wd", "-f", str(tmp_path / "Imagefile"))
    extra = {"AGENTBAY_TEST_USER_IMAGE": USER_IMAGE + "-wd"}
    return run_driver(python, DRIVER, endpoint, KEY, tmp_path, 600, extra)


def test_official_client_main_flows(
    served: tuple[str, Path, subprocess.Popen[str]], driven: dict[str, Any]
) -> None:
    endpoint, data_dir, process = served
    got = driven
    assert got["create"] == {"success": True, "error": ""}
    assert got["set_labels"] is True
    assert got["get_labels"] == {"suite": "official", "stage": "two"}
    assert got["info"]["success"] is True and got["info"]["resource_url"].startswith("http")
    ids = got["resource_ids"]
    resource_id = ids["info_resource_id"]
    assert resource_id and ids["get_resource_id"] == resource_id and ids["get_app_instance_id"]
    urls = (ids["created_url"], ids["info_url"], ids["get_url"])
    assert {url["resourceId"] for url in urls} == {resource_id}
    assert len({url["authcode"] for url in urls}) == 3  # fresh in every answer
    assert ids["page_status"] == 200
    with AgentBay(api_key=KEY, cfg=Config(endpoint=endpoint, timeout_ms=60000)) as ours:
        mine = probe_messages(ours)
    # Our texts are 0.9.3's, word for word, but run_code's: it runs four languages now and
    # says so as today's official client does (tests/sdk/unit/test_official_messages.py).
    theirs = dict(got["messages"])
    assert "'python' and 'javascript'" in theirs.pop("run_code_language")["message"]
    assert "'r', and 'java'" in mine.pop("run_code_language")["message"]
    assert theirs == mine
    assert LINK_URL.fullmatch(got["get_link"]), got["get_link"]
    assert len(got["list_ids"]) == 1 and got["list_ids"] == got["list_by_labels"]
    assert got["get"] == {"success": True, "error": ""}
    assert "shell" in got["tools"] and "read_file" in got["tools"]

    assert got["command"] == {"success": True, "output": "official\nLinux\n"}
    name = got["hostname"]["session_id"]
    assert got["hostname"]["output"].split() == [name, name, "127.0.1.1", name]
    assert got["command_fail"]["success"] is False and "4" in got["command_fail"]["error"]
    assert got["python"] == {"success": True, "result": "45\n"}

    for key in (
        "mkdir",
        "write_big",
        "read_big_equal",
        "append",
        "read_tail",
        "edit",
        "edited",
        "move",
    ):
        assert got[key] is True, key
    assert got["file_info"]["success"] is True and got["file_info"]["isDirectory"] is False
    assert got["listing"] == [["sub", True]]
    assert got["multi"] == {"success": True, "a": "alpha"}
    assert got["search"] == {"success": True, "matches": ["/tmp/official/sub/moved.txt"]}
    assert got["search_none"] == {"success": True, "matches": [], "error": ""}
    assert got["read_missing"]["success"] is False
    assert ["create", "/tmp/official/watched.txt"] in got["watch"]
    assert got["watch_steps"]["ready"] is True
    assert got["watch_steps"]["stream"] == [list(event) for event in expected_stream()]

    assert got["context_create"] == {"success": True, "name": "official-ctx"}
    assert "official-ctx" in got["context_list"]["names"]
    assert got["context_update"] is True and got["context_get"] is True
    assert got["create_with_context"]["success"] is True
    assert got["delete_with_context"] is True
    assert got["create_with_missing_context"] == {"success": True}
    ghost = got["missing_context_tasks"].pop("ctx-does-not-exist-0123")
    assert ghost["status"] == "Failed" and ghost["type"] == "download"
    assert "ctx-does-not-exist-0123" in ghost["error"]
    others = got["missing_context_tasks"].values()  # the data and file-transfer contexts
    assert others and {task["status"] for task in others} == {"Success"}
    assert got["absent_file_url"] == {"success": True, "status": 404}
    assert got["context_delete"] is True

    assert got["vpc_create"] == {"success": True, "is_vpc": True}
    assert got["vpc_command"] == {"success": True, "output": "via-vpc\n"}
    assert got["vpc_read"] == "vpc file"
    assert got["vpc_delete"] is True

    for key in ("user_image", "user_image_vpc"):
        assert got[f"{key}_create"] == {"success": True, "error": ""}, key
        assert got[f"{key}_command"] == {
            "success": True,
            "output": "hello from the image\n/srv/app\n",
        }, key
        assert got[f"{key}_delete"] is True, key

    assert got["delete"] == {"success": True, "error": ""}
    assert got["after_delete"]["success"] is False

    # Ctrl-C releases every session and exits cleanly.
    assert stop_serve(process) == 0
    sessions = data_dir / "sessions"
    assert not sessions.exists() or not any(sessions.iterdir())


def test_official_client_runs_javascript(driven: dict[str, Any]) -> None:
    assert driven["javascript"] == {"success": True, "result": "js 1024\n"}


@needs("libatomic1")  # the driver uses Playwright
def test_official_client_browser_flow(driven: dict[str, Any]) -> None:
    got = driven
    assert "browser_error" not in got, got.get("browser_error")
    assert got["browser_init"] is True and got["browser_init_again"] is True
    assert (
        got["browser_endpoint"].startswith("ws://")
        and "/devtools/browser/" in got["browser_endpoint"]
    )
    assert got["browser_title"] == "official" and got["browser_width"] == 1200
    assert got["browser_delete"] is True and got["browser_delete_again"] is True
    assert "official=kept" in got["browser_cookie"]
    assert got["agent_navigate"].startswith("Navigated to")
    assert got["agent_screenshot"] == "data:image/jpeg;base64,"
    assert got["vpc_browser_init"] is True and got["vpc_browser_contexts"] == 1
    assert got["vpc_browser_endpoint"].startswith("ws://127.0.0.1:")
