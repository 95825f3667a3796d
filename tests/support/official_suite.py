"""The official client's own integration suite against a local runtime, for acceptance:
``.ci/official-suite SUITE_DIR [--client VERSION] [--serve-arg=FLAG] [pytest arguments...]``.

SUITE_DIR is the ``python/`` folder of a checkout of the official SDK's repository (the one
holding ``tests/integration``); its code is never copied into this project, and its own
``agentbay/`` source is never imported (:func:`pytest_argv`). The suite runs
unchanged with the client ``wuying-agentbay-sdk==VERSION`` (default 0.22.3) and the packages
the suite imports, in a virtual environment of the tests' tool cache (``official-suite-<version>``),
against ``agentbay local serve --network none`` on a free loopback port with a generated key
and a fresh data directory (so a test that browses the internet fails inside its session,
and nothing leaves the machine). :mod:`loopback_only` is imported first in the suite's
interpreter (as ``sitecustomize``): a test that names a cloud host fails at once, before a
packet is sent. The counts (passed, failed, skipped, errors) and pytest's summary lines are
printed; pytest's whole output goes to ``--output`` (default ``.cache/official-suite.log``,
serve's beside it as ``.serve.log``). What each non-pass means is written in
docs/compatibility.md ("The official clients' own suites").
"""

from __future__ import annotations

import argparse
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.official import SUPPORT, driver_env, ensure_venv
from tests.support.spawn import free_port, serve_argv, stop_serve, wait_until_listening

#: What the suite imports besides the client (its conftest and helpers; playwright for the
#: browser tests, which drive the session's browser over CDP, no browser of its own).
SUITE_PACKAGES = ("pytest", "pytest-asyncio", "pytest-timeout", "python-dotenv", "playwright")
#: One test's limit: a test stuck on a cloud-only wait fails instead of holding the run.
TEST_TIMEOUT_S = 120
_COUNTS = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)")


def suite_python(version: str) -> Path:
    """The interpreter of the suite's virtual environment for client ``version``."""
    return ensure_venv(
        f"official-suite-{version}", f"wuying-agentbay-sdk=={version}", *SUITE_PACKAGES
    )


def fence_dir(into: Path) -> Path:
    """A folder whose ``sitecustomize`` imports :mod:`loopback_only` (put on PYTHONPATH)."""
    shutil.copy(SUPPORT / "loopback_only.py", into / "loopback_only.py")
    (into / "sitecustomize.py").write_text("import loopback_only  # nothing leaves loopback\n")
    return into


def pytest_argv(python: Path, pytest_args: list[str]) -> list[str]:
    """The suite's pytest command, run in SUITE_DIR, where the checkout's own ``agentbay/``
    sits beside ``tests/``: ``-P`` keeps the working folder off ``sys.path`` and
    ``--import-mode=append`` puts the folder pytest adds for ``tests`` (a package) after
    site-packages, so ``import agentbay`` is the client of the venv, not the checkout's
    source (with it, the suite ran the checkout's 0.15.0 whatever ``--client`` said)."""
    return [
        str(python),
        "-P",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--import-mode=append",
        "-o",
        "addopts=",
        "-rA",
        "-v",
        f"--timeout={TEST_TIMEOUT_S}",
        "--continue-on-collection-errors",
        *(pytest_args or ["tests/integration/_sync"]),
    ]


def run_suite(
    suite: Path, version: str, pytest_args: list[str], output: Path, serve_args: list[str]
) -> int:
    """Run the suite against a fresh local runtime (``serve_args``: more flags of serve);
    pytest's exit status."""
    python = suite_python(version)
    key = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="official-suite-") as scratch:
        data_dir = Path(scratch) / "serve"
        fence = fence_dir(Path(scratch))
        port = free_port()
        # serve's own output goes to a file: a pipe nobody reads would fill in a long run.
        with output.with_suffix(".serve.log").open("w") as serve_log:
            serve = subprocess.Popen(
                serve_argv(data_dir, port, key, "--network", "none", *serve_args),
                stdout=serve_log,
                stderr=subprocess.STDOUT,
            )
            try:
                wait_until_listening(serve, port)
                endpoint = f"http://127.0.0.1:{port}"
                env = {**driver_env(endpoint, key), "PYTHONPATH": str(fence), "NO_COLOR": "1"}
                with output.open("w") as out:
                    run = subprocess.run(
                        pytest_argv(python, pytest_args),
                        cwd=suite,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        check=False,
                    )
            finally:
                stop_serve(serve)
    summary = output.read_text(errors="replace").splitlines()
    for line in summary:
        if line.startswith(("PASSED ", "FAILED ", "ERROR ", "SKIPPED ")):
            print(line)
    counts = dict((kind, int(n)) for n, kind in _COUNTS.findall(summary[-1] if summary else ""))
    print(f"wuying-agentbay-sdk {version}: {counts}")
    return run.returncode


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module's docstring)."""
    parser = argparse.ArgumentParser(
        prog=".ci/official-suite", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "suite", type=Path, help="the python/ folder of the official SDK's checkout"
    )
    parser.add_argument("--client", default="0.22.3", help="wuying-agentbay-sdk version")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(".cache/official-suite.log"),
        help="where pytest's whole output goes",
    )
    parser.add_argument(
        "--serve-arg",
        action="append",
        default=[],
        metavar="FLAG",
        help="one more flag of agentbay local serve, e.g. --serve-arg=--link-url (repeatable)",
    )
    args, pytest_args = parser.parse_known_args(argv)
    if not (args.suite / "tests" / "integration").is_dir():
        parser.error(f"{args.suite} holds no tests/integration")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    return run_suite(
        args.suite.resolve(), args.client, pytest_args, args.output.resolve(), args.serve_arg
    )


if __name__ == "__main__":
    sys.exit(main())
