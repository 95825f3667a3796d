"""``PtyInfo``, ``PtyError`` and the terminal size rule, shared by ``Pty`` and its async twin."""

from __future__ import annotations

from dataclasses import dataclass

from agentbay.exceptions import AgentBayError

#: The largest number of columns or rows a terminal may have.
MAX_TERMINAL_SIZE = 500


class PtyError(AgentBayError):
    """A terminal request failed (bad size, unknown terminal, the socket broke...)."""


@dataclass(frozen=True)
class PtyInfo:
    """A terminal as ``list()`` reports it."""

    pty_session_id: str
    status: str = "running"


def check_size(cols: int, rows: int) -> None:
    """Refuse a terminal size outside 1..``MAX_TERMINAL_SIZE`` (``PtyError``)."""
    if not (0 < cols <= MAX_TERMINAL_SIZE and 0 < rows <= MAX_TERMINAL_SIZE):
        raise PtyError(
            f"Invalid terminal size: cols={cols}, rows={rows} (must be 1-{MAX_TERMINAL_SIZE})"
        )
