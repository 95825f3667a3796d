"""The tool timeout rule: one catalogue entry, read by the SDK and by the runtime."""

from __future__ import annotations

import pytest

from agentbay._core.timeouts import (
    ANSWER_SLACK_S,
    DEFAULT_IN_SESSION_DEADLINE_S,
    IN_SESSION_SLACK_S,
    MAX_TOOL_TIMEOUT_S,
    ToolTimeout,
    client_deadline_s,
    in_session_deadline_s,
)
from agentbay._rendered import tools as _tools
from agentbay_local.protocol import description


def test_the_sdk_and_the_runtime_read_the_same_entries() -> None:
    runtime = {name: tool.timeout for name, tool in description.load().tools.items()}
    assert {name: t for name, t in runtime.items() if t is not None} == _tools.TOOL_TIMEOUTS
    assert _tools.TOOL_TIMEOUTS["shell"] == ToolTimeout("timeout_ms", "ms", 1000.0)
    assert _tools.TOOL_TIMEOUTS["run_code"] == ToolTimeout("timeout_s", "s", 60.0)


@pytest.mark.parametrize(
    ("name", "args", "own_s"),
    [
        ("shell", {"command": "true", "timeout_ms": 120_000}, 120.0),
        ("shell", {"command": "true"}, 1.0),  # the argument's default
        ("run_code", {"code": "1", "timeout_s": 300}, 300.0),
        ("shell", {"command": "true", "timeout_ms": 10**12}, MAX_TOOL_TIMEOUT_S),
    ],
)
def test_deadlines_follow_the_tool_s_own_timeout(
    name: str, args: dict[str, object], own_s: float
) -> None:
    timeout = _tools.TOOL_TIMEOUTS[name]
    assert in_session_deadline_s(timeout, args) == own_s + IN_SESSION_SLACK_S
    assert client_deadline_s(timeout, args, 0.0) == own_s + IN_SESSION_SLACK_S + ANSWER_SLACK_S
    # The client never gives up before its own request timeout.
    assert client_deadline_s(timeout, args, 1000.0) == max(1000.0, own_s + 10.0)


@pytest.mark.parametrize("value", [0, -5, "5000", True, None])
def test_a_timeout_that_is_not_a_positive_number_falls_back(value: object) -> None:
    timeout = _tools.TOOL_TIMEOUTS["shell"]
    args = {"command": "true", "timeout_ms": value}
    assert in_session_deadline_s(timeout, args) == DEFAULT_IN_SESSION_DEADLINE_S
    assert client_deadline_s(timeout, args, 60.0) == 60.0


def test_tools_without_a_timeout_get_the_defaults() -> None:
    assert "read_file" not in _tools.TOOL_TIMEOUTS
    assert in_session_deadline_s(None, {"timeout_ms": 999_000}) == DEFAULT_IN_SESSION_DEADLINE_S
    assert client_deadline_s(None, {"timeout_ms": 999_000}, 60.0) == 60.0


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ({"argument": "timeout_ms", "unit": "minutes"}, "not ms or s"),
        ({"argument": "deadline", "unit": "ms"}, "unknown"),
    ],
)
def test_a_wrong_catalogue_entry_is_refused(entry: dict[str, str], complaint: str) -> None:
    tool = {
        "name": "t",
        "inputSchema": {"properties": {"timeout_ms": {"type": "integer"}}},
        "timeout": entry,
    }
    with pytest.raises(ValueError, match=complaint):
        ToolTimeout.from_catalogue(tool)
