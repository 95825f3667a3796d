"""The tool timeout rule, once, for the SDK and the local runtime.

A tool of the catalogue (``x-mcp-tools`` in openapi/agentbay.yaml) may name the argument that
carries its own timeout, and that argument's unit::

    - name: shell
      timeout: {argument: timeout_ms, unit: ms}

The argument's schema ``default`` is the timeout when a call leaves it out. From that one
entry:

* the runtime stops waiting for the tool ``IN_SESSION_SLACK_S`` after the tool's own timeout
  (``in_session_deadline_s``), so the tool reports its own timeout first;
* the SDK stops waiting for the answer ``ANSWER_SLACK_S`` after that
  (``client_deadline_s``), so the runtime's answer arrives first.

Stdlib only: the SDK imports it without the runtime's dependencies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

#: Seconds per unit of a timeout argument.
UNITS: Final = {"ms": 0.001, "s": 1.0}
#: Longest tool timeout honoured (a larger value is taken as this).
MAX_TOOL_TIMEOUT_S: Final = 24 * 3600.0
#: How much longer than its own timeout the runtime waits for a tool.
IN_SESSION_SLACK_S: Final = 5.0
#: How much longer than the runtime the SDK waits for the answer to come back.
ANSWER_SLACK_S: Final = 5.0
#: How long the runtime waits for a tool that has no timeout of its own.
DEFAULT_IN_SESSION_DEADLINE_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class ToolTimeout:
    """Which argument of a tool carries its timeout, in what unit, and its default.

    Attributes:
        argument: the argument's name, e.g. ``timeout_ms``.
        unit: ``"ms"`` or ``"s"``.
        default: the argument's default, in ``unit`` (None when it has none).
    """

    argument: str
    unit: str
    default: float | None = None

    @classmethod
    def from_catalogue(cls, tool: Mapping[str, Any]) -> ToolTimeout | None:
        """The timeout of a catalogue entry (None for a tool without one).

        Raises:
            ValueError: the entry names an argument the tool does not have, or an unknown unit.
        """
        entry = tool.get("timeout")
        if entry is None:
            return None
        properties = tool.get("inputSchema", {}).get("properties", {})
        argument, unit = entry.get("argument"), entry.get("unit")
        if argument not in properties:
            raise ValueError(f"tool {tool.get('name')}: timeout argument {argument!r} is unknown")
        if unit not in UNITS:
            raise ValueError(f"tool {tool.get('name')}: timeout unit {unit!r} is not ms or s")
        default = properties[argument].get("default")
        return cls(argument, unit, float(default) if default is not None else None)

    def value(self, args: Mapping[str, Any]) -> float | None:
        """The timeout a call asks for, in the argument's unit (its default when left out)."""
        value = args.get(self.argument)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
        return self.default if self.argument not in args else None

    def seconds(self, args: Mapping[str, Any]) -> float | None:
        """The tool's own timeout of a call in seconds (None when it has none)."""
        value = self.value(args)
        if value is None:
            return None
        return min(value * UNITS[self.unit], MAX_TOOL_TIMEOUT_S)


def in_session_deadline_s(timeout: ToolTimeout | None, args: Mapping[str, Any]) -> float:
    """How long the runtime waits for one tool call."""
    own = timeout.seconds(args) if timeout is not None else None
    return DEFAULT_IN_SESSION_DEADLINE_S if own is None else own + IN_SESSION_SLACK_S


def client_deadline_s(
    timeout: ToolTimeout | None, args: Mapping[str, Any], default_s: float
) -> float:
    """How long the SDK waits for the answer of one tool call (at least ``default_s``)."""
    own = timeout.seconds(args) if timeout is not None else None
    if own is None:
        return default_s
    return max(default_s, own + IN_SESSION_SLACK_S + ANSWER_SLACK_S)
