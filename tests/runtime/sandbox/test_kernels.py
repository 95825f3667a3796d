"""The session's code kernels (``run_cell``: run_code for today's callers) in a real
sandbox: state across calls, ordered output, errors, interrupts on timeout, a crashed
kernel, bounded output, a huge figure, restart, bad input.

A test needing a library the session's image lacks is skipped, naming it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from agentbay_local.sandbox import Sandbox
from tests.runtime.sandbox.conftest import Env


def call(box: Sandbox, env: Env, code: str, language: str = "python", **args: Any) -> Any:
    """One ``run_cell`` call's raw answer (``args`` go to the tool, ``timeout_s`` too)."""
    args = {"code": code, "language": language, **args}
    deadline = float(args.get("timeout_s") or 60) + 30
    return env.run(box.call_tool("run_cell", args, timeout_s=deadline), deadline + 10)


def cell(env: Env, box: Sandbox, code: str, language: str = "python", **args: Any) -> Any:
    """The rich answer of one cell (which must run): the text of a cell that succeeded, the
    structured content of one that raised (its text is then the error's)."""
    answer = call(box, env, code, language, **args)
    if not answer["isError"]:
        rich = json.loads(answer["content"][0]["text"])
        assert rich["error"] is None, rich
        return rich
    rich = answer["structuredContent"]
    assert rich["error"] is not None and answer["content"][0]["text"] == rich["executionError"]
    return rich


