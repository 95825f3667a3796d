"""The ``shell`` and ``run_code`` tools (stdlib only; runs inside the sandbox).

Text formats follow the AgentBay wire contract (c.2, c.3): success returns the program's
output; failure and timeout are tool errors whose text starts with
``Execution failed. Error code:<n> Error message: ...`` (``-1`` and ``[timeout]`` on
timeout), which is what the official SDK surfaces to users.
"""

from __future__ import annotations

import contextlib
import itertools
import os

from . import procs
from . import tool_args as ta

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Protocol

    class Context(Protocol):
        """What the exec tools need from the tool server."""

        @property
        def reaper(self) -> procs.Reaper: ...

        @property
        def env(self) -> Mapping[str, str]: ...


_counter = itertools.count()


def failure(result: procs.RunResult, timeout_note: str) -> ta.ToolError:
    """The tool error of a failed or timed-out program; what it printed is kept.

    ``[timeout]`` stays first after the 0.9 prefix (callers match on it); ``timeout_note``
    names the limit and how to raise it.
    """
    output, errors = result.out(), result.err()
    code = -1 if result.timed_out or result.exit_code is None else result.exit_code
    structured = {"exit_code": code, "stdout": output, "stderr": errors}
    if result.timed_out:
        message = f"[timeout]{timeout_note}"
        if output:
            message += f"\nOutput: {output}"
        if errors:
            message += f"\nStderr: {errors}"
        structured["timed_out"] = True
        return ta.ToolError(f"Execution failed. Error code:-1 Error message: {message}", structured)
    message = errors
    if output:
        message = f"{message}\nOutput: {output}" if message else output
    return ta.ToolError(
        f"Execution failed. Error code:{result.exit_code} Error message: {message}", structured
    )


def _success_text(result: procs.RunResult) -> str:
    output = result.out()
    # Programs that report only on stderr (e.g. `python --version` on old versions).
    text = output if output or not result.stderr else result.err()
    structured = {"exit_code": 0, "stdout": output, "stderr": result.err()}
    return ta.StructuredText(text, structured)


def shell_program(
    args: dict[str, Any], env: Mapping[str, str]
) -> tuple[list[str], Mapping[str, str], float]:
    """The argv, environment and timeout (seconds) of ``args``' shell command
    (``command``, ``timeout_ms``, ``cwd``, ``envs``)."""
    command = ta.text(args, "command")
    timeout_ms = ta.number(args, "timeout_ms", 1000.0)
    if timeout_ms <= 0:
        raise ta.ToolError("Invalid arguments: 'timeout_ms' must be positive")
    envs = args.get("envs")
    if envs is not None:
        if not isinstance(envs, dict) or not all(
            isinstance(key, str) and key and isinstance(value, str) for key, value in envs.items()
        ):
            raise ta.ToolError("Invalid arguments: 'envs' must be an object of strings")
        env = {**env, **envs}
    cwd = ta.text(args, "cwd", "")
    if cwd:
        # `cd` in the command itself: its failure is the command's (exit 1, the reason on
        # stderr), as a shell user sees it.
        quoted = "'" + cwd.replace("'", "'\\''") + "'"
        command = f"cd -- {quoted} || exit 1\n{command}"
    shell_path = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
    return [shell_path, "-c", command], env, timeout_ms / 1000


def shell_timeout_note(timeout_s: float) -> str:
    """What a command that ran out of time is told (after ``[timeout]``)."""
    return (
        f" the command ran longer than its timeout_ms={timeout_s * 1000:g} ms and was stopped;"
        " pass a larger timeout_ms, e.g. execute_command(command, timeout_ms=60000)"
        " (the 0.9 API's default is 1000 ms)"
    )


def shell(args: dict[str, Any], ctx: Context) -> str:
    """Run ``command`` with bash (or sh) in the session's home directory, or in ``cwd``,
    with ``envs`` added to the session's environment for this command (0.13+)."""
    argv, env, timeout_s = shell_program(args, ctx.env)
    result = _run(ctx, argv, timeout_s, env)
    if result.timed_out or result.exit_code != 0:
        raise failure(result, shell_timeout_note(timeout_s))
    return _success_text(result)


def code_script(args: dict[str, Any], env: Mapping[str, str]) -> tuple[list[str], str]:
    """The argv running ``args``' code (``code``, ``language``) and the temporary file it
    was written to (the caller removes it)."""
    code = ta.text(args, "code")
    language = ta.text(args, "language", "python").lower()
    if language == "python":
        interpreter = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else None
        interpreter = interpreter or procs.which("python3", env)
        suffix = ".py"
    elif language in ("javascript", "js", "node"):
        interpreter = procs.which("node", env) or procs.which("nodejs", env)
        suffix = ".js"
    else:
        raise ta.ToolError(
            f"Unsupported language: {language}. Supported languages are 'python' and 'javascript'"
        )
    if interpreter is None:
        raise ta.ToolError(f"Execution failed: no {language} interpreter in this session")
    # A file, not `-c`: one argv string is limited to 128 KiB by the kernel.
    directory = "/tmp" if os.path.isdir("/tmp") else os.getcwd()
    script = os.path.join(directory, f".agentbay-run-{os.getpid()}-{next(_counter)}{suffix}")
    try:
        fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(fd, "w", encoding="utf-8", errors="surrogatepass") as handle:
            handle.write(code)
    except OSError as exc:
        raise ta.os_error(exc, "open", script) from None
    return [interpreter, script], script


def code_timeout_note(timeout_s: float) -> str:
    """What a program that ran out of time is told (after ``[timeout]``)."""
    return (
        f" the code ran longer than its timeout_s={timeout_s:g} s and was stopped;"
        " pass a larger timeout_s, e.g. run_code(code, language, timeout_s=300)"
    )


def run_code(args: dict[str, Any], ctx: Context) -> str:
    """Run a Python or JavaScript program from a temporary file; output is its stdout."""
    timeout_s = ta.number(args, "timeout_s", 60.0)
    if timeout_s <= 0:
        raise ta.ToolError("Invalid arguments: 'timeout_s' must be positive")
    argv, script = code_script(args, ctx.env)
    try:
        result = _run(ctx, argv, timeout_s)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(script)
    if result.timed_out or result.exit_code != 0:
        raise failure(result, code_timeout_note(timeout_s))
    return _success_text(result)


def _run(
    ctx: Context, argv: list[str], timeout_s: float, env: Mapping[str, str] | None = None
) -> procs.RunResult:
    try:
        return procs.run(ctx.reaper, argv, ctx.env if env is None else env, timeout_s)
    except OSError as exc:
        # EAGAIN here is almost always the session's pids limit.
        raise ta.ToolError(f"Execution failed. Error code:-1 Error message: {exc}") from None
