"""Waiting for a runtime's pool to be warm: every pooled sandbox started, nothing else running.

"Warm pool" (issue 19's create -> first command) means a create finds a started sandbox
and nothing of the runtime competes with the new session for the CPU: no pooled sandbox
still booting, no released session still being cleaned up. Seen from outside the runtime,
that is ``pool_size`` pooled sandbox directories (a claimed one is renamed to its session
id at once, a refill makes a new one when it begins) and the runtime with every process it
started using no CPU for ``REST_S``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

#: How long the runtime's processes must use no CPU to count as at rest. Several clock
#: ticks (CPU time is counted in 10 ms ticks), far shorter than a sandbox's start.
REST_S = 0.1
_POLL_S = 0.01
#: The ``--pool-size`` of the runtimes the bench starts.
POOL_SIZE = 4


def _stats() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, CPU ticks of the process and its reaped children)."""
    found: dict[int, tuple[int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                text = handle.read()
        except OSError:  # it exited meanwhile
            continue
        fields = text[text.rindex(b")") + 2 :].split()
        # After the command: state, ppid, ... utime (12), stime, cutime, cstime (15).
        found[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]))
    return found


def tree_cpu_ticks(root_pid: int) -> int:
    """CPU ticks used so far by ``root_pid`` and every live descendant of it."""
    stats = _stats()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0))[1]
        todo.extend(children.get(pid, ()))
    return total


def pooled_count(sessions_dir: Path) -> int:
    """How many pooled sandboxes (started or starting) the runtime has (none while the
    runtime has not made its sessions folder yet)."""
    try:
        return sum(1 for entry in os.scandir(sessions_dir) if entry.name.startswith("pool-"))
    except FileNotFoundError:
        return 0


def wait_for_warm_pool(
    runtime_pid: int, sessions_dir: Path, pool_size: int, timeout_s: float = 30.0
) -> None:
    """Return once the pool is full and the runtime is at rest (see the module's text).

    Raises:
        TimeoutError: not warm within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    ticks, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now_ticks = tree_cpu_ticks(runtime_pid)
        now = time.monotonic()
        if now_ticks != ticks or pooled_count(sessions_dir) < pool_size:
            ticks, since = now_ticks, now
        elif now - since >= REST_S:
            return
        time.sleep(_POLL_S)  # polling the condition above, not standing in for it
    raise TimeoutError(f"the runtime's pool was not warm within {timeout_s} s")
