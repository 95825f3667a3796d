"""Code kernels: one persistent interpreter per session and language (stdlib only; runs in
the tool server).

A kernel is started on first use and kept: what one call defines, the next one sees. It is
a child of the tool server, so it runs inside the session under the session's limits and
counts in its metrics. Each language has a driver program (``kernel_<language>.*`` beside
this file) speaking one protocol: cells in on stdin, output on fd 1 and 2, events (results,
errors, the end of a cell) as JSON lines on fd 3 (see ``kernel_python.py``).

``Kernels.execute`` runs one cell and hands every piece of output to an optional callback
as it comes (stdout and stderr chunks, results, the error), so a caller can stream it; the
answer is the whole ``Execution``. A cell that outlives its time limit is interrupted
(SIGINT: Python's KeyboardInterrupt), keeping the kernel and its state; one that does not
stop then is killed with its kernel. A kernel that dies is replaced on the next call, which
is told that the earlier state is gone.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import json
import os
import select
import shutil
import signal
import tempfile
import threading
import time

from . import procs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    #: ``(kind, payload)``: ``("stdout"|"stderr", str)``, ``("result", dict)``,
    #: ``("error", dict)``.
    OnEvent = Callable[[str, Any], None]

#: The languages of the official client (0.17+), and its aliases (any case). The SDK
#: applies the same rules (agentbay/_core/code_languages.py); this code runs in sessions,
#: which never import the SDK.
LANGUAGES = ("python", "javascript", "r", "java")
ALIASES = {
    "py": "python",
    "python3": "python",
    "js": "javascript",
    "node": "javascript",
    "nodejs": "javascript",
}
#: The languages whose driver reads a cell as a line of hex (kernel_r.R, kernel_java.java).
HEX_LANGUAGES = frozenset({"r", "java"})
#: How messages name each language.
LANGUAGE_NAMES = {"python": "Python", "javascript": "JavaScript", "r": "R", "java": "Java"}
#: stdout and stderr kept per cell, together; the rest is read and dropped (and said).
MAX_LOG_BYTES = 8 * 1024 * 1024
#: Results kept per cell, together (their formats encoded).
MAX_RESULTS_BYTES = 48 * 1024 * 1024
#: How long an interrupted cell may take to stop before its kernel is killed.
INTERRUPT_GRACE_S = 3.0
#: How long a kernel may take to start (a JVM's jshell is the slowest).
START_TIMEOUT_S = 60.0


class KernelError(Exception):
    """A kernel could not be used (no interpreter, it could not start); the text says why."""


def canonical_language(language: str) -> str | None:
    """The official client's language name for ``language`` (any case, aliases), or None."""
    name = language.strip().lower()
    name = ALIASES.get(name, name)
    return name if name in LANGUAGES else None


def unsupported_message(language: str) -> str:
    """The official client's message for a language it does not know."""
    return (
        f"Unsupported language: {language}. Supported languages are 'python', 'javascript', "
        "'r', and 'java'"
    )


