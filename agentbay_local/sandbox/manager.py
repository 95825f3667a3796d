"""``SandboxManager``: creates, pools, hands out and releases session sandboxes."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import os
import secrets
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from agentbay.contract import get_logger
from agentbay_local.sandbox import disk, egress, launch, layers, layout, limits, userns
from agentbay_local.sandbox.cgroups import CgroupLayout, SessionCgroup, stale_cgroups
from agentbay_local.sandbox.egress import NetworkPolicy
from agentbay_local.sandbox.handle import Sandbox
from agentbay_local.sandbox.image import HOST_ROOT, SandboxImage
from agentbay_local.sandbox.limits import SessionLimits

log = get_logger("agentbay.local.sandbox")

#: How long a new sandbox may take to report ready.
START_TIMEOUT_S = 30.0
_POOL_PREFIX = "pool-"
#: User images whose pools are kept at once (the most recently used ones).
MAX_IMAGE_POOLS = 4
#: How long after the last create a pool that still has sandboxes is refilled. A new
#: session's first commands come right after its create; a sandbox starting meanwhile (its
#: tool server's boot is ~0.1 s of CPU) took their CPU on 2 cores and doubled create ->
#: first command (docs/performance.md). An empty pool is refilled at once.
POOL_REFILL_DELAY_S = 0.25


class SandboxManager:
    """All sandboxes of one runtime, under ``<data_dir>/sessions/``.

    Isolated (the default), each session gets its own PID, mount, UTS, IPC and network
    namespaces (the network: its own loopback, plus outbound NAT as ``network`` allows,
    see ``egress.py``), a copy-on-write overlay of its image's root filesystem (or of the
    host's ``/``: ``HOST_ROOT``) as its root, a reduced capability set and cgroup limits.
    ``isolated=False`` runs each session's tool server as a plain host process in
    ``<data_dir>/sessions/<id>/home`` (no isolation at all, the host's network included; the
    caller must warn the user).

    ``pool_size`` sandboxes are kept started and waiting, so that ``create`` only has to
    hand one out (rename its directory, set its hostname): for the built-in images from
    ``start()`` on, and for each user image once a session used it. A pool is refilled
    ``POOL_REFILL_DELAY_S`` after the last create, so that starting sandboxes does not take
    the CPU from the new session's first commands; at once when it ran empty.

    ``sessions_dir`` (default ``<data_dir>/sessions``) is the manager's own: it cleans up
    everything in it, so two managers on one data dir (a server and an image build) need
    different ones.

    Use from one asyncio event loop. ``close()`` releases everything; ``close_sync()`` does
    the same without an event loop and is registered with ``atexit`` (by ``start()`` or the
    first ``create()``), so a forgotten ``close()`` does not leave mounts or processes
    behind. If the process dies without either (SIGKILL), the sessions' processes end by
    themselves, and a small watchdog process removes the mounts, cgroups and directories;
    ``start()`` on the same data dir cleans up whatever is still left.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        isolated: bool = True,
        pool_size: int = 2,
        pids_max: int | None = SessionLimits.pids,
        memory_max_bytes: int | None = SessionLimits.memory_bytes,
        disk_max_bytes: int | None = None,
        cpus: float | None = SessionLimits.cpus,
        sessions_dir: Path | None = None,
        on_session_failed: Callable[[str], None] | None = None,
        network: NetworkPolicy | None = None,
        screen: dict[str, int] | None = None,
    ) -> None:
        self.data_dir = Path(os.path.realpath(data_dir))
        self.isolated = isolated
        #: Isolated without root: each sandbox in a user namespace of its own.
        self.rootless = isolated and userns.rootless()
        self.pool_size = max(0, pool_size)
        #: Every session's budget, enforced by cgroups where usable, else by rlimits.
        self.limits = SessionLimits(pids_max, memory_max_bytes, disk_max_bytes, cpus)
        #: Each session's writable layer on a filesystem of the disk limit's size (root, loop
        #: devices); otherwise a disk limit is watched.
        self.own_disks = (
            disk_max_bytes is not None and isolated and not self.rootless and disk.problem() is None
        )
        self._on_session_failed = on_session_failed
        self.sessions_dir = Path(os.path.realpath(sessions_dir or self.data_dir / "sessions"))
        self.network = network or NetworkPolicy()
        #: Why sessions got no egress although the policy asked for it (None: no problem).
        self.network_problem: str | None = None
        if isolated and self.network.mode == "egress":
            self.network_problem = egress.egress_problem()
            if self.network_problem:
                log.warning("sessions start without network: %s", self.network_problem)
                self.network = NetworkPolicy("none")
        self.screen = dict(screen or {})  # the size of session displays (inside/desktop.py)
        layout.check_data_dir(self.data_dir)
        # Cgroup names carry a tag of the sessions dir: stale-cgroup cleanup must never
        # touch the sessions of another manager sharing the same parent cgroup.
        tag = hashlib.sha256(str(self.sessions_dir).encode()).hexdigest()[:8]
        self._cgroup_prefix = f"agentbay-{tag}-"
        self._cgroups: CgroupLayout | None = None
        self._ready = False
        self._closed = False
        self._active: dict[str, Sandbox] = {}
        self._pool: dict[str, list[Sandbox]] = {}  # by SandboxImage.key
        self._pool_images: dict[str, SandboxImage] = {}  # the images pools are kept for
        self._filling: dict[str, set[asyncio.Task[None]]] = {}
        self._refill_timers: dict[str, asyncio.TimerHandle] = {}  # by SandboxImage.key
        self._closing: set[asyncio.Task[None]] = set()  # strong refs to background closes
        self._dying: dict[str, asyncio.Task[None]] = {}  # sessions whose sandbox stopped
        self._watchdog: tuple[subprocess.Popen[bytes], int] | None = None
        self._disk_watch: asyncio.Task[None] | None = None
        # close_sync() runs on whatever thread atexit or a signal handler uses, while the
        # event loop's thread may be finishing a sandbox start: handing a sandbox to the
        # pool or to a session and closing the manager exclude each other, so a start that
        # finishes after the close always sees it and releases what it made.
        self._handover = threading.Lock()
        self._host_root: Path | None = None  # see layers.mount_host_root
        self._idmapped_root: int | None = None  # see userns.idmapped_root
        self._idmapped_trees: dict[Path, int] = {}  # image trees, by path

    @property
    def cgroup_prefix(self) -> str:
        """The name prefix of this data dir's session cgroups (a tag of the data dir)."""
        return self._cgroup_prefix

    @property
    def watchdog_pid(self) -> int | None:
        """The PID of the watchdog that cleans up if this process dies (None when stopped)."""
        return self._watchdog[0].pid if self._watchdog is not None else None

    @staticmethod
    def limits_in_force(*, isolated: bool, budget: SessionLimits | None = None) -> str:
        """Which limits sessions get on this machine, and how (for ``serve``'s start)."""
        if not isolated:
            return "session limits: none (unisolated)"
        budget = budget or SessionLimits()
        found = CgroupLayout.detect(cpu=budget.cpus is not None)
        own_disks = not userns.rootless() and disk.problem() is None
        return limits.describe(budget, found.version if found else None, own_disks)

    # ---- lifecycle ----
    async def start(self, pooled: Sequence[SandboxImage] = (HOST_ROOT,)) -> None:
        """Clean up after a crashed earlier run on this data dir, then fill the pools of
        ``pooled`` (the images of the sessions expected first; others get a pool once a
        session used them)."""
        self._prepare()
        await asyncio.to_thread(self._clean_stale)
        for image in pooled:
            if self.pool_size:
                self._pool_images[image.key] = image
            self._refill(image)
        # Tracked like any refill, so a close() meanwhile cancels and waits for them.
        await asyncio.gather(*self._filling_tasks(), return_exceptions=True)

    def ready_count(self, image: SandboxImage = HOST_ROOT) -> int:
        """How many started sandboxes wait in the pool for sessions of ``image``."""
        return len(self._pool.get(image.key, ()))

    def _prepare(self) -> None:
        if self._ready:
            return
        self.sessions_dir.mkdir(parents=True, exist_ok=True)
        self._cgroups = CgroupLayout.detect(cpu=self.limits.cpus is not None)
        if self._cgroups is None and self.isolated:
            log.info("no usable cgroup: sessions get per-process resource limits (rlimits)")
        parents = list(dict.fromkeys(self._cgroups.parents.values())) if self._cgroups else []
        try:
            self._watchdog = launch.start_watchdog(
                self.sessions_dir, self._cgroup_prefix, parents, rootless=self.rootless
            )
        except OSError as exc:
            log.warning("no watchdog (a killed runtime would leave mounts behind): %s", exc)
        atexit.register(self.close_sync)
        if self.isolated and self.limits.disk_bytes is not None and not self.own_disks:
            self._disk_watch = asyncio.get_running_loop().create_task(self._watch_disk())
        self._ready = True

    async def _watch_disk(self) -> None:
        """Stop the commands of sessions whose writable layer outgrew the disk limit."""
        budget = self.limits.disk_bytes
        assert budget is not None
        while True:
            await asyncio.sleep(limits.DISK_WATCH_INTERVAL_S)
            for sandbox in list(self._active.values()):
                used = await asyncio.to_thread(limits.disk_usage, sandbox.writable_dirs())
                if used > budget:
                    log.warning(
                        "session %s uses %d bytes of disk (limit %d): its commands are stopped",
                        sandbox.session_id,
                        used,
                        budget,
                    )
                    await asyncio.to_thread(sandbox.stop_commands)

    def _stop_watchdog(self) -> None:
        """Tell the watchdog this is an orderly shutdown (nothing for it to clean)."""
        if self._watchdog is None:
            return
        process, pipe = self._watchdog
        self._watchdog = None
        with contextlib.suppress(OSError):
            os.write(pipe, b"q")
        os.close(pipe)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()

    def _clean_stale(self) -> None:
        layout.unmount_tree(self.sessions_dir)
        if self._cgroups is not None:
            for cgroup in stale_cgroups(self._cgroups, self._cgroup_prefix):
                log.info("removing the stale cgroup %s", cgroup.name)
                cgroup.kill()
                cgroup.remove()
        if self.sessions_dir.is_dir():
            for child in self.sessions_dir.iterdir():
                log.info("removing the stale session directory %s", child)
                layout.remove_session_dir(child)

    async def close(self) -> None:
        """Release every sandbox, pooled ones included (idempotent).

        Sandbox starts still in flight are waited for (each is bounded by
        ``START_TIMEOUT_S``) and release what they made: directories, mounts, processes and
        cgroups are gone when this returns. They are not cancelled: a cancellation landing
        in their own teardown would return before its worker thread finished it.
        """
        sandboxes = self._take_all()
        for timer in self._refill_timers.values():
            timer.cancel()
        self._refill_timers.clear()
        if self._disk_watch is not None:
            self._disk_watch.cancel()
        await asyncio.gather(*self._filling_tasks(), *self._closing, return_exceptions=True)
        await asyncio.gather(*(s.close() for s in sandboxes), return_exceptions=True)
        await asyncio.to_thread(self._remove_host_root)
        await asyncio.to_thread(self._stop_watchdog)
        atexit.unregister(self.close_sync)

    def close_sync(self) -> None:
        """``close`` for places without a running event loop (atexit, signal handlers).

        Safe from any thread. A sandbox start still in flight on the event loop releases
        its sandbox itself when it finishes (it finds the manager closed); ``close()``
        afterwards waits for that.
        """
        for sandbox in self._take_all():
            try:
                sandbox.destroy_sync()
            except Exception:  # keep releasing the others
                log.exception("releasing sandbox %s failed", sandbox.session_id)
        self._remove_host_root()
        self._stop_watchdog()

    def _take_all(self) -> list[Sandbox]:
        """Mark the manager closed and take every pooled and active sandbox out of it."""
        with self._handover:
            self._closed = True
            sandboxes = [s for pool in self._pool.values() for s in pool]
            sandboxes += self._active.values()
            self._pool.clear()
            self._active.clear()
        return sandboxes

    def _filling_tasks(self) -> list[asyncio.Task[None]]:
        return [task for tasks in self._filling.values() for task in tasks]

    def _remove_host_root(self) -> None:
        if self._host_root is not None:
            self._host_root = None
            layout.remove_session_dir(self.sessions_dir / ".host")
        if self._idmapped_root is not None:
            os.close(self._idmapped_root)
            self._idmapped_root = None
        for fd in self._idmapped_trees.values():
            os.close(fd)
        self._idmapped_trees.clear()

    # ---- sessions ----
    async def create(
        self,
        session_id: str,
        *,
        hostname: str,
        image_id: str,
        image: SandboxImage = HOST_ROOT,
    ) -> Sandbox:
        """A running sandbox for a new session (from the pool when one is ready).

        ``image_id`` is what the session asked for; ``image`` what its sandbox runs.

        Raises:
            ValueError: the session id is in use or not a plain name.
            RuntimeError: the manager is closed or the sandbox could not start.
        """
        if self._closed:
            raise RuntimeError("the sandbox manager is closed")
        if session_id in self._active:
            raise ValueError(f"the session {session_id} already has a sandbox")
        if not session_id or "/" in session_id or session_id.startswith((".", _POOL_PREFIX)):
            raise ValueError(f"invalid session id {session_id!r}")
        if image.layers and not self.isolated:
            raise ValueError("user images need isolated sessions")
        self._prepare()
        self._retire_older(image)
        pool = self._pool.get(image.key, [])
        sandbox = None
        while pool and sandbox is None:
            candidate = pool.pop(0)
            if candidate.running:
                sandbox = candidate
            else:
                self._close_later(candidate)
        if self.pool_size:
            self._keep_pool_for(image)
        self._refill_later(image)
        if sandbox is None:
            sandbox = await self._spawn(session_id, image)
        try:
            assigned = self._assign(sandbox, session_id, hostname, image_id)
        except Exception as exc:
            await sandbox.close()
            raise RuntimeError(f"could not set up the sandbox of {session_id}: {exc}") from exc
        if not assigned:  # the manager was closed while this sandbox was starting
            await sandbox.close()
            raise RuntimeError("the sandbox manager is closed")
        return sandbox

    def get(self, session_id: str) -> Sandbox | None:
        """The sandbox of a session, if it has one."""
        return self._active.get(session_id)

    async def release(self, session_id: str) -> None:
        """End every process of the session and delete its files (idempotent)."""
        sandbox = self._active.pop(session_id, None)
        if sandbox is not None:
            await sandbox.close()
        dying = self._dying.get(session_id)
        if dying is not None:  # its sandbox stopped by itself and is being cleaned up
            await asyncio.shield(dying)

    # ---- internals ----
    def _retire_older(self, image: SandboxImage) -> None:
        """Drop the pools of earlier builds of the same image name (rebuilt or removed)."""
        if not image.name:
            return
        for key, known in list(self._pool_images.items()):
            if known.name == image.name and key != image.key:
                self._retire(key)

    def _keep_pool_for(self, image: SandboxImage) -> None:
        """Keep a pool for ``image`` from now on; beyond ``MAX_IMAGE_POOLS`` user images,
        the pool of the one least recently used goes (its sandboxes hold memory). Base
        images (no layers: the built-ins, the host's ``/``) keep theirs."""
        self._pool_images.pop(image.key, None)
        self._pool_images[image.key] = image  # last = most recently used
        user_keys = [key for key, known in self._pool_images.items() if known.layers]
        for key in user_keys[: max(0, len(user_keys) - MAX_IMAGE_POOLS)]:
            self._retire(key)

    def _retire(self, key: str) -> None:
        """Stop pooling for ``key``; its starts in flight release what they make."""
        self._pool_images.pop(key, None)
        for sandbox in self._pool.pop(key, []):
            self._close_later(sandbox)

    def _assign(self, sandbox: Sandbox, session_id: str, hostname: str, image_id: str) -> bool:
        """Give the sandbox to the session; False if the manager is closed (not given)."""
        if self._closed:
            return False
        if sandbox.session_dir.name != session_id:
            target = self.sessions_dir / session_id
            if target.exists():
                layout.remove_session_dir(target)
            # The overlay mount moves with its directory; the sandbox holds it by reference.
            os.rename(sandbox.session_dir, target)
            sandbox.session_dir = target
            if sandbox._cgroup is not None:
                sandbox._cgroup.rename(self._cgroup_prefix + session_id)
        sandbox.set_hostname(hostname)
        sandbox.session_id = session_id
        sandbox.image_id = image_id
        with self._handover:
            if self._closed:
                return False
            self._active[session_id] = sandbox
        sandbox.on_unexpected_exit = self._sandbox_died
        return True

    def _sandbox_died(self, sandbox: Sandbox) -> None:
        """A session's tool server went away by itself: free what it held, report it."""
        session_id = sandbox.session_id
        if self._active.get(session_id) is not sandbox:
            return
        log.warning("the sandbox of session %s stopped unexpectedly", session_id)
        del self._active[session_id]
        self._dying[session_id] = task = self._close_later(sandbox)
        task.add_done_callback(lambda _: self._dying.pop(session_id, None))
        if self._on_session_failed is not None:
            self._on_session_failed(session_id)

    async def _spawn(self, name: str, image: SandboxImage) -> Sandbox:
        """Start a sandbox of ``image`` in ``sessions/<name>`` and wait until it is ready."""
        session_dir = self.sessions_dir / name
        session_dir.mkdir(parents=True)
        cgroup = None
        sandbox = None
        try:
            overlays = None
            if self.rootless:
                if image.tree is not None:
                    overlays = layers.rootless_image_root(session_dir, [*image.layers, image.tree])
                elif image.layers:
                    raise ValueError("user images on the host's / need the runtime to run as root")
                else:
                    overlays = layers.rootless_overlays(session_dir)
            elif self.isolated:
                if self.own_disks:
                    assert self.limits.disk_bytes is not None
                    template = disk.template(self.data_dir / "disks", self.limits.disk_bytes)
                    disk.mount(template, session_dir, session_dir / layers.DISK_DIR)
                lowest = self._lowest(image)
                base = userns.root_mode_ids().start
                layout.mount_overlay(
                    session_dir, image.layers, lowest, base, host_data=image.tree is None
                )
            else:
                (session_dir / "home").mkdir()
            rlimits = self.limits.rlimits()
            if self._cgroups is not None:
                cgroup = SessionCgroup(self._cgroups, self._cgroup_prefix + name)
                cgroup.create(self.limits.pids, self.limits.memory_bytes, self.limits.cpus)
                rlimits = {k: v for k, v in rlimits.items() if k == "RLIMIT_FSIZE"}
            rules = None
            if self.isolated and self.network.mode == "egress":
                rules = egress.ruleset(self.network, egress.host_addresses())
            started = launch.start(
                session_dir,
                isolated=self.isolated,
                hide=[str(self.data_dir)],
                overlays=overlays,
                rlimits=rlimits,
                image=image,
                egress_rules=rules,
                screen=self.screen,
            )
            sandbox = Sandbox(
                session_dir=session_dir,
                isolated=self.isolated,
                process=started.process,
                channel=started.channel,
                port_channel=started.port_channel,
                cgroup=cgroup,
                rootless=self.rootless,
            )
            sandbox.memory_limit_bytes = self.limits.memory_bytes
            if self.isolated and not self.rootless:
                base = userns.root_mode_ids().start
                sandbox.root_owner = (base, base)
            # Also moves the tool server into the cgroup before any tool call: every
            # process the session ever runs descends from it and inherits the cgroup.
            await sandbox.connect(START_TIMEOUT_S)
            if rules is not None:
                await asyncio.to_thread(sandbox.attach_egress, self.network)
            return sandbox
        except BaseException:
            if sandbox is not None:
                await asyncio.shield(sandbox.close())
            else:
                await asyncio.to_thread(_cleanup_partial, session_dir, cgroup)
            raise

    def _lowest(self, image: SandboxImage) -> Path:
        """What the image's layers stack on: its root filesystem, or else the host's ``/``,
        with the owners shifted onto the sessions' ids (``userns.idmapped_root``); for the
        host's ``/``, a view of it of the manager's own when the layers need one
        (``layers.needs_host_root_view``)."""
        if image.tree is not None:
            fd = self._idmapped_trees.get(image.tree)
            if fd is None:
                fd = userns.idmapped_root(userns.root_mode_ids(), image.tree)
                self._idmapped_trees[image.tree] = fd
            return Path(f"/proc/self/fd/{fd}")
        if self._idmapped_root is None:
            self._idmapped_root = userns.idmapped_root(userns.root_mode_ids())
        shifted = Path(f"/proc/self/fd/{self._idmapped_root}")
        if not layers.needs_host_root_view(image.layers):
            return shifted
        if self._host_root is None:
            # Below the sessions dir ("." never starts a session id): removed with it by
            # close(), the watchdog and the stale cleanup of the next start.
            self._host_root = layers.mount_host_root(self.sessions_dir / ".host", str(shifted))
        return self._host_root

    def _close_later(self, sandbox: Sandbox) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(sandbox.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        return task

    def _refill_later(self, image: SandboxImage) -> None:
        """Refill ``image``'s pool once creates pause for ``POOL_REFILL_DELAY_S`` (each
        create pushes it back), or at once when the pool is empty."""
        timer = self._refill_timers.pop(image.key, None)
        if timer is not None:
            timer.cancel()
        if not self._pool.get(image.key):
            self._refill(image)
            return
        self._refill_timers[image.key] = asyncio.get_running_loop().call_later(
            POOL_REFILL_DELAY_S, self._refill_now, image
        )

    def _refill_now(self, image: SandboxImage) -> None:
        self._refill_timers.pop(image.key, None)
        self._refill(image)

    def _refill(self, image: SandboxImage) -> None:
        if self._closed or image.key not in self._pool_images:
            return
        filling = self._filling.setdefault(image.key, set())
        # A finished start is in the pool already (or failed) but stays in ``filling``
        # until the loop runs its done callback: counted, a create in between left the pool
        # empty for good.
        starting = sum(1 for task in filling if not task.done())
        missing = self.pool_size - len(self._pool.get(image.key, ())) - starting
        for _ in range(max(0, missing)):
            task = asyncio.get_running_loop().create_task(self._fill_one(image))
            filling.add(task)
            task.add_done_callback(filling.discard)

    async def _fill_one(self, image: SandboxImage) -> None:
        try:
            sandbox = await self._spawn(_POOL_PREFIX + secrets.token_hex(6), image)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("could not start a pooled sandbox: %s", exc)
            return
        with self._handover:
            pooled = not self._closed and image.key in self._pool_images
            if pooled:
                self._pool.setdefault(image.key, []).append(sandbox)
        if not pooled:
            await sandbox.close()


def _cleanup_partial(session_dir: Path, cgroup: SessionCgroup | None) -> None:
    layout.remove_session_dir(session_dir)
    if cgroup is not None:
        with contextlib.suppress(OSError):
            cgroup.kill()
        cgroup.remove()
