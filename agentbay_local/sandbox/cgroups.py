"""Per-session resource limits with cgroups (v1 or v2, whichever the machine has).

One child cgroup per session (per controller hierarchy on v1) holds every process of the
session: ``pids.max`` stops fork bombs, the memory limit stops memory hogs, and the
cgroup's process list is a reliable way to find and kill what is left at release.
Where no controller is usable, sessions get resource limits instead (see ``limits.py``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from agentbay.contract import get_logger
from agentbay_local.sandbox.inside import procs

log = get_logger("agentbay.local.sandbox")

_CGROUP_ROOT = Path("/sys/fs/cgroup")
#: The leaf a rootless runtime moves itself into in a delegated cgroup v2 subtree.
_RUNTIME_LEAF = "agentbay-runtime"
#: The CFS period a CPU limit is expressed in (the kernel's default, 100 ms).
_CPU_PERIOD_US = 100_000


@dataclass
class CgroupLayout:
    """Where session cgroups are created: one parent directory per hierarchy."""

    version: int
    #: controller name -> parent directory (v2: one directory for both controllers)
    parents: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def detect(cls, *, cpu: bool = False) -> CgroupLayout | None:
        """The usable layout here, or None (logged) when no pids/memory controller is.

        ``cpu``: also the cpu controller, for a CPU limit (on cgroup v1 a hierarchy more
        to join per sandbox, so only when a limit asks for it).
        """
        wanted = {"pids", "memory", "cpu"} if cpu else {"pids", "memory"}
        try:
            if (_CGROUP_ROOT / "cgroup.controllers").exists():
                layout = _detect_v2(wanted)
            else:
                layout = _detect_v1(wanted)
        except OSError as exc:
            layout = None
            log.debug("cgroup detection failed: %s", exc)
        if layout is None or not layout.parents:
            log.debug("no usable pids/memory cgroup controller")
            return None
        return layout

    def directories(self, name: str) -> list[Path]:
        """The directories a cgroup called ``name`` has (one per distinct parent)."""
        return [parent / name for parent in dict.fromkeys(self.parents.values())]


def _own_paths() -> dict[str, str]:
    """controller (or "" for v2) -> this process's cgroup path."""
    paths: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _writable(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK)


def _detect_v2(wanted: set[str]) -> CgroupLayout | None:
    own = _CGROUP_ROOT / _own_paths().get("", "/").lstrip("/")
    if own.name == _RUNTIME_LEAF:  # moved there by an earlier detection (see below)
        own = own.parent
    # Our own cgroup first; the root as a fallback (it is exempt from the rule that a
    # cgroup with processes cannot delegate controllers to children).
    for parent in dict.fromkeys([own, _CGROUP_ROOT]):
        if not _writable(parent):
            continue
        enabled = set((parent / "cgroup.subtree_control").read_text().split())
        missing = wanted - enabled
        available = set((parent / "cgroup.controllers").read_text().split())
        if missing & available and parent == own and os.geteuid() != 0:
            _leave_for_a_leaf(own)
        if missing & available:
            with contextlib.suppress(OSError):
                enable = " ".join(f"+{name}" for name in sorted(missing & available))
                (parent / "cgroup.subtree_control").write_text(enable)
            enabled = set((parent / "cgroup.subtree_control").read_text().split())
        usable = wanted & enabled
        if usable & {"pids", "memory"}:
            return CgroupLayout(2, {name: parent for name in sorted(usable)})
    return None


def _leave_for_a_leaf(own: Path) -> None:
    """Rootless in a delegated cgroup v2 subtree (e.g. ``systemd-run --user --scope -p
    Delegate=yes``): move this process into a leaf of its own cgroup, so that the cgroup,
    free of processes, may enable controllers for session cgroups beside that leaf (the
    "no internal processes" rule). Nothing happens where other processes share the cgroup.
    """
    try:
        members = (own / "cgroup.procs").read_text().split()
        if members != [str(os.getpid())]:
            return
        leaf = own / _RUNTIME_LEAF
        leaf.mkdir(exist_ok=True)
        (leaf / "cgroup.procs").write_text(str(os.getpid()))
    except OSError as exc:
        log.debug("cannot move into a leaf of %s: %s", own, exc)


