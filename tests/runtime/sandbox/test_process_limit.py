"""A session's process limit holds for the whole session, whatever user ids its processes
switch to (rootless, ``RLIMIT_NPROC`` alone counts per id: a session root that spread its
processes over its 65536 ids could take every PID of the machine), and a bomb that sits at
the limit leaves the other sessions working."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.runtime.sandbox.conftest import new_env

LIMIT = 64
#: Processes each id tries to start (more than the limit, so one id alone would reach it).
PER_ID = LIMIT + 20
#: Run as the session's root: children switch to ids 1..N, each forks until refused (or
#: PER_ID); prints how many processes they made in all, then lets them all exit.
SPREAD = f"""
import os, sys
ids = range(1, 9)
release_r, release_w = os.pipe()
count_r, count_w = os.pipe()
switchers = []
for uid in ids:
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        os.close(release_w)
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        except OSError:
            os.write(count_w, b"noswitch\\n")
            os._exit(0)
        made = 0
        while made < {PER_ID}:
            try:
                child = os.fork()
            except OSError:
                break
            if child == 0:
                os.read(release_r, 1)
                os._exit(0)
            made += 1
        os.write(count_w, f"{{made}}\\n".encode())
        os.read(release_r, 1)
        os._exit(0)
    switchers.append(pid)
os.close(count_w)
reports = []
with os.fdopen(count_r) as counts:
    for _ in switchers:
        reports.append(counts.readline().strip())
os.close(release_w)
for pid in switchers:
    os.waitpid(pid, 0)
print(" ".join(reports))
"""


def test_processes_count_per_session_whatever_ids_they_switch_to(tmp_path: Path) -> None:
    env = new_env(tmp_path, pool_size=0, pids_max=LIMIT)
    try:
        box, neighbour = env.session("spread"), env.session("neighbour")
        report = env.text(box, "run_code", code=SPREAD, language="python", timeout_s=60)
        counts = report.split()
        if "noswitch" in counts:
            pytest.skip("the session has a single user id here (no /etc/subuid range)")
        made = [int(count) for count in counts]
        assert len(made) >= 2, made  # at least two ids took part
        # Every id gets its share of one budget: together no more than the limit.
        assert sum(made) + len(made) <= LIMIT, made
        assert subprocess.run(["true"]).returncode == 0  # the host can still fork
        assert env.sh(neighbour, "echo alive") == "alive\n"
        assert env.sh(box, "echo alive") == "alive\n"  # and the session itself recovered
    finally:
        env.close()