class Execution:
    """One cell's outcome: output chunks in order, results, the error, the count."""

    def __init__(self) -> None:
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.results: list[dict[str, Any]] = []
        self.error: dict[str, str] | None = None
        self.execution_count: int | None = None
        self.execution_time = 0.0
        self.timed_out = False
        self.log_bytes = 0
        self.dropped_bytes = 0
        self.results_bytes = 0


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Kernel:
    """One running kernel process and its three pipes; one cell at a time."""

    def __init__(
        self,
        language: str,
        argv: list[str],
        reaper: procs.Reaper,
        env: Mapping[str, str],
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        self.language = language
        self._reaper = reaper
        self.alive = False
        self.exit_note = ""
        command_r, self._commands = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        events_r, events_w = os.pipe()
        try:
            self.pid = reaper.spawn(argv, env, out_w, err_w, stdin=command_r, fd3=events_w)
        except OSError:
            for fd in (command_r, self._commands, out_r, err_r, events_r):
                os.close(fd)
            raise
        finally:
            for fd in (command_r, out_w, err_w, events_w):
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._streams = {out_r: "stdout", err_r: "stderr"}
        self._decoders = {
            fd: codecs.getincrementaldecoder("utf-8")("replace") for fd in self._streams
        }
        self._events = events_r
        self._pending = b""
        self.alive = True
        deadline = time.monotonic() + start_timeout_s
        startup = Execution()
        while True:
            event = self._next_event(startup, deadline, None)
            if event is None:
                if self.alive:
                    self.exit_note = f"not ready within {start_timeout_s:g} s"
                self.close()
                output = "".join(startup.stderr + startup.stdout).strip()
                raise KernelError(
                    f"the {LANGUAGE_NAMES[language]} kernel did not start ({self.exit_note})"
                    + (f": {output[-2000:]}" if output else "")
                )
            if "ready" in event:
                return

    def execute(
        self, code: str, timeout_s: float, on_event: OnEvent | None, started: float | None = None
    ) -> Execution:
        """Run one cell (see the module's description); its time limit counts from
        ``started`` (a ``time.monotonic()``; now by default)."""
        execution = Execution()
        started = time.monotonic() if started is None else started
        # If it died meanwhile, the event loop below sees its end.
        with contextlib.suppress(OSError):
            os.write(self._commands, self._command_line(code))
        deadline = started + timeout_s
        interrupted = False
        while True:
            event = self._next_event(execution, deadline, on_event)
            if event is None:
                if self.alive and not interrupted:
                    # Over time: interrupt the cell, then give it a moment to stop.
                    interrupted = execution.timed_out = True
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.pid, signal.SIGINT)
                    deadline = time.monotonic() + INTERRUPT_GRACE_S
                    continue
                if self.alive:  # it did not stop: end it, and its state with it
                    self.close()
                    self.exit_note = "it did not stop when interrupted and was killed"
                execution.error = self._lost_error(execution, timeout_s)
                break
            if "done" in event:
                execution.execution_count = event["done"]
                break
            if "result" in event:
                self._add_result(execution, event, on_event)
            elif "error" in event and isinstance(event["error"], dict):
                execution.error = {
                    key: str(event["error"].get(key, "")) for key in ("name", "value", "traceback")
                }
        execution.execution_time = time.monotonic() - started
        if execution.timed_out and self.alive:
            execution.error = {
                "name": "TimeoutError",
                "value": (
                    f"the code ran longer than its timeout_s={timeout_s:g} s and was "
                    "interrupted; the kernel and its variables are kept"
                ),
                "traceback": (execution.error or {}).get("traceback", ""),
            }
        if execution.dropped_bytes:
            note = (
                f"\n[output truncated: {execution.dropped_bytes} more bytes of stdout/stderr "
                f"were dropped; at most {MAX_LOG_BYTES} bytes are kept per call]\n"
            )
            execution.stderr.append(note)
        if execution.error is not None and on_event is not None:
            on_event("error", execution.error)
        return execution

    def _command_line(self, code: str) -> bytes:
        """One cell as its driver reads it: a JSON line, or a line of hex for the drivers
        whose language has no JSON reader at hand."""
        encoded = code.encode("utf-8", "surrogatepass")
        if self.language in HEX_LANGUAGES:
            return encoded.hex().encode("ascii") + b"\n"
        return json.dumps({"code": code}).encode() + b"\n"

    def _lost_error(self, execution: Execution, timeout_s: float) -> dict[str, str]:
        when = (
            f"after its timeout_s={timeout_s:g} s"
            if execution.timed_out
            else "while running this code"
        )
        return {
            "name": "KernelDied",
            "value": (
                f"the {LANGUAGE_NAMES[self.language]} kernel ended {when} ({self.exit_note}); "
                "the next call starts a new kernel: the variables, imports and functions of "
                "earlier calls are lost"
            ),
            "traceback": "",
        }

    def _add_result(
        self, execution: Execution, event: dict[str, Any], on_event: OnEvent | None
    ) -> None:
        bundle = event["result"] if isinstance(event["result"], dict) else {}
        result = dict(bundle, isMainResult=bool(event.get("main")))
        for mime in [key for key in result if key.endswith(";hex")]:
            # A driver without base64 (R) sends bytes as hex.
            try:
                data = bytes.fromhex(str(result.pop(mime)))
            except ValueError:
                continue
            result[mime.removesuffix(";hex")] = base64.b64encode(data).decode("ascii")
        size = len(json.dumps(result))
        if execution.results_bytes + size > MAX_RESULTS_BYTES:
            result = {
                "text/plain": (
                    f"[result dropped: {size} bytes; at most {MAX_RESULTS_BYTES} bytes of "
                    "results are kept per call]"
                ),
                "isMainResult": result["isMainResult"],
            }
            size = len(json.dumps(result))
        execution.results_bytes += size
        execution.results.append(result)
        if on_event is not None:
            on_event("result", result)

    def _next_event(
        self, execution: Execution, deadline: float, on_event: OnEvent | None
    ) -> dict[str, Any] | None:
        """The next event line; output read meanwhile goes to ``execution``. None: the
        deadline passed, or the kernel ended (``alive`` is then False)."""
        while True:
            newline = self._pending.find(b"\n")
            if newline >= 0:
                line, self._pending = self._pending[:newline], self._pending[newline + 1 :]
                # Output written before the event is in its pipe already: take it first.
                self._drain(execution, on_event)
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict):
                    return event
                continue
            if not self.alive:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._events, *self._streams], [], [], remaining)
            for fd in ready:
                if fd != self._events and fd not in self._streams:
                    continue  # closed meanwhile: the kernel ended
                if fd == self._events:
                    chunk = os.read(fd, 1 << 16)
                    if chunk:
                        self._pending += chunk
                    else:
                        self._drain(execution, on_event)
                        self._ended()
                else:
                    self._read_stream(fd, execution, on_event)

    def _ended(self) -> None:
        code = self._reaper.wait(self.pid, 2.0)
        self.exit_note = _describe_exit(code)
        self.close()

    def _drain(self, execution: Execution, on_event: OnEvent | None) -> None:
        for fd in list(self._streams):
            # Bounded: a background process writing without end must not hold the cell.
            for _ in range(64):
                if not select.select([fd], [], [], 0)[0]:
                    break
                if not self._read_stream(fd, execution, on_event):
                    break

    def _read_stream(self, fd: int, execution: Execution, on_event: OnEvent | None) -> bool:
        try:
            data = os.read(fd, 1 << 16)
        except OSError:
            data = b""
        if not data:  # it closed its end (os.close(1)): stop watching this pipe
            self._streams.pop(fd, None)
            with contextlib.suppress(OSError):
                os.close(fd)
            return False
        kind = self._streams[fd]
        keep = max(0, MAX_LOG_BYTES - execution.log_bytes)
        execution.log_bytes += min(keep, len(data))
        execution.dropped_bytes += max(0, len(data) - keep)
        text = self._decoders[fd].decode(data[:keep]) if keep else ""
        if text:
            getattr(execution, kind).append(text)
            if on_event is not None:
                on_event(kind, text)
        return True

    def close(self) -> None:
        """End the kernel process (and what it started) and close its pipes."""
        if self.alive or self._events >= 0:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
        self.alive = False
        for fd in (self._commands, self._events, *self._streams):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._commands = self._events = -1
        self._streams = {}


