"""Tool answers are forwarded as received: only the exact MCP shape in ASCII JSON passes."""

from __future__ import annotations

import json

import pytest

from agentbay_local.protocol.envelope import encode, success
from agentbay_local.sandbox.answers import ToolAnswer

GOOD = b'{"content": [{"type": "text", "text": "caf\\u00e9"}], "isError": false}'


def test_a_well_formed_answer_keeps_its_bytes() -> None:
    answer = ToolAnswer.parse(GOOD)
    assert answer is not None
    assert answer.raw is GOOD
    assert answer.value == {"content": [{"type": "text", "text": "café"}], "isError": False}


def test_structured_content_passes_with_its_bytes() -> None:
    raw = (
        b'{"content": [{"type": "text", "text": "Execution failed."}], "isError": true,'
        b' "structuredContent": {"exit_code": 3, "stdout": "out", "stderr": ""}}'
    )
    answer = ToolAnswer.parse(raw)
    assert answer is not None and answer.raw is raw
    assert answer.value["structuredContent"]["exit_code"] == 3


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[]",
        b'{"content": [], "isError": false} trailing',
        b'{"content": "text", "isError": false}',
        b'{"content": [], "isError": 0}',
        b'{"content": [], "isError": false, "Success": true}',
        b'{"content": [], "isError": true, "structuredContent": "exit 1"}',
        b'{"content": [], "isError": true, "structuredContent": {}, "Success": true}',
        b'{"content": []}',
        '{"content": [{"text": "café"}], "isError": false}'.encode(),  # not ASCII
        '{"content": [], "isError": false}'.encode("utf-16-le"),  # json.loads would take it
    ],
)
def test_anything_else_is_refused(raw: bytes) -> None:
    assert ToolAnswer.parse(raw) is None


def test_the_envelope_splices_the_answer_bytes() -> None:
    answer = ToolAnswer.parse(GOOD)
    assert answer is not None
    body = encode(success("R-1", answer))
    assert GOOD in body
    decoded = json.loads(body)
    assert decoded["Data"] == answer.value
    assert decoded["RequestId"] == "R-1" and decoded["Success"] is True


def test_envelopes_without_answers_are_plain_json() -> None:
    payload = success("R-2", {"Labels": "{}"}, NextToken="n")
    assert json.loads(encode(payload)) == payload
