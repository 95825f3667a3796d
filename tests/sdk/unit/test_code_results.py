"""``EnhancedCodeExecutionResult.from_answer``: the shapes a run_code answer comes in."""

from __future__ import annotations

import json

from agentbay.code import EnhancedCodeExecutionResult, ExecutionError


def test_the_cloud_shape_without_error_fields() -> None:
    # What the cloud sends: results as JSON strings, the error as text only.
    text = json.dumps(
        {
            "result": [
                json.dumps({"text/plain": "3", "text/html": "<b>3</b>", "isMainResult": True})
            ],
            "stdout": ["a\n"],
            "stderr": [],
            "executionError": "",
        }
    )
    got = EnhancedCodeExecutionResult.from_answer(text, "req-1")
    assert got.success and got.request_id == "req-1"
    assert got.results[0].html == "<b>3</b>" and got.result == "a\n3"
    failed = EnhancedCodeExecutionResult.from_answer(
        json.dumps({"result": [], "stdout": [], "stderr": [], "executionError": "boom"})
    )
    assert failed.success is False and failed.error == ExecutionError("ExecutionError", "boom", "")


def test_plain_text_is_stdout() -> None:
    # A VPC session's answer (the 0.9 shape), or any text that is not the JSON object.
    for text in ("hello\n", '{"not": "an answer"}', "[1, 2]"):
        got = EnhancedCodeExecutionResult.from_answer(text)
        assert got.success and got.logs.stdout == [text] and got.result == text


def test_a_vega_lite_bundle_is_a_chart() -> None:
    bundle = {"application/vnd.vegalite.v4+json": {"mark": "bar"}, "text/plain": "M"}
    text = json.dumps({"result": [json.dumps(bundle)], "stdout": [], "stderr": []})
    (chart,) = EnhancedCodeExecutionResult.from_answer(text).results
    assert chart.chart == {"mark": "bar"} and chart.formats() == ["chart", "text"]
