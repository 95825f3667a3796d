"""What each session may use, and how that is enforced on this machine.

``SessionLimits`` is the one description of a session's budget; the manager enforces it
with whichever mechanism the machine offers, in both modes (root and rootless):

- ``cgroup``: a session cgroup (``cgroups.py``) with ``pids.max`` and the memory limit,
  for the whole session together; where the runtime is root, or the machine delegates a
  cgroup v2 subtree to the user (a systemd user slice);
- ``rlimit``: otherwise, resource limits the tool server sets on itself before it starts
  anything, inherited by every process of the session: ``RLIMIT_NPROC`` (for all the
  session's user ids together: ``inside/process_bound.py``), ``RLIMIT_DATA`` per process (not
  ``RLIMIT_AS``: Chromium and V8 reserve tens of GB of address space they never use, and
  fail to start under any address-space limit) and, with a disk limit, ``RLIMIT_FSIZE``.

The disk limit is enforced by a filesystem of its own per session where the runtime is
root and the kernel offers loop devices (``disk.py``: ``ENOSPC`` inside the session, the
host's disk grows by at most the limit); otherwise it is watched: ``disk_usage`` measures
the session's writable layer, and a session over its limit loses its processes.
"""

from __future__ import annotations

import contextlib
import os
import resource
import stat
from dataclasses import dataclass
from pathlib import Path

#: How often the manager measures the writable layers of sessions with a disk limit.
DISK_WATCH_INTERVAL_S = 2.0
#: A session's CPU cap unless told otherwise: every core of the machine but one (at least
#: one), so that no session, fork bomb or busy loop, takes the runtime's and the other
#: sessions' last core.
DEFAULT_CPUS = float(max(1, (os.cpu_count() or 1) - 1))


@dataclass(frozen=True)
class SessionLimits:
    """The budget of one session (None: no limit of that kind)."""

    #: Processes and threads of the session (cgroup) / of its root user (rlimit).
    pids: int | None = 512
    #: Memory of the whole session (cgroup) / of each of its processes (rlimit).
    memory_bytes: int | None = 2 * 1024**3
    #: Bytes in the session's writable layer (its own files); also the largest file.
    disk_bytes: int | None = 10 * 1024**3
    #: CPU time of the whole session, in CPUs (1.5: one and a half cores); cgroups only.
    cpus: float | None = DEFAULT_CPUS

    def rlimits(self) -> dict[str, int]:
        """The ``resource.RLIMIT_*`` names and values the tool server sets without cgroups."""
        wanted = {"RLIMIT_NPROC": self.pids, "RLIMIT_DATA": self.memory_bytes}
        wanted["RLIMIT_FSIZE"] = self.disk_bytes
        return {name: value for name, value in wanted.items() if value is not None}

    def summary(self) -> str:
        """One line for the log: ``memory 2G, disk 10G, 512 processes, CPUs no cap``."""
        memory = human_size(self.memory_bytes) if self.memory_bytes else "no limit"
        disk = human_size(self.disk_bytes) if self.disk_bytes else "no limit"
        pids = f"{self.pids} processes" if self.pids else "processes no limit"
        cpus = f"{self.cpus:g} CPUs" if self.cpus else "CPUs no cap"
        return f"memory {memory}, disk {disk}, {pids}, {cpus}"


def human_size(size: int) -> str:
    """``2G``, ``512M``: the largest unit that divides the size (``parse_size`` reads it)."""
    for unit in ("T", "G", "M", "K"):
        if size % _UNITS[unit] == 0:
            return f"{size // _UNITS[unit]}{unit}"
    return str(size)


def describe(limits: SessionLimits, cgroup_version: int | None, own_disks: bool = False) -> str:
    """One line for ``serve``'s start: which limits are in force, and how (``own_disks``:
    each session's writable layer is a filesystem of the limit's size, see ``disk.py``)."""
    parts = []
    if limits.pids is not None:
        # Rootless without cgroups, one count for all the session's ids (process_bound.py).
        parts.append(f"{limits.pids} processes" + ("" if cgroup_version else " of all its ids"))
    if limits.memory_bytes is not None:
        per = "per session" if cgroup_version else "per process"
        parts.append(f"{limits.memory_bytes / 1024**2:g} MiB memory {per}")
    if limits.disk_bytes is not None:
        how = "a filesystem of its own" if own_disks else "watched"
        parts.append(f"{limits.disk_bytes / 1024**2:g} MiB disk ({how})")
    if limits.cpus is not None:
        how = "" if cgroup_version else " (not enforced: the kernel only shares CPU fairly)"
        parts.append(f"{limits.cpus:g} CPUs{how}")
    budget = ", ".join(parts) or "none"
    if cgroup_version:
        return f"session limits: cgroup v{cgroup_version} ({budget})"
    return (
        f"session limits: resource limits (rlimits: {budget}); no usable cgroup, so "
        "memory is limited per process, not per session (a delegated cgroup v2 subtree, "
        "e.g. systemd-run --user --scope -p Delegate=yes, limits it per session)"
    )


_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_size(text: str) -> int:
    """Bytes from a size such as ``512M``, ``2G``, ``10GiB`` or ``1048576``.

    Raises:
        ValueError: not a positive size, with the accepted forms in the message.
    """
    cleaned = text.strip().upper().removesuffix("IB").removesuffix("B")
    number, unit = cleaned, ""
    if cleaned and cleaned[-1] in _UNITS:
        number, unit = cleaned[:-1], cleaned[-1]
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError(f"{text!r} is not a size (use e.g. 512M, 2G, 10G or a byte count)")
    return int(value * _UNITS[unit])


def current_rlimit(name: str) -> int:
    """This process's soft limit ``name`` (``resource.RLIM_INFINITY`` when unlimited)."""
    return resource.getrlimit(getattr(resource, name))[0]


def disk_usage(directories: list[Path]) -> int:
    """Bytes allocated to the files below ``directories`` (not following links, not
    crossing into other filesystems; what cannot be read counts as nothing).

    The session changes these folders while they are measured: the walk goes by folder
    descriptor (``os.fwalk``), so a folder swapped for a link never leads it to the host's.
    """
    total = 0
    for directory in directories:
        try:
            top = os.lstat(directory)
        except OSError:
            continue
        if not stat.S_ISDIR(top.st_mode):
            continue
        total += top.st_blocks * 512
        with contextlib.suppress(OSError):
            for _folder, dirs, files, folder_fd in os.fwalk(directory, follow_symlinks=False):
                below = set()
                for name in dirs + files:
                    with contextlib.suppress(OSError):
                        info = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
                        if info.st_dev != top.st_dev:
                            continue
                        total += info.st_blocks * 512
                        if stat.S_ISDIR(info.st_mode):
                            below.add(name)
                dirs[:] = [name for name in dirs if name in below]
    return total