class Kernels:
    """The session's kernels by language, each used by one call at a time."""

    def __init__(self, reaper: procs.Reaper, env: Mapping[str, str]) -> None:
        self._reaper = reaper
        self._env = env
        self._kernels: dict[str, Kernel] = {}
        self._lost: dict[str, str] = {}
        self._locks = {language: threading.Lock() for language in LANGUAGES}

    def execute(
        self, language: str, code: str, timeout_s: float, on_event: OnEvent | None = None
    ) -> Execution:
        """Run ``code`` in the kernel of ``language`` (canonical name), starting one if
        needed. Raises KernelError when no kernel can run."""
        started = time.monotonic()
        with self._locks[language]:
            kernel = self._kernels.get(language)
            notice = ""
            if kernel is None or not kernel.alive:
                if kernel is not None:
                    notice = (
                        f"[the earlier {LANGUAGE_NAMES[language]} kernel ended "
                        f"({kernel.exit_note}); this is a new kernel: the variables, imports "
                        "and functions of earlier calls are lost]\n"
                    )
                kernel = self._kernels[language] = self._start(language, timeout_s)
            # A kernel's start counts against the call's time limit.
            execution = kernel.execute(code, timeout_s, on_event, started)
            if notice:
                execution.stderr.insert(0, notice)
            return execution

    def interrupt(self, language: str) -> None:
        """SIGINT the cell running in the kernel of ``language``, as its time limit does (the
        session WebSocket's client went away: nobody reads the cell's output any more)."""
        kernel = self._kernels.get(language)
        if kernel is not None and kernel.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(kernel.pid, signal.SIGINT)

    def restart(self, language: str) -> bool:
        """End the kernel of ``language`` (the next call starts a new one); whether one ran."""
        with self._locks[language]:
            kernel = self._kernels.pop(language, None)
            if kernel is None:
                return False
            kernel.close()
            return True

    def close(self) -> None:
        """End every kernel."""
        for language in LANGUAGES:
            self.restart(language)

    def _start(self, language: str, timeout_s: float) -> Kernel:
        argv = _command(language, self._env)
        try:
            return Kernel(language, argv, self._reaper, self._env, min(START_TIMEOUT_S, timeout_s))
        except OSError as exc:
            raise KernelError(
                f"the {LANGUAGE_NAMES[language]} kernel could not start: {exc}"
            ) from None
        finally:
            if language == "java":  # the driver's source file: read once the JVM started
                shutil.rmtree(os.path.dirname(argv[-1]), ignore_errors=True)


def _driver_source(name: str) -> str:
    with open(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), name), encoding="utf-8"
    ) as handle:
        return handle.read()


def _command(language: str, env: Mapping[str, str]) -> list[str]:
    """The kernel's command line: the session's interpreter running the driver's source."""
    if language == "python":
        python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else None
        python = python or procs.which("python3", env)
        if python is None:
            raise KernelError("no python3 in this session")
        return [python, "-c", _driver_source("kernel_python.py")]
    if language == "javascript":
        node = procs.which("node", env) or procs.which("nodejs", env)
        if node is None:
            raise KernelError("no node (Node.js) in this session")
        return [node, "-e", _driver_source("kernel_javascript.js")]
    if language == "r":
        rscript = procs.which("Rscript", env)
        if rscript is None:
            raise KernelError("no R (Rscript) in this session")
        return [rscript, "--vanilla", "-e", _driver_source("kernel_r.R")]
    if language == "java":
        java = procs.which("java", env)
        if java is None or procs.which("jshell", env) is None:
            raise KernelError("no JDK (java and jshell) in this session")
        # Source-file mode reads a file: the driver is written into the session first.
        directory = tempfile.mkdtemp(prefix=".agentbay-kernel-")
        path = os.path.join(directory, "KernelJava.java")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(_driver_source("kernel_java.java"))
        return [java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto", path]
    raise KernelError(f"no {language} kernel in this session")
