"""The official clients' code interpreter (0.15.2 and 0.22.3 ``Code.run_code``), unchanged,
against `agentbay local serve`: they parse the runtime's rich answers (no "Unknown response
format"), state lives across calls in the session's kernel, and a DataFrame, a figure and
an error come back as the cloud sends them.

Each client runs in its own virtual environment (tests/support/official.py); the driver
also reports what the session's image has, and a cell whose language or library is missing
there is not expected to run (the test prints which).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.official import official_python, run_driver
from tests.support.spawn import serving

DRIVER = Path(__file__).with_name("official_code_driver.py")
KEY = "akm-official-code"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """`agentbay local serve` in a child process: its endpoint."""
    process: subprocess.Popen[str]
    with serving(tmp_path / "serve", KEY) as (endpoint, process):
        del process
        yield endpoint


def missing(got: dict[str, Any], *parts: str) -> list[str]:
    """The parts the session lacks, printed (the cells needing them are not checked)."""
    absent = [part for part in parts if not got["has"][part]]
    if absent:
        print(f"not checked: the session's image has no {', '.join(absent)}")
    return absent


@pytest.mark.parametrize("version", ["0.15.2", "0.22.3"])
def test_official_code_interpreter(version: str, served: str, tmp_path: Path) -> None:
    got = run_driver(official_python(version), DRIVER, served, KEY, tmp_path, 600)

    define = got["define"]
    assert define["success"] is True, define
    assert define["result"] == "42"  # the last expression is the main result
    assert define["stdout"] == ["hi\n"] and define["stderr"] == ["warn\n"]
    assert define["results"] == [
        {"text": "42", "html": None, "png_prefix": "", "chart": None, "is_main_result": True}
    ]
    assert got["state"]["result"] == "41"  # "PYTHON": any case
    assert got["alias"]["result"] == "82"  # "py": the official alias
    counts = [got[name]["execution_count"] for name in ("define", "state", "alias")]
    assert counts == [1, 2, 3]

    error = got["error"]  # a tool error, as the cloud answers: the text is error_message
    assert error["success"] is False and error["results"] == [] and error["error"] is None
    assert "ZeroDivisionError: division by zero" in error["error_message"]
    assert 'File "<cell>", line 1' in error["error_message"]
    assert got["after_error"]["result"] == "8"  # an error keeps the kernel's state

    if not missing(got, "pandas"):
        frame = got["dataframe"]
        assert frame["success"] is True, frame
        main = frame["results"][0]
        assert main["is_main_result"] and "Oslo" in main["text"]
        assert main["html"].count("<td>") == 4 and "<table" in main["html"]
    if not missing(got, "matplotlib"):
        figure = got["figure"]
        assert figure["success"] is True, figure
        (shown,) = figure["results"]
        assert shown["png_prefix"].startswith("iVBORw0KGgo")  # base64 of the PNG signature
        assert shown["chart"] == {
            "type": "line",
            "title": "squares",
            "x_label": None,
            "y_label": None,
            "elements": [{"label": "growth", "points": [[1, 2], [2, 4], [3, 9]]}],
        }

    # Cells written for Jupyter (the official client's own tests): IPython's display.
    ipython = got["ipython"]
    assert ipython["success"] is True, ipython
    shown, chart = ipython["results"]
    assert shown["html"] == "<h1>Hello HTML</h1>" and chart["chart"] == {"mark": "bar"}

    if not missing(got, "node"):
        script = got["javascript"]  # "JavaScript", then "node": any case, the aliases
        assert script["success"] is True, script
        assert script["result"] == "21" and script["stdout"] == ["js 20\n"]
        assert got["javascript_state"]["result"] == "40"

    if not missing(got, "R"):
        r = got["r"]  # "R", then "r"
        assert r["success"] is True, r
        # R writes each piece of a cat() apart: as many chunks, one text.
        assert r["result"] == "[1] 2" and "".join(r["stdout"]) == "r says 6 \n"
        assert got["r_state"]["result"] == "[1] 3"

    if not missing(got, "jshell"):
        java = got["java"]  # "Java", then "java"
        assert java["success"] is True, java
        assert java["result"] == "42" and java["stdout"] == ["java 6\n"]
        assert got["java_state"]["result"] == "7"

    unknown = got["unknown"]
    assert unknown["success"] is False
    assert unknown["error_message"] == (
        "Unsupported language: ruby. Supported languages are 'python', 'javascript', 'r', "
        "and 'java'"
    )
