"""Hostile input, generated: every action of the description and every tool of the catalogue.

Hypothesis builds forms from each action's request schema and tool arguments from each
tool's input schema, then spoils them: wrong types, huge and empty strings, control
characters, broken UTF-8 (raw bytes in the form), bad JSON in JSON-string fields, negative
and huge numbers, path tricks. Whatever arrives, the runtime must answer within the
request's timeout with an answer the description allows (the action's 200 schema or the
error envelope, never a 5xx or a traceback), and stay up.

The number of cases per action is bounded so the suite stays fast;
``AGENTBAY_HOSTILE_EXAMPLES=500`` (say) runs more.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentbay_local.runtime import RuntimeOptions
from agentbay_local.server import EmbeddedRuntime, start_in_thread
from tests.runtime.e2e.api import Api, response_schema, validate_answer
from tests.sdk.contract.wire import description, request_schema

API_KEY = "akm-hostile-key"
EXAMPLES = int(os.environ.get("AGENTBAY_HOSTILE_EXAMPLES", "20"))
QUERY = "Format=json&Version=2025-05-06&Timestamp=2026-12-01T10%3A00%3A00Z&SignatureNonce=h"
#: Every answer must come well within this; a hang fails the test instead of the suite.
REQUEST_TIMEOUT_S = 30.0

#: Actions that end or freeze the session they name are tested on their own, away from the
#: victim session every other action is aimed at.
ENDS_OR_FREEZES = ("DeleteSessionAsync", "PauseSessionAsync", "ReleaseMcpSession")
ACTIONS = sorted(
    path.removeprefix("/#")
    for path in description()["paths"]
    if path.startswith("/#") and path.removeprefix("/#") not in ENDS_OR_FREEZES
)
TOOLS = {tool["name"]: tool for tool in description()["x-mcp-tools"]}

PATH_TRICKS = st.sampled_from(
    [
        "../../../../etc/passwd",
        "/../../root/.ssh/id_rsa",
        "/proc/1/root/etc/shadow",
        "//etc//hosts",
        "/tmp/\x00nul",
        "C:\\Windows\\system32",
        "/dev/zero",
        "/proc/self/mem",
        "~root",
        "/" + "a" * 5000,
    ]
)
NASTY_TEXT = st.one_of(
    st.just(""),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Co"]), max_size=20),
    st.sampled_from(["\x00", "\r\n\r\n", "%00", "%ff%fe", "{", "[1,", "null", "true"]),
    st.builds(lambda n: "x" * n, st.integers(min_value=10_000, max_value=120_000)),
    PATH_TRICKS,
)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**31, 2**63, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
)
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBERS, NASTY_TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


def _form_value(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    """A form value that is sometimes right for the field and usually not."""
    if schema.get("contentMediaType") == "application/json":
        plausible = JSON_VALUES.map(lambda value: json.dumps(value, allow_nan=True))
        return st.one_of(plausible, NASTY_TEXT)
    if schema.get("type") == "boolean":
        return st.one_of(st.sampled_from(["True", "False", "true", "1", "yes"]), NASTY_TEXT)
    if schema.get("type") == "integer":
        return st.one_of(NUMBERS.map(str), NASTY_TEXT)
    return NASTY_TEXT


@st.composite
def _forms(draw: st.DrawFn, action: str, session_id: str) -> bytes:
    """A urlencoded body: the key where the official client puts it, then spoiled fields."""
    _, schema = request_schema(action)
    fields: list[tuple[str, str]] = []
    if "Authorization" in schema["properties"]:
        fields.append(("Authorization", f"Bearer {API_KEY}"))
    for name, field in sorted(schema["properties"].items()):
        if name == "Authorization" or not draw(st.booleans()):
            continue
        if name == "SessionId" and draw(st.booleans()):
            fields.append((name, session_id))  # reach past the lookup into the handler
        else:
            fields.append((name, draw(_form_value(field))))
    body = urllib.parse.urlencode(fields).encode()
    spoil = draw(st.integers(min_value=0, max_value=9))
    if spoil == 0:
        body += b"&Junk=" + draw(st.binary(max_size=64))  # raw bytes: broken UTF-8 and all
    elif spoil == 1:
        body += b"&ImageId=%ff%fe%c3%28&Labels=%e2%82"  # percent-encoded broken UTF-8
    return body


@st.composite
def _tool_args(draw: st.DrawFn, tool: dict[str, Any]) -> str:
    """Arguments for a tool: its own properties with hostile values, or not JSON at all."""
    if draw(st.integers(min_value=0, max_value=7)) == 0:
        return draw(NASTY_TEXT)
    args: dict[str, Any] = {}
    for name, field in sorted(tool["inputSchema"].get("properties", {}).items()):
        if not draw(st.booleans()):
            continue
        if field.get("type") == "integer":
            args[name] = draw(st.one_of(NUMBERS, NASTY_TEXT))
        elif "path" in name:
            args[name] = draw(st.one_of(PATH_TRICKS, JSON_VALUES))
        else:
            args[name] = draw(JSON_VALUES)
    return json.dumps(args, allow_nan=True)


@pytest.fixture(scope="module")
def hostile_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRuntime]:
    """A runtime of its own: hostile deletes and releases must not hit other tests' state."""
    embedded = start_in_thread(
        RuntimeOptions(
            data_dir=tmp_path_factory.mktemp("hostile"), api_keys=[API_KEY], port=0, pool_size=1
        )
    )
    yield embedded
    embedded.stop()


