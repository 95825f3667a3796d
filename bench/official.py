"""The official client as a baseline: ``bench/official_probe.py`` in its own interpreter."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

#: How long the probe may take to create its session and write its 10 MB file.
START_TIMEOUT_S = 300.0


class OfficialProbe:
    """One official-client process, timing single calls on request (see official_probe.py)."""

    def __init__(self, python: Path, endpoint: str, key: str, read_path: str) -> None:
        env = {**os.environ, "AGENTBAY_ENDPOINT": endpoint, "AGENTBAY_API_KEY": key}
        self._process = subprocess.Popen(
            [str(python), str(Path(__file__).with_name("official_probe.py")), read_path],
            env=env,
            cwd=tempfile.gettempdir(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self._answer() != "ready":
            raise RuntimeError("the official client's probe did not start")

    def seconds(self, operation: str) -> float:
        """Run ``operation`` once in the official client; the seconds it measured itself."""
        assert self._process.stdin is not None
        self._process.stdin.write(operation + "\n")
        self._process.stdin.flush()
        return float(self._answer())

    def _answer(self) -> str:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            code = self._process.wait(timeout=START_TIMEOUT_S)
            raise RuntimeError(f"the official client's probe ended (exit status {code})")
        return line.strip()

    def close(self) -> None:
        """End the probe (it deletes its session)."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> OfficialProbe:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
