"""The OFFICIAL client (wuying-agentbay-sdk 0.9.3) timing one call at a time, on request.

Usage: python official_probe.py READ_PATH
(AGENTBAY_ENDPOINT and AGENTBAY_API_KEY point it at the runtime under test.)

It creates a session, writes 10 MB of mixed text to READ_PATH and prints ``ready``. Then each
line on stdin names one operation of ``OPERATIONS``; it runs it once and prints the seconds
it took (a line). End of input deletes the session. The bench alternates these calls with its
own, so both clients meet the machine in the same state.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

# bench/harness.py, stdlib-only: this script's directory is first on the official venv's path.
from harness import mixed_text  # type: ignore[import-not-found]

from agentbay import AgentBay  # the official client

SMALL = "/tmp/probe-1k.txt"


def operations(session: Any, read_path: str, text: str) -> dict[str, Callable[[], Any]]:
    """The calls the bench compares, by name."""
    fs = session.file_system
    return {
        "get_labels": session.get_labels,
        "shell_echo": lambda: session.command.execute_command("echo x", 5000),
        "read_file_1k": lambda: fs.read_file(SMALL),
        "write_file_10m": lambda: fs.write_file(read_path, text),
        "read_file_10m": lambda: fs.read_file(read_path),
    }


def main() -> None:
    read_path = sys.argv[1]
    try:  # its loguru output would dominate the timings
        from loguru import logger

        logger.remove()
    except ImportError:
        logging.disable(logging.CRITICAL)
    bay = AgentBay()
    session = bay.create().session
    try:
        text = mixed_text(10 * 1024 * 1024)
        session.file_system.write_file(SMALL, "x" * 1024)
        session.file_system.write_file(read_path, text)
        if session.file_system.read_file(read_path).content != text:
            raise SystemExit("the official client read back other text than it wrote")
        ops = operations(session, read_path, text)
        print("ready", flush=True)
        for line in sys.stdin:
            call = ops[line.strip()]
            start = time.perf_counter()
            call()
            print(time.perf_counter() - start, flush=True)
    finally:
        session.delete()


if __name__ == "__main__":
    main()
