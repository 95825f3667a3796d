"""The freezer on real processes: every one of them stops (none runs, children forked
before the freeze included) and continues after the thaw, by each method this machine has."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentbay_local.sandbox.freezer import FreezeError, Freezer, process_state
from agentbay_local.sandbox.inside import procs

#: A parent that forks a child; both count in files every 10 ms.
COUNTERS = """
import os, sys, time
if os.fork() == 0:
    name = sys.argv[1] + ".child"
else:
    name = sys.argv[1] + ".parent"
n = 0
while True:
    n += 1
    with open(name, "w") as out:
        out.write(str(n))
    time.sleep(0.01)
"""


class Tree:
    """A process tree standing in for a session's sandbox (what the freezer asks of one)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    def pids(self) -> list[int]:
        return sorted(procs.descendants(self.process.pid) | {self.process.pid})

    @property
    def cgroup_directories(self) -> list[Path]:
        return []


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[tuple[Tree, Path]]:
    process = subprocess.Popen([sys.executable, "-c", COUNTERS, str(tmp_path / "n")])
    tree = Tree(process)
    deadline = time.monotonic() + 30
    while not all((tmp_path / f"n.{who}").exists() for who in ("parent", "child")):
        assert time.monotonic() < deadline, "the counters never started"
        time.sleep(0.01)
    yield tree, tmp_path
    procs.kill_all(tree.pids())
    process.wait(timeout=10)


@contextlib.contextmanager
def ended_after(freezer: Freezer, session: str, sandbox: Tree) -> Iterator[None]:
    """Whatever the test did, the tree is thawed, ended and forgotten on leaving."""
    try:
        yield
    finally:
        freezer.thaw(session, sandbox)
        procs.kill_all(sandbox.pids())
        sandbox.process.wait(timeout=10)
        freezer.forget(session)


def counts(folder: Path) -> tuple[int, int]:
    return tuple(int((folder / f"n.{who}").read_text() or 0) for who in ("parent", "child"))  # type: ignore[return-value]


def methods() -> list[str]:
    found = ["signals"]
    if Freezer().v1_parent is not None:
        found.append("cgroup1")
    return found


@pytest.mark.parametrize("method", methods())
def test_freeze_stops_every_process_and_thaw_continues_them(
    method: str, tree: tuple[Tree, Path]
) -> None:
    sandbox, folder = tree
    freezer = Freezer() if method == "cgroup1" else Freezer(v1_parent=None)
    session = f"test-{os.getpid()}-{method}"
    with ended_after(freezer, session, sandbox):
        assert freezer.freeze(session, sandbox) == method
        frozen = counts(folder)
        time.sleep(0.3)  # the window in which a running counter would count 30 more
        assert counts(folder) == frozen, "a process ran while frozen"
        freezer.thaw(session, sandbox)
        deadline = time.monotonic() + 30
        while not all(after > before for after, before in zip(counts(folder), frozen, strict=True)):
            assert time.monotonic() < deadline, "a process did not continue"
            time.sleep(0.01)


def test_a_failed_freeze_leaves_nothing_frozen(tree: tuple[Tree, Path]) -> None:
    sandbox, folder = tree

    class Vanishing(Tree):
        def pids(self) -> list[int]:
            raise OSError("the process list cannot be read")

    freezer = Freezer(v1_parent=None)
    with pytest.raises(FreezeError):
        freezer.freeze("test-failed", Vanishing(sandbox.process))
    before = counts(folder)
    deadline = time.monotonic() + 30
    while counts(folder) == before:
        assert time.monotonic() < deadline, "processes stayed stopped"
        time.sleep(0.01)


#: A parent whose child has exited and is never reaped (a zombie), counting every 10 ms: as
#: a shell's finished command is when the shell is frozen before it could wait for it.
WITH_ZOMBIE = """
import os, sys, time
if os.fork() == 0:
    os._exit(0)
n = 0
while True:
    n += 1
    with open(sys.argv[1] + ".parent", "w") as out:
        out.write(str(n))
    time.sleep(0.01)
"""


@pytest.mark.parametrize("method", methods())
def test_a_zombie_of_the_session_does_not_fail_the_freeze(method: str, tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", WITH_ZOMBIE, str(tmp_path / "n")])
    sandbox = Tree(process)
    freezer = Freezer() if method == "cgroup1" else Freezer(v1_parent=None)
    session = f"test-{os.getpid()}-zombie-{method}"
    with ended_after(freezer, session, sandbox):
        deadline = time.monotonic() + 30
        while not any(process_state(pid) == "Z" for pid in sandbox.pids()):
            assert time.monotonic() < deadline, "the child never became a zombie"
            time.sleep(0.01)
        assert freezer.freeze(session, sandbox) == method
        frozen = (tmp_path / "n.parent").read_text()
        time.sleep(0.3)  # the window in which a running counter would count 30 more
        assert (tmp_path / "n.parent").read_text() == frozen, "the parent ran while frozen"


def test_a_shell_starting_commands_is_stopped(tmp_path: Path) -> None:
    """``sh`` (dash) starts each command with vfork: a child stopped before its exec held its
    parent unstoppable (state D), and the pause failed "processes do not stop" (the rootless
    pause of a terminal's loop, one time in ten). Many pauses of a shell that does nothing
    but start commands: each one stops every process."""
    loops = "for i in 1 2 3; do while :; do /bin/true; done & done; wait"
    process = subprocess.Popen(["/bin/sh", "-c", loops])
    sandbox = Tree(process)
    freezer = Freezer(v1_parent=None)
    session = f"test-{os.getpid()}-vfork"
    with ended_after(freezer, session, sandbox):
        for _ in range(30):
            assert freezer.freeze(session, sandbox) == "signals"
            states = {process_state(pid) for pid in sandbox.pids()}
            assert states <= {"T", "t", "Z", "X", None}, states
            freezer.thaw(session, sandbox)
