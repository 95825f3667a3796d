"""Freezing a session's processes (PauseSessionAsync) and thawing them (ResumeSessionAsync).

A frozen process gets no CPU: nothing of the session runs, its timers do not fire, and its
memory stays where it is (in RAM). Three ways, the first the machine offers:

- cgroup v2: the session's own cgroup has ``cgroup.freeze``;
- cgroup v1 with a ``freezer`` hierarchy the runtime may write: a freezer cgroup of the
  session's own, made at the first pause, into which every process of the session moves;
- otherwise SIGSTOP to every process of the session, SIGCONT to resume (a process that was
  already stopped inside the session is continued by the resume as well).

Every process of the session: :meth:`Sandbox.pids` (the session's pids cgroup, the
sandbox's process tree, its network helper). Processes forked while the pause runs are
caught by listing again until the list holds no new process.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from agentbay.contract import get_logger

log = get_logger("agentbay.local.sandbox")

_CGROUP_ROOT = Path("/sys/fs/cgroup")
#: Freezer cgroups of sessions are named this + the session id.
PREFIX = "agentbay-freeze-"
#: How long a freeze or thaw may take before it is reported as failed.
DEADLINE_S = 5.0
#: How long the first round of SIGSTOPs may take to stop what it signalled before every
#: process is continued and stopped again (doubling each round; see ``_stop_all``).
STOP_ROUND_S = 0.05


class Frozen(Protocol):
    """What the freezer needs of a sandbox."""

    def pids(self) -> list[int]:
        """Host PIDs of every process of the session."""
        ...

    @property
    def cgroup_directories(self) -> list[Path]:
        """The session's own cgroup directories (empty without cgroups)."""
        ...


class FreezeError(RuntimeError):
    """The session's processes could not be frozen or thawed in time."""


def _v1_freezer_parent() -> Path | None:
    """Where session freezer cgroups go on a cgroup v1 machine, if the runtime may write."""
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text()
        own = Path("/proc/self/cgroup").read_text()
    except OSError:
        return None
    mount = None
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fstype, _source, options = ([*right.split(), "", "", ""])[:3]
        if fstype == "cgroup" and "freezer" in options.split(","):
            mount = Path(left.split()[4])
    if mount is None:
        return None
    path = "/"
    for line in own.splitlines():
        _, controllers, cgroup_path = line.split(":", 2)
        if "freezer" in controllers.split(","):
            path = cgroup_path
    for parent in (mount / path.lstrip("/"), mount):
        if parent.is_dir() and os.access(parent, os.W_OK):
            return parent
    return None


