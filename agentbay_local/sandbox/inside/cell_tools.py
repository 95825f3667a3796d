"""``run_cell``: ``run_code`` in the session's kernel, answered in the cloud's rich shape
(stdlib only; runs inside the sandbox).

The runtime calls it for the callers that read the rich shape (the official clients 0.13+
and this project's SDK; see ``sessions/tools.py``); the 0.9 API's callers keep ``run_code``
(``exec_tools``: a new process per call, its output as text).

The answer's text is the JSON object the official client parses (``Code.run_code``, its
first format): ``result`` (each a JSON string of a MIME bundle with ``isMainResult``),
``stdout`` and ``stderr`` (chunks in order), ``executionError`` (the error's traceback, or
""), ``execution_count``, ``execution_time`` (seconds), and ``error`` (``name``, ``value``,
``traceback``, or null), which the official client ignores and this project's SDK reads.
A cell that raised answers isError with ``executionError`` as the text and the same object
as ``structuredContent``.
"""

from __future__ import annotations

import json

from . import kernels
from . import tool_args as ta

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol

    class Context(Protocol):
        """What ``run_cell`` needs from the tool server."""

        @property
        def kernels(self) -> kernels.Kernels: ...


def run_cell(args: dict[str, Any], ctx: Context) -> str:
    """Run ``code`` in the kernel of ``language`` (``restart``: in a new kernel)."""
    code = ta.text(args, "code")
    raw_language = ta.text(args, "language", "python")
    timeout_s = ta.number(args, "timeout_s", 60.0)
    restart = ta.flag(args, "restart")
    if timeout_s <= 0:
        raise ta.ToolError("Invalid arguments: 'timeout_s' must be positive")
    language = kernels.canonical_language(raw_language)
    if language is None:
        raise ta.ToolError(kernels.unsupported_message(raw_language))
    restarted = ctx.kernels.restart(language) if restart else False
    if not code.strip():
        if restart:
            return json.dumps(rich_answer(kernels.Execution(), restarted=restarted))
        raise ta.ToolError("Invalid arguments: 'code' is empty; pass the code to run")
    try:
        execution = ctx.kernels.execute(language, code, timeout_s)
    except kernels.KernelError as exc:
        raise ta.ToolError(f"Execution failed: {exc}") from None
    answer = rich_answer(execution)
    if execution.error is not None:
        # A failed cell is a tool error, as the cloud answers it: the official clients then
        # show its text as error_message (their tests look for the exception's name there).
        raise ta.ToolError(answer["executionError"], answer)
    return json.dumps(answer)


def rich_answer(execution: kernels.Execution, restarted: bool | None = None) -> dict[str, Any]:
    """The answer object of one execution (see the module's description)."""
    error = execution.error
    answer: dict[str, Any] = {
        "result": [json.dumps(result) for result in execution.results],
        "stdout": execution.stdout,
        "stderr": execution.stderr,
        "executionError": _error_text(error) if error else "",
        "execution_count": execution.execution_count,
        "execution_time": round(execution.execution_time, 6),
        "error": error,
    }
    if restarted is not None:
        answer["restarted"] = restarted
    return answer


def _error_text(error: dict[str, str]) -> str:
    """The error as one text: its traceback, led by ``name: value`` unless that is already
    its last line (a timeout's traceback ends in KeyboardInterrupt)."""
    summary = f"{error['name']}: {error['value']}"
    trace = error["traceback"]
    if not trace:
        return summary
    return trace if trace.rstrip().endswith(summary) else f"{summary}\n{trace}"
