"""What a failed or timed-out command tells an SDK user, against the real runtime."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentbay import AgentBay
from agentbay.session import Session


@pytest.fixture(scope="module")
def session(bay: AgentBay) -> Iterator[Session]:
    made = bay.create()
    assert made.success, made.error_message
    yield made.session
    made.session.delete()


def test_a_failing_commands_stdout_is_its_output(session: Session) -> None:
    result = session.command.execute_command("echo out; echo oops >&2; exit 3", 5000)
    assert result.success is False
    assert (result.output, result.stdout, result.stderr, result.exit_code) == (
        "out\n",
        "out\n",
        "oops\n",
        3,
    )
    # 0.9's text is kept: exit code, stderr, then the output.
    assert result.error_message.startswith(
        "Error in response: Execution failed. Error code:3 Error message: oops"
    )


def test_the_default_timeout_names_its_limit_and_keeps_the_output(session: Session) -> None:
    result = session.command.execute_command("echo started; sleep 5")  # the 1 s default
    assert result.success is False
    assert "[timeout] the command ran longer than its timeout_ms=1000 ms" in result.error_message
    assert "pass a larger timeout_ms, e.g. execute_command(command, timeout_ms=60000)" in (
        result.error_message
    )
    assert result.output == "started\n" and result.exit_code == -1


def test_get_of_a_released_session_says_it_once(bay: AgentBay) -> None:
    made = bay.create()
    assert made.success, made.error_message
    assert made.session.delete().success
    got = bay.get(made.session.session_id)
    assert got.success is False
    assert got.error_message.count("Failed to get session") == 1, got.error_message
    assert made.session.session_id in got.error_message