def results(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer's results, decoded (each is a JSON string on the wire)."""
    return [json.loads(item) for item in answer["result"]]


def needs_module(env: Env, box: Sandbox, module: str) -> None:
    """Skip, naming ``module``, where the session's python3 cannot import it."""
    probe = env.call(box, "shell", command=f"python3 -c 'import {module}'", timeout_ms=20000)
    if probe["isError"]:
        pytest.skip(f"the session's image has no Python module {module}")


def test_state_output_order_and_main_result(env: Env, box: Sandbox) -> None:
    first = cell(env, box, "import sys\nx = 6\nprint('a')\nprint('b', file=sys.stderr)\nx * 7")
    assert first["stdout"] == ["a\n"] and first["stderr"] == ["b\n"]
    assert results(first) == [{"text/plain": "42", "isMainResult": True}]
    assert first["executionError"] == "" and first["error"] is None
    second = cell(env, box, "x += 1\nx")
    assert results(second)[0]["text/plain"] == "7"
    assert second["execution_count"] == first["execution_count"] + 1
    # A statement last: no main result.
    assert cell(env, box, "y = x")["result"] == []


def test_error_has_name_value_and_traceback_and_keeps_state(env: Env, box: Sandbox) -> None:
    cell(env, box, "kept = 'yes'")
    answer = cell(env, box, "def f():\n    raise KeyError('k')\nf()")
    assert answer["error"]["name"] == "KeyError" and answer["error"]["value"] == "'k'"
    assert 'File "<cell>", line 2, in f' in answer["error"]["traceback"]
    assert answer["executionError"].rstrip().endswith("KeyError: 'k'")
    syntax = cell(env, box, "def (")
    assert syntax["error"]["name"] == "SyntaxError"
    assert results(cell(env, box, "kept"))[0]["text/plain"] == "'yes'"


def test_rich_formats_and_display(env: Env, box: Sandbox) -> None:
    code = (
        "class Rich:\n"
        "    def _repr_html_(self): return '<b>x</b>'\n"
        "    def _repr_markdown_(self): return '**x**'\n"
        "    def _repr_svg_(self): return '<svg/>'\n"
        "    def _repr_latex_(self): return r'$\\alpha$'\n"
        "    def _repr_json_(self): return {'a': 1}\n"
        "display('shown')\n"
        "Rich()"
    )
    shown, main = results(cell(env, box, code))
    assert shown == {"text/plain": "'shown'", "isMainResult": False}
    assert main["isMainResult"] is True
    assert main["text/html"] == "<b>x</b>" and main["text/markdown"] == "**x**"
    assert main["image/svg+xml"] == "<svg/>" and main["text/latex"] == "$\\alpha$"
    assert main["application/json"] == {"a": 1}


def test_timeout_interrupts_the_cell_and_keeps_state(env: Env, box: Sandbox) -> None:
    cell(env, box, "before = 1")
    answer = cell(env, box, "print('started', flush=True)\nwhile True:\n    pass", timeout_s=1)
    assert answer["stdout"] == ["started\n"]
    assert answer["error"]["name"] == "TimeoutError"
    assert "timeout_s=1 s" in answer["error"]["value"] and "kept" in answer["error"]["value"]
    assert "KeyboardInterrupt" in answer["executionError"]
    assert results(cell(env, box, "before"))[0]["text/plain"] == "1"


def test_a_cell_deaf_to_interrupts_is_killed_and_the_next_call_is_told(
    env: Env, box: Sandbox
) -> None:
    cell(env, box, "lost = 1")
    code = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(60)"
    answer = cell(env, box, code, timeout_s=1)
    assert answer["error"]["name"] == "KernelDied"
    assert "did not stop when interrupted" in answer["error"]["value"]
    after = cell(env, box, "lost")
    assert "a new kernel" in after["stderr"][0] and "lost" in after["stderr"][0]
    assert after["error"]["name"] == "NameError"


def test_a_crashed_kernel_is_replaced_and_says_state_was_lost(env: Env, box: Sandbox) -> None:
    cell(env, box, "gone = 1")
    crashed = cell(env, box, "import os\nos.kill(os.getpid(), 9)")
    assert crashed["error"]["name"] == "KernelDied"
    assert "killed by SIGKILL" in crashed["error"]["value"]
    after = cell(env, box, "'fresh'")
    assert "killed by SIGKILL" in after["stderr"][0] and "lost" in after["stderr"][0]
    assert results(after)[0]["text/plain"] == "'fresh'"
    assert after["execution_count"] == 1


def test_restart_gives_a_new_kernel(env: Env, box: Sandbox) -> None:
    cell(env, box, "z = 5")
    restarted = cell(env, box, "", restart=True)
    assert restarted["restarted"] is True and restarted["result"] == []
    assert cell(env, box, "'z' in dir()")["result"] == [
        json.dumps({"text/plain": "False", "isMainResult": True})
    ]


def test_kernel_runs_inside_the_session(env: Env, box: Sandbox) -> None:
    pid = results(cell(env, box, "import os\nos.getpid()"))[0]["text/plain"]
    # The session's own shell sees the kernel among its processes.
    assert "python" in env.sh(box, f"cat /proc/{pid}/cmdline | tr '\\0' ' '")


def test_hundreds_of_megabytes_of_output_are_bounded_and_said(env: Env, box: Sandbox) -> None:
    code = "import sys\nfor _ in range(300):\n    sys.stdout.write('x' * 1_000_000)\n'done'"
    answer = cell(env, box, code, timeout_s=120)
    kept = sum(len(chunk) for chunk in answer["stdout"])
    assert kept == 8 * 1024 * 1024
    assert "[output truncated:" in answer["stderr"][-1]
    assert results(answer)[0]["text/plain"] == "'done'"


def test_a_huge_figure_gets_a_clear_answer(env: Env, box: Sandbox) -> None:
    needs_module(env, box, "matplotlib")
    code = (
        "import matplotlib.pyplot as plt\n"
        "fig = plt.figure(figsize=(100, 100), dpi=100)\n"
        "fig.add_subplot().plot([1, 2])\n"
        "plt.show()"
    )
    (shown,) = results(cell(env, box, code))
    assert "10000 x 10000 pixels: not rendered" in shown["text/plain"]
    assert "image/png" not in shown


def test_bad_input(env: Env, box: Sandbox) -> None:
    assert env.error(box, "run_cell", code="", language="python") == (
        "Invalid arguments: 'code' is empty; pass the code to run"
    )
    assert env.error(box, "run_cell", code="1", language="ruby") == (
        "Unsupported language: ruby. Supported languages are 'python', 'javascript', 'r', "
        "and 'java'"
    )
    refused = call(box, env, "1", timeout_s=-1)
    assert refused["isError"] is True
    assert refused["content"][0]["text"] == "Invalid arguments: 'timeout_s' must be positive"


def needs_program(env: Env, box: Sandbox, program: str) -> None:
    """Skip, naming ``program``, where the session has no such command."""
    probe = env.call(box, "shell", command=f"command -v {program}", timeout_ms=20000)
    if probe["isError"]:
        pytest.skip(f"the session's image has no {program}")


def test_javascript_kernel_keeps_state_and_answers_rich(env: Env, box: Sandbox) -> None:
    needs_program(env, box, "node")
    first = cell(env, box, "let n = 20; console.log('js', n); console.error('e'); n + 1", "js")
    assert first["stdout"] == ["js 20\n"] and first["stderr"] == ["e\n"]
    assert results(first) == [{"text/plain": "21", "isMainResult": True}]
    assert results(cell(env, box, "n * 2", "JavaScript"))[0]["text/plain"] == "40"
    awaited = cell(env, box, "new Promise((ok) => setTimeout(() => ok({ n }), 20))", "node")
    assert results(awaited)[0]["text/plain"] == "{ n: 20 }"
    failed = cell(env, box, "null.x", "javascript")
    assert failed["error"]["name"] == "TypeError"
    assert "at <cell>:1" in failed["error"]["traceback"]
    assert "node:vm" not in failed["error"]["traceback"]  # the driver's frames are left out
    stuck = cell(env, box, "while (true) {}", "javascript", timeout_s=1)
    assert stuck["error"]["name"] == "TimeoutError"
    assert results(cell(env, box, "n", "javascript"))[0]["text/plain"] == "20"
    ended = cell(env, box, "process.exit(2)", "javascript")
    assert ended["error"]["name"] == "KernelDied" and "exit code 2" in ended["error"]["value"]
    fresh = cell(env, box, "typeof n", "javascript")
    assert "a new kernel" in fresh["stderr"][0]
    assert results(fresh)[0]["text/plain"] == "'undefined'"


def test_r_kernel_keeps_state_and_answers_rich(env: Env, box: Sandbox) -> None:
    needs_program(env, box, "Rscript")
    first = cell(env, box, "v <- c(1, 2, 3)\ncat('r says', sum(v), '\\n')\nmean(v)", "R")
    assert "".join(first["stdout"]) == "r says 6 \n"  # R writes each piece of a cat()
    assert results(first) == [{"text/plain": "[1] 2", "isMainResult": True}]
    assert results(cell(env, box, "length(v)", "r"))[0]["text/plain"] == "[1] 3"
    failed = cell(env, box, "f <- function() stop('deep')\nf()", "r")
    assert failed["error"]["value"] == "deep"
    assert failed["error"]["traceback"] == "Error in f() : deep"
    warned = cell(env, box, "as.numeric('a')", "r")
    assert warned["stderr"] == ["Warning: NAs introduced by coercion\n"]
    stuck = cell(env, box, "while (TRUE) {}", "r", timeout_s=1)
    assert stuck["error"]["name"] == "TimeoutError"
    assert results(cell(env, box, "v", "r"))[0]["text/plain"] == "[1] 1 2 3"
    # Each page a cell plots is a PNG result (cairo, no display).
    pages = results(cell(env, box, "hist(c(1, 2, 2, 3))\nplot(v)", "r"))
    assert [base64.b64decode(page["image/png"])[:4] for page in pages] == [b"\x89PNG"] * 2


def test_java_kernel_keeps_state_and_answers_rich(env: Env, box: Sandbox) -> None:
    needs_program(env, box, "jshell")
    code = 'int k = 6;\nSystem.out.println("java " + k);\nk * 7'
    first = cell(env, box, code, "Java", timeout_s=120)  # a JVM's first start is slow
    assert first["stdout"] == ["java 6\n"]
    assert results(first) == [{"text/plain": "42", "isMainResult": True}]
    assert results(cell(env, box, "k + 1", "java"))[0]["text/plain"] == "7"
    rejected = cell(env, box, 'int x = "a";', "java")
    assert rejected["error"]["name"] == "CompilationError"
    assert "incompatible types" in rejected["error"]["value"]
    thrown = cell(env, box, "String s = null; s.length()", "java")
    assert thrown["error"]["name"] == "java.lang.NullPointerException"
    stuck = cell(env, box, "while (true) {}", "java", timeout_s=1)
    assert stuck["error"]["name"] == "TimeoutError"
    assert results(cell(env, box, "k", "java"))[0]["text/plain"] == "6"
    # The driver's source file, written into the session to start the JVM, is gone.
    assert env.sh(box, "ls -d /tmp/.agentbay-kernel-* 2>/dev/null | wc -l") == "0\n"


def test_ipython_display_shows_results(env: Env, box: Sandbox) -> None:
    # Cells written for Jupyter: IPython's display and wrappers (the session's IPython, or
    # the kernel's stand-in where it has none) add results rather than print.
    code = (
        "from IPython.display import display, HTML, Markdown, Latex\n"
        "display(HTML('<h1>Hello HTML</h1>'), Markdown('# Hello Markdown'))\n"
        "display(Latex(r'\\frac{1}{2}'))\n"
        "class MockChart:\n"
        "    def _repr_mimebundle_(self, include=None, exclude=None):\n"
        "        return {'application/vnd.vegalite.v4+json': {'mark': 'bar'}, 'text/plain': 'M'}\n"
        "display(MockChart())"
    )
    answer = cell(env, box, code)
    assert answer["stdout"] == []
    html, markdown, latex, chart = results(answer)
    assert html["text/html"] == "<h1>Hello HTML</h1>" and not html["isMainResult"]
    assert markdown["text/markdown"] == "# Hello Markdown"
    assert latex["text/latex"] == "\\frac{1}{2}"
    assert chart["application/vnd.vegalite.v4+json"] == {"mark": "bar"}


def test_javascript_cells_can_run_again(env: Env, box: Sandbox) -> None:
    needs_program(env, box, "node")
    again = "const fs = require('fs'); let n = fs.existsSync('/'); n"
    assert results(cell(env, box, again, "javascript"))[0]["text/plain"] == "true"
    assert results(cell(env, box, again, "javascript"))[0]["text/plain"] == "true"
    # A loop's own `let` keeps one binding per iteration.
    loop = "const fns = []; for (let i = 0; i < 3; i++) fns.push(() => i); fns.map((f) => f())"
    assert results(cell(env, box, loop, "javascript"))[0]["text/plain"] == "[ 0, 1, 2 ]"


def test_a_crash_is_seen_while_a_program_the_kernel_started_lives_on(
    env: Env, box: Sandbox
) -> None:
    cell(env, box, "import subprocess\nchild = subprocess.Popen(['sleep', '60'])")
    crashed = cell(env, box, "import os\nos._exit(5)", timeout_s=30)
    assert crashed["error"]["name"] == "KernelDied"
    # Seen as it happened, not found at the time limit ("after its timeout_s=30 s").
    assert "ended while running this code (exit code 5)" in crashed["error"]["value"]


def test_chart_data_of_scatter_and_pie(env: Env, box: Sandbox) -> None:
    needs_module(env, box, "matplotlib")
    code = (
        "import matplotlib.pyplot as plt\n"
        "plt.scatter([1, 2], [3, 4], label='pts')\n"
        "plt.xlabel('x')\n"
        "plt.show()\n"
        "plt.pie([1, 3], labels=['a', 'b'])\n"
        "plt.show()"
    )
    scatter, pie = (shown["chart"] for shown in results(cell(env, box, code)))
    assert scatter == {
        "type": "scatter",
        "title": None,
        "x_label": "x",
        "y_label": None,
        "elements": [{"label": "pts", "points": [[1.0, 3.0], [2.0, 4.0]]}],
    }
    assert pie["type"] == "pie"
    assert [(e["label"], e["angle"]) for e in pie["elements"]] == [("a", 90.0), ("b", 270.0)]
