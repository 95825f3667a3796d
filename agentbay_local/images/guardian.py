"""Run a command and take its whole process tree down with it (stdlib only, run as a script).

``python guardian.py ARGV...`` runs ARGV as its child. It is a child subreaper, so whatever
the command leaves behind when it dies (processes it forked into namespaces of its own)
becomes the guardian's child, and the guardian kills all of them before it exits. It stops
the command (SIGTERM, then SIGKILL) when it is told to stop itself and when its own parent
dies, however that parent dies (``PR_SET_PDEATHSIG``).

Why: a rootless ``mmdebstrap`` runs the build in a user and PID namespace of its own, in
processes that outlive its main process when that is killed (they then block on a pipe
nobody reads, forever); no signal sent to the main process reaches them.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
#: How long the command may clean up after SIGTERM before everything is killed.
GRACE_S = 10.0
#: How long killing what is left may take.
KILL_S = 30.0


class _Stop(Exception):
    """SIGTERM (or the parent's death) arrived."""


def _children() -> list[int]:
    """This process's children: as a subreaper, the orphans of the command's tree too."""
    mine = str(os.getpid())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and fields[1] == mine:
            found.append(int(entry))
    return found


def _reap() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _kill_all() -> None:
    """Kill every child until none is left (each death may hand us its orphans)."""
    deadline = time.monotonic() + KILL_S
    while time.monotonic() < deadline:
        _reap()
        children = _children()
        if not children:
            return
        for pid in children:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def main(argv: list[str]) -> int:
    """Run ``argv``; its exit status (128 + signal when it was killed)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

    def stop(_signal: int, _frame: object) -> None:
        raise _Stop

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    parent = os.getppid()
    child = os.fork()
    if child == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    # Only the command writes to the pipes it was given: their readers see its end, not ours.
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    code = 1
    try:
        if os.getppid() != parent:
            raise _Stop  # the parent died before PR_SET_PDEATHSIG was in force
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
    except _Stop:
        try:
            os.kill(child, signal.SIGTERM)
            deadline = time.monotonic() + GRACE_S
            while time.monotonic() < deadline and os.waitpid(child, os.WNOHANG)[0] == 0:
                time.sleep(0.05)
        except (OSError, _Stop):
            pass
        code = 128 + signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _kill_all()
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
