"""Streaming over the session WebSocket (stdlib only; runs inside the sandbox):
``run_code`` (the official client's: a cell in the session's kernel) and ``command.run``
(this SDK's streaming and background shell commands).

A cell runs as the non-streaming call of today's clients runs it (``cell_tools``: the
session's kernel, its state kept); each stdout or stderr chunk, result and error the kernel
hands over is one event, and the end event carries what the non-streaming answer says
(``executionError``, ``executionCount``, ``executionTime``).

A command runs as the ``shell`` tool runs it (``exec_tools.shell_program``), with its
stdout and stderr on two pipes read as they are written; each read is one event. Python
gets ``PYTHONUNBUFFERED=1`` (a pipe would otherwise hold its prints until it exits). The
end event says how it finished (``exitCode`` too), with the tool's error text on failure.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import select
import time

from . import cell_tools, exec_tools, kernels, procs
from . import tool_args as ta

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, Protocol

    class Sender(Protocol):
        """Where the events go (a stream connection)."""

        def send(self, invocation_id: str, source: str, data: dict[str, Any]) -> bool: ...


#: Output kept (per stream) for the end event's error text.
TAIL_BYTES = 64 * 1024
_READ_BYTES = 65536


def run_cell(
    code_kernels: kernels.Kernels,
    params: dict[str, Any],
    conn: Sender,
    request: str,
    target: str,
) -> None:
    """Run ``params`` (``code``, ``language``, ``timeoutS``) in the session's kernel and
    stream it to ``conn``."""
    began = time.monotonic()
    timeout_s = params.get("timeoutS", 60)
    raw_language = params.get("language") or "python"
    code = params.get("code")
    language = kernels.canonical_language(str(raw_language))
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or timeout_s <= 0:
        _end(conn, request, target, began, None, "'timeoutS' must be a positive number")
        return
    if language is None:
        _end(conn, request, target, began, None, kernels.unsupported_message(str(raw_language)))
        return
    if not isinstance(code, str) or not code.strip():
        _end(conn, request, target, began, None, "'code' is empty; pass the code to run")
        return

    gone = False

    def send(data: dict[str, Any]) -> None:
        nonlocal gone
        if not gone and not conn.send(request, target, data):
            gone = True  # the client went away: the cell is interrupted, not left running
            code_kernels.interrupt(language)

    def on_event(kind: str, payload: Any) -> None:
        if kind in ("stdout", "stderr"):
            send({"phase": "event", "eventType": kind, "chunk": payload})
        elif kind == "result":
            mime = {key: value for key, value in payload.items() if "/" in key}
            result = {"isMainResult": bool(payload.get("isMainResult")), "mime": mime}
            send({"phase": "event", "eventType": "result", "result": result})
        elif kind == "error":
            # The official client reads code and message; name, value, traceback as the
            # non-streaming answer's error.
            error = {"code": payload.get("name"), "message": payload.get("value"), **payload}
            send({"phase": "event", "eventType": "error", "error": error})

    try:
        execution = code_kernels.execute(language, code, float(timeout_s), on_event)
    except kernels.KernelError as exc:
        _end(conn, request, target, began, None, f"Execution failed: {exc}")
        return
    answer = cell_tools.rich_answer(execution)
    data = {
        "phase": "end",
        "status": "failed" if answer["executionError"] else "ok",
        "executionError": answer["executionError"],
        "executionCount": answer["execution_count"],
        "executionTime": answer["execution_time"],
    }
    conn.send(request, target, data)


def run_command(
    reaper: procs.Reaper,
    env: Mapping[str, str],
    params: dict[str, Any],
    conn: Sender,
    request: str,
    target: str,
    started: Callable[[int], None],
) -> None:
    """Run ``params`` (``command``, ``timeoutMs``, ``cwd``, ``envs``) with the shell and
    stream it to ``conn``."""
    args = {
        "command": params.get("command"),
        "timeout_ms": params.get("timeoutMs", 60_000),
        "cwd": params.get("cwd") or "",
        "envs": params.get("envs"),
    }

    def program() -> tuple[list[str], str | None, Mapping[str, str]]:
        argv, command_env, _ = exec_tools.shell_program(args, env)
        return argv, None, command_env

    try:
        timeout_s = exec_tools.shell_program(args, env)[2]
    except ta.ToolError as exc:
        _end(conn, request, target, time.monotonic(), None, str(exc))
        return
    _run(reaper, conn, request, target, started, timeout_s, exec_tools.shell_timeout_note, program)


def _end(
    conn: Sender, request: str, target: str, began: float, code: int | None, error: str = ""
) -> None:
    data = {
        "phase": "end",
        "status": "failed" if error else "ok",
        "exitCode": code,
        "executionTime": round(time.monotonic() - began, 6),
        "executionError": error,
    }
    conn.send(request, target, data)


def _run(
    reaper: procs.Reaper,
    conn: Sender,
    request: str,
    target: str,
    started: Callable[[int], None],
    timeout_s: float,
    timeout_note: Callable[[float], str],
    program: Callable[[], tuple[list[str], str | None, Mapping[str, str]]],
) -> None:
    began = time.monotonic()
    try:
        argv, script, env = program()
    except ta.ToolError as exc:
        _end(conn, request, target, began, None, str(exc))
        return
    try:
        env = {**env, "PYTHONUNBUFFERED": "1"}
        result = _stream(reaper, argv, env, timeout_s, conn, request, target, started)
    except OSError as exc:
        _end(
            conn,
            request,
            target,
            began,
            None,
            f"Execution failed. Error code:-1 Error message: {exc}",
        )
        return
    finally:
        if script is not None:
            with contextlib.suppress(OSError):
                os.unlink(script)
    code = -1 if result.timed_out or result.exit_code is None else result.exit_code
    if result.timed_out or result.exit_code != 0:
        _end(
            conn,
            request,
            target,
            began,
            code,
            str(exec_tools.failure(result, timeout_note(timeout_s))),
        )
    else:
        _end(conn, request, target, began, 0)


def _stream(
    reaper: procs.Reaper,
    argv: list[str],
    env: Mapping[str, str],
    timeout_s: float,
    conn: Sender,
    request: str,
    target: str,
    started: Callable[[int], None],
) -> procs.RunResult:
    pid, out_r, err_r = procs.spawn_piped(reaper, argv, env)
    started(pid)
    names = {out_r: "stdout", err_r: "stderr"}
    decoders = {fd: codecs.getincrementaldecoder("utf-8")("replace") for fd in names}
    tails = {fd: bytearray() for fd in names}
    deadline = time.monotonic() + timeout_s
    timed_out = gone = False

    def emit(fd: int, chunk: bytes, final: bool = False) -> None:
        nonlocal gone
        tails[fd] += chunk
        del tails[fd][: max(0, len(tails[fd]) - TAIL_BYTES)]
        text = decoders[fd].decode(chunk, final)
        if text and not gone:
            event = {"phase": "event", "eventType": names[fd], "chunk": text}
            gone = not conn.send(request, target, event)

    try:
        open_fds = set(names)
        while open_fds and not gone:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            readable, _, _ = select.select(list(open_fds), [], [], left)
            for fd in readable:
                chunk = os.read(fd, _READ_BYTES)
                if chunk:
                    emit(fd, chunk)
                else:
                    open_fds.discard(fd)
        if timed_out or gone:  # the time limit, or nobody is listening any more
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, 9)
        code = reaper.wait(pid, max(0.0, deadline - time.monotonic()) + 10.0)
        if code is None:
            timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, 9)
            code = reaper.wait(pid, 10.0)
        for fd in names:
            emit(fd, b"", final=True)
        return procs.RunResult(code, bytes(tails[out_r]), bytes(tails[err_r]), timed_out)
    finally:
        os.close(out_r)
        os.close(err_r)
