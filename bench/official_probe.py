"""Timings of the OFFICIAL client (wuying-agentbay-sdk 0.9.3), run with its own interpreter.

Usage: python official_probe.py RESULTS.json CALLS READ_PATH
(AGENTBAY_ENDPOINT and AGENTBAY_API_KEY point it at the runtime under test.)
"""

from __future__ import annotations

import json
import logging
import sys
import time

# bench/harness.py, stdlib-only: this script's directory is first on the official venv's path.
from harness import mixed_text  # type: ignore[import-not-found]

from agentbay import AgentBay  # the official client


def samples(fn, repeat: int, warmup: int = 3) -> list[float]:  # type: ignore[no-untyped-def]
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    results_path, calls, read_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    try:  # its loguru output would dominate the timings
        from loguru import logger

        logger.remove()
    except ImportError:
        logging.disable(logging.CRITICAL)
    bay = AgentBay()
    session = bay.create().session
    session.file_system.write_file("/tmp/probe-1k.txt", "x" * 1024)
    text = mixed_text(10 * 1024 * 1024)
    writes = samples(lambda: session.file_system.write_file(read_path, text), 3, warmup=1)
    assert session.file_system.read_file(read_path).content == text
    results = {
        "write_file_10m": writes,
        "get_labels": samples(session.get_labels, calls),
        "shell_echo": samples(lambda: session.command.execute_command("echo x", 5000), calls),
        "read_file_1k": samples(lambda: session.file_system.read_file("/tmp/probe-1k.txt"), calls),
        "read_file_10m": samples(lambda: session.file_system.read_file(read_path), 3, warmup=1),
    }
    session.delete()
    with open(results_path, "w", encoding="utf-8") as handle:
        json.dump(results, handle)


if __name__ == "__main__":
    main()
