"""The official client (PyPI ``wuying-agentbay-sdk``), unchanged, in a virtual environment of
its own in the tests' tool cache: the one place that knows how to make one and run a driver
script with it.

Each version (and Python) gets ``official-sdk-<version>-py<X.Y>`` under
:func:`~tests.support.paths.tools_cache` (made once per machine and user). Where PyPI cannot be
reached the calling test is skipped and says so. Driver scripts run with the client's own
interpreter, import nothing of this project but :mod:`loopback_only` (which they import
first: the client's traffic cannot leave the machine), and write their results as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import installing, tools_cache

#: Every official client version the tests run: the 0.9 API and today's.
VERSIONS = ("0.9.3", "0.13.1", "0.15.2", "0.22.3")
#: Where :mod:`loopback_only` lives, for drivers to put on their path.
SUPPORT = Path(__file__).resolve().parent

_UNREACHABLE = (
    "NewConnectionError",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "Could not fetch URL",
)


def official_venv(version: str) -> Path:
    """The virtual environment of one official client version."""
    python = f"py{sys.version_info.major}.{sys.version_info.minor}"
    return tools_cache() / f"official-sdk-{version}-{python}"


class InstallFailed(Exception):
    """An official client version could not be installed (``unreachable``: PyPI could not
    be reached, rather than the install failing)."""

    def __init__(self, message: str, unreachable: bool) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def ensure_official(version: str) -> Path:
    """The interpreter of a virtual environment with ``wuying-agentbay-sdk==version``,
    installed on first use.

    Raises:
        InstallFailed: pip could not install it.
    """
    venv = official_venv(version)
    with installing(venv):
        if not (venv / ".ready").exists():
            _install(venv, f"wuying-agentbay-sdk=={version}")
    return venv / "bin" / "python"


def official_python(version: str = "0.9.3") -> Path:
    """:func:`ensure_official` for a test: skips it where PyPI is unreachable, fails it where
    the install failed otherwise."""
    try:
        return ensure_official(version)
    except InstallFailed as exc:
        if exc.unreachable:
            pytest.skip(str(exc))
        pytest.fail(str(exc))


def ensure_venv(name: str, *packages: str) -> Path:
    """The interpreter of the tools-cache virtual environment ``name`` (per Python) with
    ``packages`` installed on first use (a framework integration with the client it pins,
    the official suite's packages).

    Raises:
        InstallFailed: pip could not install them.
    """
    python = f"py{sys.version_info.major}.{sys.version_info.minor}"
    venv = tools_cache() / f"{name}-{python}"
    with installing(venv):
        if not (venv / ".ready").exists():
            _install(venv, *packages)
    return venv / "bin" / "python"


def integration_python(package: str) -> Path:
    """:func:`ensure_venv` of a framework integration (e.g. ``langchain-agentbay-integration``)
    for a test: skips it where PyPI is unreachable, fails it where the install failed."""
    try:
        return ensure_venv(package, package)
    except InstallFailed as exc:
        if exc.unreachable:
            pytest.skip(str(exc))
        pytest.fail(str(exc))


def _install(venv: Path, *packages: str) -> None:
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *packages],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        if any(hint in result.stderr for hint in _UNREACHABLE):
            raise InstallFailed(
                f"PyPI is unreachable, cannot install {packages}: {result.stderr[-300:]}", True
            )
        raise InstallFailed(f"installing {packages} failed:\n{result.stderr[-2000:]}", False)
    (venv / ".ready").touch()


def driver_env(endpoint: str, key: str) -> dict[str, str]:
    """The environment of a driver: the endpoint and key. (Proxy variables cannot fence the
    clients in: darabonba sends even loopback requests through a configured proxy, ignoring
    NO_PROXY; :mod:`loopback_only` does it inside the driver instead.) No ``PYTHON*``
    variable passes: a PYTHONPATH naming this checkout would make the driver import our
    ``agentbay`` instead of the official client's."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("PYTHON")}
    return {**inherited, "AGENTBAY_ENDPOINT": endpoint, "AGENTBAY_API_KEY": key}


def run_driver(
    python: Path,
    driver: Path,
    endpoint: str,
    key: str,
    cwd: Path,
    timeout_s: float,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run a driver script with an official client's interpreter against ``endpoint``; the
    results it wrote (JSON). A driver that fails fails the test with its stderr."""
    results = cwd / "results.json"
    run = subprocess.run(
        [str(python), str(driver), str(results)],
        cwd=cwd,
        env={**driver_env(endpoint, key), **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result: dict[str, Any] = json.loads(results.read_text())
    return result
