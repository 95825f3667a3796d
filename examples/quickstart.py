"""Quickstart: a session on the embedded local runtime, step by step (``make demo``).

Runs unchanged against the AgentBay cloud: drop ``cfg=...`` and set AGENTBAY_API_KEY.
"""

from __future__ import annotations

import os

from agentbay import AgentBay, Config
from agentbay.session_params import CreateSessionParams


def show(step: str, value: object) -> None:
    print(f"{step:<28} {value}")


def main() -> None:
    endpoint = os.environ.get("AGENTBAY_ENDPOINT", "local")
    with AgentBay(cfg=Config(endpoint=endpoint, timeout_ms=60000)) as agent_bay:
        created = agent_bay.create(CreateSessionParams(labels={"demo": "quickstart"}))
        if not created.success:
            raise SystemExit(f"could not create a session: {created.error_message}")
        with created.session as session:
            show("session", session.session_id)
            command = session.command.execute_command("echo hello from $(hostname)", 5000)
            show("command output", command.output.strip())
            written = session.file_system.write_file("/tmp/notes.txt", "written by the demo\n")
            show("write_file", written.success)
            show("read_file", session.file_system.read_file("/tmp/notes.txt").content.strip())
            python = session.code.run_code("import sys; print(sys.version.split()[0])", "python")
            show("python", python.result.strip() if python.success else python.error_message)
            js = session.code.run_code("console.log(6 * 7)", "javascript")
            show("javascript", js.result.strip() if js.success else js.error_message)
            tools = session.list_mcp_tools().tools
            show("tools", ", ".join(sorted(tool.name for tool in tools)))
            session.set_labels({"demo": "quickstart", "step": "labels"})
            show("labels", session.get_labels().data)
        show("deleted", "yes (the with block deletes the session)")


if __name__ == "__main__":
    main()