@dataclass
class Freezer:
    """Freezes and thaws sessions; remembers how each frozen one was frozen."""

    #: The cgroup v1 freezer hierarchy's writable parent (None: not available here).
    v1_parent: Path | None = field(default_factory=_v1_freezer_parent)
    #: session id -> PIDs stopped with SIGSTOP (the fallback).
    _stopped: dict[str, set[int]] = field(default_factory=dict)

    def method(self, sandbox: Frozen) -> str:
        """How ``sandbox`` is frozen here: "cgroup2", "cgroup1" or "signals"."""
        if any((d / "cgroup.freeze").exists() for d in sandbox.cgroup_directories):
            return "cgroup2"
        if self.v1_parent is not None:
            return "cgroup1"
        return "signals"

    def freeze(self, session_id: str, sandbox: Frozen) -> str:
        """Freeze every process of the session; the method used.

        Raises:
            FreezeError: not every process was frozen within the deadline (what was
                frozen is thawed again).
        """
        method = self.method(sandbox)
        try:
            if method == "cgroup2":
                self._write_v2(sandbox, "1")
            elif method == "cgroup1":
                self._freeze_v1(session_id, sandbox)
            else:
                self._stop_all(session_id, sandbox)
        except (OSError, FreezeError) as exc:
            self.thaw(session_id, sandbox)
            raise FreezeError(f"cannot freeze the session's processes: {exc}") from None
        return method

    def thaw(self, session_id: str, sandbox: Frozen) -> None:
        """Let every process of the session run again (nothing happens to one not frozen)."""
        if any((d / "cgroup.freeze").exists() for d in sandbox.cgroup_directories):
            try:
                self._write_v2(sandbox, "0")
            except (OSError, FreezeError) as exc:
                log.error("cannot thaw session %s: %s", session_id, exc)
        directory = self._v1_directory(session_id)
        if directory is not None and directory.is_dir():
            try:
                (directory / "freezer.state").write_text("THAWED")
                self._wait_v1(directory, "THAWED")
            except (OSError, FreezeError) as exc:
                log.error("cannot thaw session %s: %s", session_id, exc)
        for pid in self._stopped.pop(session_id, set()):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGCONT)

    def forget(self, session_id: str) -> None:
        """Remove what a released session left (its freezer cgroup, once empty)."""
        self._stopped.pop(session_id, None)
        directory = self._v1_directory(session_id)
        if directory is None:
            return
        deadline = time.monotonic() + DEADLINE_S
        while True:
            try:
                directory.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError as exc:
                if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                    log.warning("cannot remove freezer cgroup %s: %s", directory, exc)
                    return
                time.sleep(0.005)

    # ---- cgroup v2 ----
    @staticmethod
    def _write_v2(sandbox: Frozen, value: str) -> None:
        directories = [d for d in sandbox.cgroup_directories if (d / "cgroup.freeze").exists()]
        for directory in directories:
            (directory / "cgroup.freeze").write_text(value)
        wanted = f"frozen {value}"
        deadline = time.monotonic() + DEADLINE_S
        for directory in directories:
            while wanted not in (directory / "cgroup.events").read_text().splitlines():
                if time.monotonic() > deadline:
                    raise FreezeError(f"{directory} did not reach '{wanted}'")
                time.sleep(0.001)

    # ---- cgroup v1 ----
    def _v1_directory(self, session_id: str) -> Path | None:
        return None if self.v1_parent is None else self.v1_parent / (PREFIX + session_id)

    def _freeze_v1(self, session_id: str, sandbox: Frozen) -> None:
        directory = self._v1_directory(session_id)
        assert directory is not None
        directory.mkdir(exist_ok=True)
        procs = directory / "cgroup.procs"
        (directory / "freezer.state").write_text("FROZEN")
        # A process joining a frozen cgroup is frozen: move the session in until no process
        # of it is left outside (a fork between two listings is caught by the next one).
        deadline = time.monotonic() + DEADLINE_S
        while True:
            inside = {int(pid) for pid in procs.read_text().split()}
            # An exited child whose parent is already frozen stays a zombie until the thaw:
            # it runs nothing, and the kernel no longer moves it.
            outside = [pid for pid in sandbox.pids() if pid not in inside and not _ended(pid)]
            if not outside:
                break
            for pid in outside:
                with contextlib.suppress(ProcessLookupError):
                    try:
                        procs.write_text(str(pid))
                    except OSError as exc:
                        if exc.errno != errno.ESRCH:
                            raise
            if time.monotonic() > deadline:
                raise FreezeError(f"processes kept escaping the freezer: {outside}")
        self._wait_v1(directory, "FROZEN")

    @staticmethod
    def _wait_v1(directory: Path, state: str) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while True:
            try:
                current = (directory / "freezer.state").read_text().strip()
            except OSError:
                return
            if current == state:
                return
            if time.monotonic() > deadline:
                raise FreezeError(f"{directory} stays {current}, not {state}")
            if state == "FROZEN":  # the kernel retries a partial freeze when asked again
                with contextlib.suppress(OSError):
                    (directory / "freezer.state").write_text(state)
            time.sleep(0.001)

    # ---- signals ----
    def _stop_all(self, session_id: str, sandbox: Frozen) -> None:
        """SIGSTOP every process of the session, in rounds.

        A process waiting for its vfork child (``sh`` starts its commands so) stops only
        once that child ran exec or exited; a child stopped before that holds its parent
        forever (state D in ``kernel_clone``: the rootless pause of a terminal's ``while``
        loop failed so, one time in ten). So a round that has not stopped everything in its
        time continues every process and starts again, with twice the time.
        """
        deadline = time.monotonic() + DEADLINE_S
        round_s = STOP_ROUND_S
        while True:
            running = self._stop_round(session_id, sandbox, time.monotonic() + round_s)
            if not running:
                return
            if time.monotonic() > deadline:
                raise FreezeError(f"processes do not stop: {running}")
            for pid in self._stopped.pop(session_id, set()):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGCONT)
            round_s = min(2 * round_s, max(0.0, deadline - time.monotonic()))

    def _stop_round(self, session_id: str, sandbox: Frozen, until: float) -> list[int]:
        """One round of ``_stop_all``: the processes still running at ``until`` (none:
        every process of the session is stopped)."""
        stopped = self._stopped.setdefault(session_id, set())
        while True:
            new = [pid for pid in sandbox.pids() if pid not in stopped]
            if not new:
                return []
            for pid in new:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
                stopped.add(pid)
            # SIGSTOP is delivered asynchronously: list again only once these have stopped.
            while running := [pid for pid in new if _running(pid)]:
                if time.monotonic() > until:
                    return running
                time.sleep(0.0005)
            if time.monotonic() > until:
                return new  # processes kept appearing


def process_state(pid: int) -> str | None:
    """A process's state letter (``/proc/PID/stat``), None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[0]


def _running(pid: int) -> bool:
    """Whether a process exists and is not stopped."""
    return process_state(pid) not in (None, "T", "t", "Z", "X")


def _ended(pid: int) -> bool:
    """Whether a process is gone or only a zombie (exited, not yet reaped)."""
    return process_state(pid) in (None, "Z", "X")
