"""``get_metrics``: what the session uses, measured inside it (Session.get_metrics in 0.22).

The session has its own PID and network namespaces, so every process this tool server sees
in /proc is one of the session's and /proc/net/dev counts the session's own traffic: CPU is
their CPU time over a short window, memory their resident pages, network its interfaces
(loopback excluded). Disk is the session's root file system; the memory total is the
machine's (a memory limit, where one is set, is enforced by the runtime's cgroup).
"""

from __future__ import annotations

import json
import os
import time

TYPE_CHECKING = False  # not imported from typing: importing typing costs startup time
if TYPE_CHECKING:
    from typing import Any

#: How long CPU time and traffic are sampled over.
WINDOW_S = 0.2


def _cpu_ticks() -> int:
    """CPU time (clock ticks) of every process in this PID namespace."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def _resident_bytes() -> int:
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/statm", encoding="ascii") as handle:
                    total += int(handle.read().split()[1]) * page
            except (OSError, IndexError, ValueError):
                continue
    return total


def _traffic() -> tuple[int, int]:
    """(received, sent) bytes of the session's interfaces but loopback."""
    received = sent = 0
    try:
        with open("/proc/net/dev", encoding="ascii") as handle:
            lines = handle.read().splitlines()[2:]
    except OSError:
        return 0, 0
    for line in lines:
        name, _, counters = line.partition(":")
        if name.strip() == "lo":
            continue
        values = counters.split()
        received += int(values[0])
        sent += int(values[8])
    return received, sent


def _memory_total() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def get_metrics(args: dict[str, Any], ctx: object) -> str:
    """CPU, memory, disk and network of the session, in the cloud's JSON shape."""
    cpus = len(os.sched_getaffinity(0)) or 1
    ticks, (rx, tx), start = _cpu_ticks(), _traffic(), time.monotonic()
    time.sleep(WINDOW_S)
    ticks2, (rx2, tx2), elapsed = _cpu_ticks(), _traffic(), time.monotonic() - start
    cpu_s = (ticks2 - ticks) / os.sysconf("SC_CLK_TCK")
    disk = os.statvfs("/")
    return json.dumps(
        {
            "cpu_count": cpus,
            "cpu_used_pct": round(max(0.0, 100.0 * cpu_s / (elapsed * cpus)), 2),
            "mem_total": _memory_total(),
            "mem_used": _resident_bytes(),
            "disk_total": disk.f_blocks * disk.f_frsize,
            "disk_used": (disk.f_blocks - disk.f_bfree) * disk.f_frsize,
            "rx_rate_kbyte_per_s": round((rx2 - rx) / 1024 / elapsed, 3),
            "tx_rate_kbyte_per_s": round((tx2 - tx) / 1024 / elapsed, 3),
            "rx_used_kbyte": round(rx2 / 1024, 3),
            "tx_used_kbyte": round(tx2 / 1024, 3),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    )
