"""``run_code``'s results: ``EnhancedCodeExecutionResult`` (0.17+'s names and fields) and the
0.9 API's ``CodeExecutionResult``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from agentbay._types.response import ApiResponse

#: ``ExecutionResult``'s fields by the MIME type the runtime (and the cloud) send them as.
_FORMATS = {
    "application/vnd.vegalite.v4+json": "chart",
    "application/vnd.vegalite.v5+json": "chart",
    "text/plain": "text",
    "text/html": "html",
    "text/markdown": "markdown",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/svg+xml": "svg",
    "application/json": "json",
    "text/latex": "latex",
    "chart": "chart",
}


@dataclass
class CodeExecutionResult(ApiResponse):
    """The 0.9 API's result of ``run_code``: the program's output as text."""

    success: bool = False
    result: str = ""
    error_message: str = ""


@dataclass
class ExecutionResult:
    """One result of a cell in every format it offers: ``text`` always; ``html`` (a pandas
    DataFrame), ``png``/``jpeg`` (base64; a matplotlib figure), ``svg``, ``markdown``,
    ``latex``, ``json``, and ``chart`` (a figure's data: ``{"type": "line" | "bar" |
    "scatter" | "pie", "title", "elements", ...}``) where the object offers them.
    ``is_main_result``: the value of the cell's last expression (others come from
    ``display()`` or a shown figure)."""

    text: str | None = None
    html: str | None = None
    markdown: str | None = None
    png: str | None = None
    jpeg: str | None = None
    svg: str | None = None
    json: Any = None
    latex: str | None = None
    chart: dict[str, Any] | None = None
    is_main_result: bool = False

    def formats(self) -> list[str]:
        """The names of the formats this result has."""
        return [
            name for name in dict.fromkeys(_FORMATS.values()) if getattr(self, name) is not None
        ]

    @classmethod
    def from_bundle(cls, item: Any) -> ExecutionResult:
        """One result as the runtime sends it: a MIME bundle with ``isMainResult`` (or its
        JSON text), its formats under ``mime`` when streamed."""
        if isinstance(item, str):
            try:
                item = json.loads(item)
            except ValueError:
                return cls(text=item)
        if not isinstance(item, dict):
            return cls(text=str(item))
        mime = item.get("mime")
        formats: dict[str, Any] = mime if isinstance(mime, dict) else item
        values = {name: formats[mime] for mime, name in _FORMATS.items() if mime in formats}
        return cls(**values, is_main_result=bool(item.get("isMainResult")))


@dataclass
class ExecutionLogs:
    """What a cell wrote, as the chunks in the order they came."""

    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)


@dataclass
class ExecutionError:
    """Why a cell failed: the error's class (``name``), message (``value``), traceback."""

    name: str
    value: str
    traceback: str


@dataclass
class EnhancedCodeExecutionResult(ApiResponse):
    """``run_code``: one cell run in the session's kernel of its language.

    ``success`` is False when the cell raised (``error``) or could not run
    (``error_message``). ``result`` is the 0.9 API's plain text: what the cell printed to
    stdout, then its main result's text.
    """

    success: bool = False
    execution_count: int | None = None
    execution_time: float = 0.0
    logs: ExecutionLogs = field(default_factory=ExecutionLogs)
    results: list[ExecutionResult] = field(default_factory=list)
    error: ExecutionError | None = None
    error_message: str = ""

    @property
    def result(self) -> str:
        """The plain text the 0.9 API answered: stdout, then the main result's text."""
        text = "".join(self.logs.stdout)
        for item in self.results:
            if item.is_main_result and item.text is not None:
                text += item.text if not text or text.endswith("\n") else "\n" + item.text
        return text

    @classmethod
    def from_answer(cls, text: str, request_id: str = "") -> EnhancedCodeExecutionResult:
        """The result of a run_code answer's text: the runtime's (and the cloud's) JSON
        object, or plain output (a VPC session's answer; the 0.9 shape)."""
        try:
            answer = json.loads(text)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not isinstance(answer.get("result"), list):
            return cls(request_id=request_id, success=True, logs=ExecutionLogs(stdout=[text]))
        return cls.from_fields(answer, request_id)

    @classmethod
    def from_fields(
        cls, answer: dict[str, Any], request_id: str = ""
    ) -> EnhancedCodeExecutionResult:
        """The result of the answer's JSON object (a failed cell's structured content)."""
        results = [ExecutionResult.from_bundle(item) for item in answer["result"]]
        error = None
        error_text = str(answer.get("executionError") or "")
        fields = answer.get("error")
        if isinstance(fields, dict):
            error = ExecutionError(
                str(fields.get("name", "")),
                str(fields.get("value", "")),
                str(fields.get("traceback", "")),
            )
        elif error_text:
            error = ExecutionError("ExecutionError", error_text, "")
        count = answer.get("execution_count")
        return cls(
            request_id=request_id,
            success=error is None,
            execution_count=count if isinstance(count, int) else None,
            execution_time=float(answer.get("execution_time") or 0.0),
            logs=ExecutionLogs(
                stdout=[str(chunk) for chunk in answer.get("stdout") or []],
                stderr=[str(chunk) for chunk in answer.get("stderr") or []],
            ),
            results=results,
            error=error,
            error_message=error_text,
        )
