"""Runs the OFFICIAL client 0.22.3 against a runtime that answers LinkUrl (serve --link-url):
every tool call then goes to ``POST <LinkUrl>/callTool``. Each probe runs twice, through the
LinkUrl route and through CallMcpTool (the session's link_url cleared), so the test can
compare the answers.

Executed by tests/runtime/e2e/test_official_link.py with the client's own interpreter; it
imports nothing of this project but loopback_only. Results go to the JSON file named by the
first argument.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(1, str(Path(__file__).resolve().parents[2] / "support"))

import loopback_only  # noqa: F401  (first: nothing below reaches past loopback)

from agentbay import AgentBay, CreateSessionParams  # the official client

results: dict[str, Any] = {}
bay = AgentBay()
BIG = "0123456789abcdef" * 65536  # 1 MiB: 0.22 writes and reads it in one call on LinkUrl


def probes(session: Any) -> dict[str, Any]:
    """What each route answers; the request ids say which route carried the calls."""
    got: dict[str, Any] = {}
    command = session.command.execute_command("echo out; echo err >&2; exit 3")
    got["command"] = [command.success, command.exit_code, command.stdout, command.stderr]
    cwd = session.command.execute_command("pwd", cwd="/tmp", envs={"LINK_VAR": "x"})
    got["cwd"] = [cwd.success, cwd.stdout]
    code = session.code.run_code("import sys\nprint('hi')\nsys.stdout.flush()\n40 + 2", "python")
    got["code"] = [
        code.success,
        [str(line) for line in code.logs.stdout],
        [r.text for r in code.results if r.text],
    ]
    failed = session.code.run_code("raise ValueError('boom')", "python")
    got["code_error"] = [failed.success, "ValueError" in (failed.error_message or "")]
    fs = session.file_system
    got["write"] = fs.write_file("/tmp/big.txt", BIG).success
    read = fs.read_file("/tmp/big.txt")
    got["read"] = [read.success, len(read.content), read.content == BIG]
    listing = fs.list_directory("/tmp")
    got["listed"] = "big.txt" in [entry.name for entry in listing.entries]
    missing = fs.read_file("/no/such/file")
    got["missing"] = [missing.success, bool(missing.error_message)]
    got["request_ids"] = sorted({command.request_id[:5], cwd.request_id[:5]})
    return got


def main() -> None:
    session = bay.create(CreateSessionParams(image_id="linux_latest")).session
    try:
        results["link_url"] = session.link_url
        results["token"] = bool(session.token)
        results["link"] = probes(session)
        shot = session.computer.beta_take_screenshot(format="jpg")
        results["jpeg"] = [
            shot.success,
            shot.mime_type,
            shot.width,
            shot.height,
            shot.data[:3].hex(),
        ]
        png = session.computer.beta_take_screenshot()
        results["png"] = [png.success, png.data[:4].hex()]
        results["old_screenshot"] = session.computer.screenshot().error_message
        paused = session.beta_pause()
        refused = session.command.execute_command("echo nope")
        results["paused"] = [paused.success, refused.success, refused.error_message]
        results["resumed"] = session.beta_resume().success
        again = session.call_mcp_tool("shell", {"command": "echo back", "timeout_ms": 5000})
        results["after_resume"] = [again.success, json.loads(again.data)["stdout"]]
        link_url, session.link_url = session.link_url, ""  # the CallMcpTool route
        results["api"] = probes(session)
        session.link_url = link_url
        results["jpeg_b64_head"] = base64.b64encode(shot.data[:12]).decode()
        results["get_link_url"] = bay.get(session.session_id).session.link_url  # GetSession
    finally:
        session.delete()
    Path(sys.argv[1]).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
