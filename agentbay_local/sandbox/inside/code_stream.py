"""Streaming ``run_code`` over the session WebSocket (stdlib only; runs inside the sandbox).

The program runs as the non-streaming tool runs it (``exec_tools.code_script``), with its
stdout and stderr on two pipes read as they are written; each read is one event, in the
order read, so a reader sees output while the program runs. Python gets
``PYTHONUNBUFFERED=1`` (a pipe would otherwise hold its prints until it exits). The end
event says how it finished, with the non-streaming call's error text on failure.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import select
import time

from . import exec_tools, procs
from . import tool_args as ta

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Protocol

    class Sender(Protocol):
        """Where the events go (a stream connection)."""

        def send(self, invocation_id: str, source: str, data: dict[str, Any]) -> bool: ...


#: Output kept (per stream) for the end event's error text.
TAIL_BYTES = 64 * 1024
_READ_BYTES = 65536


def run(
    reaper: procs.Reaper,
    env: Mapping[str, str],
    params: dict[str, Any],
    conn: Sender,
    request: str,
    target: str,
) -> None:
    """Run ``params`` (``code``, ``language``, ``timeoutS``) and stream it to ``conn``."""
    started = time.monotonic()

    def end(status: str, error: str = "") -> None:
        elapsed = round(time.monotonic() - started, 6)
        data = {"phase": "end", "status": status, "executionTime": elapsed, "executionError": error}
        conn.send(request, target, data)

    timeout_s = params.get("timeoutS", 60)
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or timeout_s <= 0:
        end("failed", "Invalid arguments: 'timeoutS' must be a positive number")
        return
    try:
        argv, script = exec_tools.code_script(
            {"code": params.get("code"), "language": params.get("language") or "python"}, env
        )
    except ta.ToolError as exc:
        end("failed", str(exc))
        return
    try:
        result = _stream(
            reaper, argv, {**env, "PYTHONUNBUFFERED": "1"}, timeout_s, conn, request, target
        )
    except OSError as exc:
        end("failed", f"Execution failed. Error code:-1 Error message: {exc}")
        return
    finally:
        with contextlib.suppress(OSError):
            os.unlink(script)
    if result.timed_out or result.exit_code != 0:
        end("failed", str(exec_tools.failure(result, exec_tools.code_timeout_note(timeout_s))))
    else:
        end("ok")


def _stream(
    reaper: procs.Reaper,
    argv: list[str],
    env: Mapping[str, str],
    timeout_s: float,
    conn: Sender,
    request: str,
    target: str,
) -> procs.RunResult:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        pid = reaper.spawn(argv, env, out_w, err_w)
    except OSError:
        for fd in (out_r, out_w, err_r, err_w):
            os.close(fd)
        raise
    os.close(out_w)
    os.close(err_w)
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
