"""Runs an OFFICIAL client's code interpreter (wuying-agentbay-sdk 0.15.2 or 0.22.3,
``Code.run_code``) against a local runtime: state across calls, the main result, stdout and
stderr chunks, errors, a DataFrame, a matplotlib figure, languages and their aliases.

Executed by tests/runtime/e2e/test_official_code.py with the client's own interpreter; it
imports nothing of this project but loopback_only. The results go to the JSON file named by
the first argument. The cells in ``CELLS`` run in order, each by name, with the language
given; the test decides which to expect (a language or library the session lacks).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(1, str(Path(__file__).resolve().parents[2] / "support"))

import loopback_only  # noqa: F401  (first: nothing below reaches past loopback)

from agentbay import AgentBay, CreateSessionParams

#: (name, language as sent, code); run in this order in one session.
CELLS = [
    ("define", "python", "x = 41\nprint('hi')\nimport sys\nprint('warn', file=sys.stderr)\nx + 1"),
    ("state", "PYTHON", "x"),
    ("alias", "py", "def twice(n):\n    return 2 * n\ntwice(x)"),
    ("error", "python3", "1 / 0"),
    ("after_error", "python", "twice(4)"),
    (
        "dataframe",
        "python",
        "import pandas as pd\npd.DataFrame({'city': ['Oslo', 'Rome'], 'n': [1, 2]})",
    ),
    (
        "figure",
        "python",
        "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [2, 4, 9], label='growth')\n"
        "plt.title('squares')\nplt.show()",
    ),
    (
        "ipython",
        "python",
        "from IPython.display import display, HTML\n"
        "display(HTML('<h1>Hello HTML</h1>'))\n"
        "class MockChart:\n"
        "    def _repr_mimebundle_(self, include=None, exclude=None):\n"
        "        return {'application/vnd.vegalite.v4+json': {'mark': 'bar'}, 'text/plain': 'M'}\n"
        "display(MockChart())",
    ),
    ("javascript", "JavaScript", "let n = 20; console.log('js', n); n + 1"),
    ("javascript_state", "node", "n * 2"),
    ("r", "R", "v <- c(1, 2, 3)\ncat('r says', sum(v), '\\n')\nmean(v)"),
    ("r_state", "r", "length(v)"),
    ("java", "Java", 'int k = 6;\nSystem.out.println("java " + k);\nk * 7'),
    ("java_state", "java", "k + 1"),
    ("unknown", "ruby", "puts 1"),
]

#: Parts of the session's image a cell needs, and the command that shows each is there.
PROBES = {
    "pandas": "python3 -c 'import pandas'",
    "matplotlib": "python3 -c 'import matplotlib'",
    "node": "command -v node",
    "R": "command -v R",
    "jshell": "command -v jshell",
}


def outcome(result: Any) -> dict[str, Any]:
    """The parts of an EnhancedCodeExecutionResult the test reads."""
    error = result.error
    return {
        "success": result.success,
        "result": result.result,
        "error_message": result.error_message,
        "stdout": list(result.logs.stdout),
        "stderr": list(result.logs.stderr),
        "execution_count": result.execution_count,
        "results": [
            {
                "text": item.text,
                "html": item.html,
                "png_prefix": (item.png or "")[:16],
                "chart": item.chart,
                "is_main_result": item.is_main_result,
            }
            for item in result.results
        ],
        "error": None if error is None else [error.name, error.value, error.traceback],
    }


results: dict[str, Any] = {}
client = AgentBay()
created = client.create(CreateSessionParams(image_id="code_latest"))
assert created.success, created.error_message
session = created.session
# What the session's image has: the test expects only the cells it can run.
for part, probe in PROBES.items():
    ran = session.command.execute_command(probe, timeout_ms=20000)
    results.setdefault("has", {})[part] = bool(ran.success)
only = set(sys.argv[2].split(",")) if len(sys.argv) > 2 else None
for name, language, code in CELLS:
    if only is None or name in only:
        results[name] = outcome(session.code.run_code(code, language, timeout_s=60))
session.delete()
Path(sys.argv[1]).write_text(json.dumps(results, indent=1))