@pytest.fixture(scope="module")
def hostile_api(hostile_runtime: EmbeddedRuntime) -> Iterator[Api]:
    api = Api(hostile_runtime.endpoint, API_KEY)
    yield api
    # Whatever the hostile forms created is released, and the runtime still works.
    status, answer = api.raw("ListSession", MaxResults=100)
    assert status == 200, answer
    for item in answer.get("Data") or []:
        api.raw("ReleaseMcpSession", SessionId=item["SessionId"])


@pytest.fixture(scope="module")
def victim(hostile_api: Api) -> str:
    """A real session the hostile forms and tool calls are aimed at."""
    return hostile_api.create_session(ImageId="linux_latest")


def _check(response: httpx.Response, action: str) -> dict[str, Any]:
    assert response.status_code < 500, response.text[:2000]
    assert "Traceback" not in response.text
    answer = response.json()
    validate_answer(response_schema(action, response.status_code), answer)
    return answer  # type: ignore[no-any-return]


def _post(runtime: EmbeddedRuntime, action: str, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{runtime.endpoint}/?Action={action}&{QUERY}",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=REQUEST_TIMEOUT_S,
    )


_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases every run: a failure here is never a fluke
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_answers_hostile_forms_by_the_description(
    action: str, hostile_runtime: EmbeddedRuntime, hostile_api: Api, victim: str
) -> None:
    @_SETTINGS
    @given(body=_forms(action, victim))
    def case(body: bytes) -> None:
        _check(_post(hostile_runtime, action, body), action)

    case()
    # The victim survived everything thrown at its neighbours' actions.
    assert hostile_api.text(victim, "shell", command="echo alive", timeout_ms=5000) == "alive\n"


@pytest.mark.parametrize("action", ENDS_OR_FREEZES)
def test_ending_actions_answer_hostile_forms(action: str, hostile_runtime: EmbeddedRuntime) -> None:
    @_SETTINGS
    @given(body=_forms(action, "session-notavictim00000"))
    def case(body: bytes) -> None:
        _check(_post(hostile_runtime, action, body), action)

    case()


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_every_tool_answers_hostile_arguments(
    tool: str, hostile_runtime: EmbeddedRuntime, hostile_api: Api, victim: str
) -> None:
    @_SETTINGS
    @given(args=_tool_args(TOOLS[tool]))
    def case(args: str) -> None:
        body = urllib.parse.urlencode(
            {
                "Authorization": f"Bearer {API_KEY}",
                "SessionId": victim,
                "Name": tool,
                "Args": args,
            }
        ).encode()
        answer = _check(_post(hostile_runtime, "CallMcpTool", body), "CallMcpTool")
        if answer.get("Success"):
            validate_answer("ToolResult", answer["Data"])

    case()
    assert hostile_api.text(victim, "shell", command="echo alive", timeout_ms=5000) == "alive\n"
