"""File operations under ``watch_directory`` and the events it delivers, for either client.

Written against the 0.9.3 API and run with the official client
(tests/runtime/e2e/official_driver.py) and with ours (tests/runtime/e2e/test_cloud_fidelity.py).
Each step waits until the watcher has delivered the step's last event before the next one
starts, so where the polls fall does not change the stream; repeats of one event across two
polls are folded.
"""

from __future__ import annotations

import threading
import time
from typing import Any

#: Each step: (what it does, the events it must deliver: (eventType, path below base, pathType)).
STEPS: list[tuple[str, list[tuple[str, str, str]]]] = [
    ("mkdir sub", [("create", "/sub", "directory")]),
    ("write new", [("create", "/sub/a.txt", "file"), ("modify", "/sub/a.txt", "file")]),
    ("overwrite", [("modify", "/sub/a.txt", "file")]),
    ("append", [("modify", "/sub/a.txt", "file")]),
    ("move", [("delete", "/sub/a.txt", "file"), ("create", "/sub/b.txt", "file")]),
    ("shell rm", [("delete", "/sub/b.txt", "file")]),
]


def run_steps(session: Any, base: str, timeout: float = 20.0) -> dict[str, Any]:
    """Watch ``base`` (an empty directory is made), run STEPS; answer what was delivered."""
    fs = session.file_system
    fs.create_directory(base)
    delivered: list[tuple[str, str, str]] = []
    arrived = threading.Condition()

    def callback(events: list[Any]) -> None:
        with arrived:
            for event in events:
                delivered.append((event.event_type, event.path, event.path_type))
            arrived.notify_all()

    def wait_until(done: Any, limit: float) -> bool:
        deadline = time.monotonic() + limit
        with arrived:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                arrived.wait(left)
        return True

    stop = threading.Event()
    watcher = fs.watch_directory(base, callback, 0.1, stop)
    watcher.start()
    try:
        # The watch starts with its first poll: write a marker until an event for it arrives
        # (one write's events come in one answer, so none of the marker's are still to come).
        marker = f"{base}/.ready"
        deadline = time.monotonic() + timeout
        while True:
            fs.write_file(marker, "x")
            if wait_until(lambda: any(path == marker for _, path, _ in delivered), 0.5):
                break
            if time.monotonic() > deadline:
                return {"ready": False, "stream": []}
        start = len(delivered)
        actions = {
            "mkdir sub": lambda: fs.create_directory(f"{base}/sub"),
            "write new": lambda: fs.write_file(f"{base}/sub/a.txt", "one"),
            "overwrite": lambda: fs.write_file(f"{base}/sub/a.txt", "two"),
            "append": lambda: fs.write_file(f"{base}/sub/a.txt", "+", mode="append"),
            "move": lambda: fs.move_file(f"{base}/sub/a.txt", f"{base}/sub/b.txt"),
            "shell rm": lambda: session.command.execute_command(f"rm {base}/sub/b.txt", 10000),
        }
        for name, expected in STEPS:
            mark = len(delivered)
            actions[name]()
            kind, path, path_type = expected[-1]
            last = (kind, base + path, path_type)
            if not wait_until(lambda last=last, mark=mark: last in delivered[mark:], timeout):
                break
    finally:
        stop.set()
        watcher.join(10)
    stream: list[tuple[str, str, str]] = []
    for kind, path, path_type in delivered[start:]:
        if path == marker:  # a later write of the marker, when its first event came late
            continue
        event = (kind, path.removeprefix(base), path_type)
        if not stream or stream[-1] != event:
            stream.append(event)
    return {"ready": True, "stream": stream}


def expected_stream() -> list[tuple[str, str, str]]:
    """What run_steps must answer as its stream (repeats across steps folded the same way)."""
    stream: list[tuple[str, str, str]] = []
    for _, events in STEPS:
        for event in events:
            if not stream or stream[-1] != event:
                stream.append(event)
    return stream
