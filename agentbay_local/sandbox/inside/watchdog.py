"""Clean up after a runtime that died without releasing its sandboxes (stdlib only).

One watchdog process per ``SandboxManager``, started as::

    python -E -s -S -c WATCHDOG_BOOT <parent of inside/> <fd> <sessions dir> <cgroup prefix> \
        <remover> [<cgroup parent>...]

(``launch.WATCHDOG_BOOT`` imports this module from the package ``inside``.)

It blocks reading the pipe ``fd``, whose write end only the runtime holds. An orderly
``close()`` writes ``q`` first and the watchdog just exits. End of file without ``q`` means
the runtime died (SIGKILL, crash): the tool servers die by themselves (their channels hit
end of file too), but the overlay mounts in the host namespace, the cgroups and the
session directories would stay until the next start on the same data dir, which for a
scratch data dir never comes. The watchdog removes them.

``<remover>`` is a JSON list: ``[]``, or (rootless) the command prefix that deletes a
directory as root of a user namespace with the sessions' id mapping, for the files of a
session's other ids that the runtime's user cannot delete itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time

from . import procs, syscalls


def _wait_for_runtime_exit(fd: int) -> bool:
    """Block until the runtime closes the pipe; True if it died without saying goodbye."""
    while True:
        try:
            chunk = os.read(fd, 64)
        except InterruptedError:
            continue
        if not chunk:
            return True
        if b"q" in chunk:
            return False


def _kill_cgroups(prefix: str, parents: list[str]) -> list[str]:
    directories = []
    for parent in parents:
        try:
            names = [name for name in os.listdir(parent) if name.startswith(prefix)]
        except OSError:
            continue
        directories += [os.path.join(parent, name) for name in names]
    deadline = time.monotonic() + 5
    for directory in directories:
        while time.monotonic() < deadline:
            try:
                with open(os.path.join(directory, "cgroup.procs")) as handle:
                    pids = [int(pid) for pid in handle.read().split()]
            except OSError:
                break
            if not pids:
                break
            procs.kill_all(pids)
            time.sleep(0.01)
    return directories


def _unmount_below(directory: str) -> None:
    prefix = directory.rstrip("/") + "/"
    targets = syscalls.mount_points()
    for target in sorted((t for t in targets if t.startswith(prefix)), key=len, reverse=True):
        with contextlib.suppress(OSError):
            syscalls.umount2(target, syscalls.MNT_DETACH)


#: How long the watchdog keeps cleaning while processes of the dead runtime's sandboxes are
#: still dying (a pool refill's tool server may not be in a cgroup yet and go on creating
#: files for a moment; one pass could miss them).
CLEAN_DEADLINE_S = 20.0


def clean(sessions_dir: str, prefix: str, parents: list[str], remover: list[str]) -> None:
    """Kill what is left in the session cgroups, unmount, delete the session dirs; again
    until nothing is left (or ``CLEAN_DEADLINE_S`` passed)."""
    deadline = time.monotonic() + CLEAN_DEADLINE_S
    while True:
        cgroups = _kill_cgroups(prefix, parents)
        _unmount_below(sessions_dir)
        _delete_children(sessions_dir, remover)
        for directory in cgroups:
            for _ in range(100):
                try:
                    os.rmdir(directory)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
        try:
            left = os.listdir(sessions_dir)
        except OSError:
            left = []
        if not left or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def _delete_children(sessions_dir: str, remover: list[str]) -> None:
    try:
        children = os.listdir(sessions_dir)
    except OSError:
        children = []
    for child in children:
        path = os.path.join(sessions_dir, child)
        shutil.rmtree(path, ignore_errors=True)
        if remover and os.path.lexists(path):
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run([*remover, path], capture_output=True, timeout=60, check=False)


def main(argv: list[str]) -> None:
    """Entry point: wait for the runtime to go, clean up if it went badly."""
    fd, sessions_dir, prefix = int(argv[1]), argv[2], argv[3]
    remover, parents = json.loads(argv[4]), argv[5:]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the runtime's to handle
    if _wait_for_runtime_exit(fd):
        clean(sessions_dir, prefix, parents, remover)
