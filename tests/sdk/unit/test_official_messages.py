"""Messages a caller can see, word for word as wuying-agentbay-sdk 0.9.3 words them (run_code's
as today's official client does: it names the four languages the kernels run).

Code written for the official client matches on these texts (its own integration tests do).
The expected texts are copied from the 0.9.3 package;
tests/runtime/e2e/test_official_client.py checks
them against the installed official client as well.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentbay import AgentBay, Config
from tests.support.message_probes import probe_messages

_WILDCARD = (
    "Wildcard patterns are not supported in {}. Got: {}. Please use exact directory paths instead."
)
_LIFECYCLES = (
    "Lifecycle_1Day, Lifecycle_3Days, Lifecycle_5Days, Lifecycle_10Days, Lifecycle_15Days, "
    "Lifecycle_30Days, Lifecycle_90Days, Lifecycle_180Days, Lifecycle_360Days, Lifecycle_Forever"
)
EXPECTED = {
    "white_list_path": ("ValueError", _WILDCARD.format("path", "/data/*.json")),
    "white_list_exclude_paths": ("ValueError", _WILDCARD.format("exclude_paths", "*.log")),
    "recycle_policy_paths": (
        "ValueError",
        _WILDCARD.format("recycle policy paths", "/invalid/path?"),
    ),
    "recycle_policy_lifecycle": (
        "ValueError",
        f"Invalid lifecycle value: invalid_lifecycle. Valid values are: {_LIFECYCLES}",
    ),
    "recycle_policy_both": (
        "ValueError",
        f"Invalid lifecycle value: 1day. Valid values are: {_LIFECYCLES}",
    ),
    "get_empty_id": ("", "session_id is required"),
    "get_blank_id": ("", "session_id is required"),
    "list_page_zero": ("", "Cannot reach page 0: Page number must be >= 1"),
    "link_port": (
        "SessionError",
        "Invalid port value: 80. Port must be an integer in the range [30100, 30199].",
    ),
    "write_mode": ("", "Invalid write mode: insert. Must be 'overwrite' or 'append'."),
    # Today's official client's (0.17+): the session's kernels run four languages now.
    "run_code_language": (
        "",
        "Unsupported language: ruby. Supported languages are 'python', 'javascript', 'r', "
        "and 'java'",
    ),
}


@pytest.fixture
def bay() -> Iterator[AgentBay]:
    # Every probe is refused before a request; the endpoint is a closed loopback port anyway.
    with AgentBay(api_key="k", cfg=Config(endpoint="http://127.0.0.1:9", timeout_ms=2000)) as bay:
        yield bay


def test_messages_are_word_for_word_those_of_0_9_3(bay: AgentBay) -> None:
    got = {name: (o["raised"], o["message"]) for name, o in probe_messages(bay).items()}
    assert got == EXPECTED
