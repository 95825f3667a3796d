"""This project's SDK on the session's code kernels, sync and async, against the runtime:
state across calls, rich results (a DataFrame, a figure), errors, restart, language names;
and the negotiation rule (a 0.9.3-shaped call keeps the plain text).

A check needing a library or language the session's image lacks is skipped (or left out,
printing why), naming it.
"""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from agentbay import AgentBay, AsyncAgentBay, Config
from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.api import Api
from tests.runtime.e2e.conftest import API_KEY


def has(session: object, probe: str) -> bool:
    """Whether a shell command succeeds in the session (what its image has)."""
    ran = session.command.execute_command(probe, timeout_ms=20000)  # type: ignore[attr-defined]
    return bool(ran.success)


def test_sdk_state_results_errors_and_restart(bay: AgentBay) -> None:
    session = bay.create().session
    try:
        code = session.code
        first = code.run_code("x = 41\nprint('hi')\nx + 1", "Python")
        assert first.success and first.execution_count == 1
        assert first.logs.stdout == ["hi\n"] and first.logs.stderr == []
        assert [(r.text, r.is_main_result) for r in first.results] == [("42", True)]
        assert first.result == "hi\n42"  # the 0.9 API's text: stdout, then the main result
        assert code.run_code("x", "py").result == "41"

        failed = code.run_code("1 / 0", "python3")
        assert failed.success is False and failed.error is not None
        assert (failed.error.name, failed.error.value) == ("ZeroDivisionError", "division by zero")
        assert 'File "<cell>", line 1' in failed.error.traceback

        rich = code.run_code(
            "class Doc:\n    def _repr_markdown_(self): return '# title'\nDoc()", "python"
        )
        assert rich.results[0].markdown == "# title"
        assert rich.results[0].formats() == ["text", "markdown"]

        restarted = code.restart("PYTHON")
        assert restarted.success and restarted.data is True
        after = code.run_code("x", "python")
        assert after.error is not None and after.error.name == "NameError"
        assert after.execution_count == 1

        unknown = code.run_code("puts 1", "ruby")
        assert unknown.success is False
        assert unknown.error_message == (
            "Unsupported language: ruby. Supported languages are 'python', 'javascript', 'r', "
            "and 'java'"
        )
        assert code.restart("cobol").error_message.startswith("Unsupported language: cobol.")
        if has(session, "command -v node"):
            assert code.run_code("let s = 'js'; s + '!'", "NodeJS").result == "'js!'"
        else:
            print("JavaScript not checked: the session's image has no node")
    finally:
        session.delete()


def test_sdk_dataframe_and_figure(bay: AgentBay) -> None:
    session = bay.create().session
    try:
        if not has(session, "python3 -c 'import pandas, matplotlib'"):
            pytest.skip("the session's image has no pandas and matplotlib")
        frame = session.code.run_code(
            "import pandas as pd\npd.DataFrame({'city': ['Oslo', 'Rome'], 'n': [1, 2]})",
            "python",
        )
        (table,) = frame.results
        assert table.is_main_result and "<table" in (table.html or "") and "Oslo" in table.text
        figure = session.code.run_code(
            "import matplotlib.pyplot as plt\nplt.bar(['a', 'b'], [3, 5])\nplt.title('t')\n"
            "plt.show()",
            "python",
        )
        (shown,) = [r for r in figure.results if r.png]
        assert base64.b64decode(shown.png or "")[:8] == b"\x89PNG\r\n\x1a\n"
        assert shown.chart is not None and shown.chart["type"] == "bar"
        assert [(e["label"], e["value"]) for e in shown.chart["elements"]] == [("a", 3), ("b", 5)]
    finally:
        session.delete()


def test_async_sdk_keeps_state(runtime: EmbeddedRuntime) -> None:
    async def main() -> None:
        cfg = Config(endpoint=runtime.endpoint, timeout_ms=60000)
        async with AsyncAgentBay(api_key=API_KEY, cfg=cfg) as bay:
            session = (await bay.create()).session
            try:
                await session.code.run_code("total = 2", "python")
                answer = await session.code.run_code("total * 21", "PY")
                assert answer.success and answer.result == "42"
                assert (await session.code.restart("python")).data is True
                assert (await session.code.run_code("'total' in dir()", "python")).result == (
                    "False"
                )
            finally:
                await session.delete()

    asyncio.run(main())


def test_the_answer_is_negotiated_by_autogensession(api: Api, session_id: str) -> None:
    args = json.dumps({"code": "print('plain')\n1 + 1", "language": "python", "timeout_s": 30})
    # 0.9.3 sends no AutoGenSession: the program's output as text, from a process per call.
    plain = api.call("CallMcpTool", SessionId=session_id, Name="run_code", Args=args)
    assert plain["content"][0]["text"] == "plain\n"
    # 0.13+ send it: the session's kernel and the rich JSON object.
    rich = api.call(
        "CallMcpTool", SessionId=session_id, Name="run_code", Args=args, AutoGenSession="False"
    )
    answer = json.loads(rich["content"][0]["text"])
    assert answer["stdout"] == ["plain\n"] and answer["executionError"] == ""
    assert [json.loads(item) for item in answer["result"]] == [
        {"text/plain": "2", "isMainResult": True}
    ]
    assert rich["isError"] is False