def _detect_v1(wanted: set[str]) -> CgroupLayout | None:
    mounts: dict[str, Path] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fstype, _source, options = ([*right.split(), "", "", ""])[:3]
        if fstype == "cgroup":
            for option in options.split(","):
                if option in wanted:
                    mounts[option] = Path(left.split()[4])
    own = _own_paths()
    layout = CgroupLayout(1)
    for controller, mountpoint in mounts.items():
        candidate = mountpoint / own.get(controller, "/").lstrip("/")
        for parent in (candidate, mountpoint):
            if _writable(parent):
                layout.parents[controller] = parent
                break
    return layout


class SessionCgroup:
    """The cgroup(s) of one session: create, join, list, kill, remove."""

    def __init__(self, layout: CgroupLayout, name: str) -> None:
        self.layout = layout
        self.name = name

    @property
    def directories(self) -> list[Path]:
        """This cgroup's directories (one per hierarchy)."""
        return self.layout.directories(self.name)

    def create(
        self, pids_max: int | None, memory_max_bytes: int | None, cpus: float | None = None
    ) -> None:
        """Make the directories and write the limits (None: the controller's "max")."""
        for directory in self.directories:
            directory.mkdir(exist_ok=True)
        for controller, parent in self.layout.parents.items():
            directory = parent / self.name
            limit = {"pids": pids_max, "memory": memory_max_bytes, "cpu": cpus}[controller]
            if limit is None:
                continue  # a new cgroup starts without a limit
            if controller == "cpu":
                quota = max(1000, int(float(limit) * _CPU_PERIOD_US))
                if self.layout.version == 1:
                    (directory / "cpu.cfs_period_us").write_text(str(_CPU_PERIOD_US))
                    (directory / "cpu.cfs_quota_us").write_text(str(quota))
                else:
                    (directory / "cpu.max").write_text(f"{quota} {_CPU_PERIOD_US}")
            elif controller == "pids":
                (directory / "pids.max").write_text(str(pids_max))
            elif self.layout.version == 1:
                (directory / "memory.limit_in_bytes").write_text(str(memory_max_bytes))
            else:
                (directory / "memory.max").write_text(str(memory_max_bytes))
                # No swapping around the limit (ignored where the kernel has no swap files).
                with contextlib.suppress(OSError):
                    (directory / "memory.swap.max").write_text("0")

    def oom_kills(self) -> int:
        """How many processes of the session the kernel killed for its memory limit."""
        memory = self.layout.parents.get("memory")
        if memory is None:
            return 0
        name = "memory.oom_control" if self.layout.version == 1 else "memory.events"
        with contextlib.suppress(OSError, ValueError):
            for line in (memory / self.name / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def add(self, pid: int) -> None:
        """Move a process (and its threads) into every hierarchy of this cgroup."""
        for directory in self.directories:
            (directory / "cgroup.procs").write_text(str(pid))

    def rename(self, name: str) -> None:
        """Rename the cgroup (processes stay in it); keeps the old name if that fails."""
        try:
            for directory in self.directories:
                directory.rename(directory.with_name(name))
        except OSError as exc:
            log.debug("cannot rename cgroup %s to %s: %s", self.name, name, exc)
            return
        self.name = name

    def pids(self) -> set[int]:
        """Every process currently in the cgroup."""
        found: set[int] = set()
        for directory in self.directories:
            with contextlib.suppress(OSError):
                found.update(int(pid) for pid in (directory / "cgroup.procs").read_text().split())
        return found

    def kill(self, timeout_s: float = 5.0) -> bool:
        """SIGKILL everything in the cgroup until it is empty; False if it never empties."""
        deadline = time.monotonic() + timeout_s
        for directory in self.directories:
            kill_file = directory / "cgroup.kill"  # v2, Linux 5.14+: atomic, race-free
            if kill_file.exists():
                with contextlib.suppress(OSError):
                    kill_file.write_text("1")
        while True:
            pids = self.pids()
            if not pids:
                return True
            procs.kill_all(pids)
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)

    def remove(self) -> None:
        """Delete the directories (retrying while dying processes leave)."""
        for directory in self.directories:
            for attempt in range(200):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY or attempt == 199:
                        log.warning("cannot remove cgroup %s: %s", directory, exc)
                        break
                    time.sleep(0.01)


def stale_cgroups(layout: CgroupLayout, prefix: str) -> list[SessionCgroup]:
    """Session cgroups named ``prefix*`` left behind by an earlier process."""
    names: set[str] = set()
    for parent in layout.parents.values():
        with contextlib.suppress(OSError):
            names.update(
                p.name for p in parent.iterdir() if p.is_dir() and p.name.startswith(prefix)
            )
    return [SessionCgroup(layout, name) for name in sorted(names)]
