"""``CommandResult``."""

from __future__ import annotations

from dataclasses import dataclass

from agentbay._types.response import ApiResponse


@dataclass
class CommandResult(ApiResponse):
    """``execute_command``: what the command printed.

    Attributes:
        success: the command exited with status 0 in time.
        output: its stdout (also when it failed, where the server reports it).
        error_message: why it failed (0.9's text: exit code, stderr, then its stdout).
        exit_code: its exit status (-1: stopped at its timeout); None when the server does
            not report it (the cloud), or on success.
        stdout: what it wrote to stdout, where the server reports it separately.
        stderr: what it wrote to stderr, where the server reports it separately.
    """

    success: bool = False
    output: str = ""
    error_message: str = ""
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
