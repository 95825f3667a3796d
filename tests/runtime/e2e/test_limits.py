"""Per-session limits through `agentbay local serve --session-*`, held by a real runtime.

One runtime with small limits; a "victim" session hits each of them while a "bystander"
session keeps working. What is checked is what users see: ENOSPC inside the session and a
host disk that grows by no more than the limit, a memory hog killed with a clear message,
a fork bomb that stops at the process limit, a CPU cap, and sessions that go on working.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentbay_local.sandbox import disk, probe, userns
from agentbay_local.sandbox.cgroups import CgroupLayout
from tests.runtime.e2e.api import Api
from tests.support.spawn import free_port, serve_argv, stop_serve, wait_until_listening

MIB = 1024 * 1024
DISK_LIMIT = 256 * MIB


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, Path]]:
    problem = probe.isolation_problem()
    if problem is not None:
        pytest.skip(f"isolated sandboxes do not work here: {problem}")
    data_dir = tmp_path_factory.mktemp("limited")
    port = free_port()
    extra = ["--session-disk", "256M", "--session-memory", "256M", "--session-pids", "64"]
    extra += ["--session-cpus", "0.5", "--pool-size", "1", "--network", "none"]
    process = subprocess.Popen(
        serve_argv(data_dir, port, "akm-limits", *extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until_listening(process, port)
    try:
        yield Api(f"http://127.0.0.1:{port}", "akm-limits"), data_dir
    finally:
        stop_serve(process)


@pytest.fixture(scope="module")
def bystander(limited: tuple[Api, Path]) -> str:
    return limited[0].create_session()


def _alive(api: Api, session: str) -> None:
    assert api.text(session, "shell", command="echo alive", timeout_ms=10_000) == "alive\n"


def _allocated(path: Path) -> int:
    return os.stat(path).st_blocks * 512


def test_a_session_cannot_write_past_its_disk(limited: tuple[Api, Path], bystander: str) -> None:
    api, data_dir = limited
    if disk.problem() is not None:
        pytest.skip(f"per-session filesystems are not possible here: {disk.problem()}")
    victim = api.create_session()
    answer = api.tool(
        victim,
        "shell",
        command="dd if=/dev/zero of=/tmp/fill bs=1M count=400 2>&1; echo status=$?",
        timeout_ms=120_000,
    )
    text = answer["content"][0]["text"]
    assert "No space left on device" in text, text
    image = data_dir / "sessions" / victim / "disk.img"
    assert _allocated(image) <= DISK_LIMIT  # the host's disk grew by no more than the limit
    # Freeing space makes the session usable again; the other session never noticed.
    assert api.text(victim, "shell", command="rm /tmp/fill && echo freed", timeout_ms=30_000)
    _alive(api, victim)
    _alive(api, bystander)
    api.call("ReleaseMcpSession", SessionId=victim)
    assert not image.exists()


# Rootless without a delegated cgroup, memory is limited per process (RLIMIT_DATA: a hog
# gets MemoryError) and CPU not at all.
_NO_CGROUP = pytest.mark.skipif(
    userns.rootless() and CgroupLayout.detect() is None,
    reason="rootless without a delegated cgroup: no session memory or CPU cgroup limits",
)


@_NO_CGROUP
def test_a_memory_hog_is_killed_with_a_clear_message(
    limited: tuple[Api, Path], bystander: str
) -> None:
    api, _ = limited
    victim = api.create_session()
    hog = "b = bytearray(600 * 1024 * 1024)\nb[::4096] = b'x' * len(b[::4096])\nprint('kept')"
    answer = api.tool(victim, "run_code", code=hog, language="python", timeout_s=60)
    text = answer["content"][0]["text"]
    assert answer["isError"] is True
    assert "memory limit" in text and "256 MiB" in text, text
    _alive(api, victim)
    _alive(api, bystander)
    api.call("ReleaseMcpSession", SessionId=victim)


def test_a_fork_bomb_stops_at_the_process_limit(limited: tuple[Api, Path], bystander: str) -> None:
    api, _ = limited
    victim = api.create_session()
    api.tool(victim, "shell", command="bomb() { bomb | bomb & }; bomb; sleep 1", timeout_ms=4000)
    # At the limit its forks fail and it dies out; the tool server answered all along,
    # and the session works again (waited for, within a deadline).
    info = api.tool(victim, "get_file_info", path="/")
    assert info["isError"] is False, info
    deadline = time.monotonic() + 60
    while True:
        answer = api.tool(victim, "shell", command="echo alive", timeout_ms=3000)
        if answer["content"][0]["text"] == "alive\n":
            break
        assert time.monotonic() < deadline, answer
    _alive(api, bystander)
    api.call("ReleaseMcpSession", SessionId=victim)
    _alive(api, bystander)


@_NO_CGROUP
def test_a_session_gets_no_more_cpu_than_its_share(
    limited: tuple[Api, Path], bystander: str
) -> None:
    api, _ = limited
    busy = (
        "import os, time\n"
        "end = time.monotonic() + 3\n"
        "while time.monotonic() < end: pass\n"
        "t = os.times(); print(round((t.user + t.system) / 3, 3))"
    )
    share = float(api.text(bystander, "run_code", code=busy, language="python", timeout_s=60))
    # 0.5 CPUs: a busy loop gets half of one core at most (a loaded machine gives less).
    assert share <= 0.5 * 1.2, share
