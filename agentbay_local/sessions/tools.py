"""``ToolCalls``: one tool call in a session's sandbox (CallMcpTool, the VPC route, the live
view's input), with the catalogue's timeout and the screenshot URL the caller gets."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from agentbay.contract import get_logger, in_session_deadline_s
from agentbay_local.protocol.address import PublicAddress
from agentbay_local.protocol.description import Description
from agentbay_local.protocol.envelope import invalid
from agentbay_local.protocol.signing import UrlSigner
from agentbay_local.running import RunningSessions
from agentbay_local.sandbox import SandboxManager
from agentbay_local.sandbox.answers import ToolAnswer
from agentbay_local.sessions import desktop

log = get_logger("agentbay.local.tools")
#: The tool server's run_code in the session's kernel, answering the rich shape.
RICH_CODE_TOOL = "run_cell"


class ToolCalls:
    """Runs catalogue tools in running sessions."""

    def __init__(
        self,
        running: RunningSessions,
        description: Description,
        sandboxes: SandboxManager,
        signer: UrlSigner,
        address: PublicAddress,
    ) -> None:
        self._running = running
        self._description = description
        self._sandboxes = sandboxes
        self._signer = signer
        self._address = address

    async def call(
        self, session_id: str, name: str, args: Any, *, reads_today: bool = False
    ) -> ToolAnswer:
        """Run one tool in a session's sandbox; a tool its image lacks answers "tool not
        found", a ``system_screenshot`` answers a signed URL of the image.

        ``reads_today``: the caller reads answers as 0.13+ do (they send AutoGenSession with
        every CallMcpTool; 0.9.3 does not, and this project's SDK sends it with run_code):
        ``shell``'s text is then the JSON object ``{"stdout", "stderr", "exit_code"}``, and
        ``run_code`` runs in the session's kernel and answers the rich JSON object of
        ``inside/cell_tools.py``. 0.9.3 gets the output as text (run_code: a new process per
        call, as the 0.9 API documents).
        """
        row = self._running.get(session_id)
        if not isinstance(args, dict):
            raise invalid("Args", "expected a JSON object")
        if not self._description.image_has_tool(self._running.tool_image(row), name):
            return ToolAnswer.error(f"tool not found: {name}")
        sandbox = self._sandboxes.get(row.id)
        if sandbox is None:
            return ToolAnswer.error("the session sandbox is not running")
        timeout = self._description.tools[name].timeout
        if timeout is not None and timeout.argument not in args and timeout.default is not None:
            # The catalogue's default, not the tool server's own: one place says what it is.
            args = {**args, timeout.argument: int(timeout.default)}
        deadline_s = in_session_deadline_s(timeout, args)
        started = time.perf_counter()
        in_session = RICH_CODE_TOOL if reads_today and name == "run_code" else name
        answer = await sandbox.call_tool_answer(in_session, args, timeout_s=deadline_s)
        if log.isEnabledFor(logging.DEBUG):
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            failed = " (isError)" if answer.value.get("isError") else ""
            log.debug(
                "tool %s in %s: %.1f ms%s",
                name,
                row.id,
                duration_ms,
                failed,
                extra={
                    "event": "tool_call",
                    "tool": name,
                    "session": row.id,
                    "duration_ms": duration_ms,
                },
            )
        if name == "system_screenshot":
            return desktop.screenshot_answer(self._signer, self._address, row.id, answer)
        if reads_today and name == "shell":
            return _shell_fields(answer)
        return answer


def _shell_fields(answer: ToolAnswer) -> ToolAnswer:
    """A shell answer as 0.13+ read it: its structured content as the text."""
    fields = answer.value.get("structuredContent")
    if not isinstance(fields, dict) or "exit_code" not in fields:
        return answer  # a refusal before anything ran (bad arguments): its text as it is
    text = json.dumps(
        {key: fields.get(key) for key in ("stdout", "stderr", "exit_code")}, ensure_ascii=False
    )
    return ToolAnswer.text(text, is_error=bool(answer.value.get("isError")))
