"""``Sandbox``: the runtime's handle on one running sandbox (tool calls, processes, teardown)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentbay.contract import get_logger
from agentbay_local.sandbox import egress, layers, layout, userns
from agentbay_local.sandbox.answers import ToolAnswer
from agentbay_local.sandbox.cgroups import SessionCgroup
from agentbay_local.sandbox.egress import NetworkPolicy
from agentbay_local.sandbox.inside import jail, procs, syscalls
from agentbay_local.sandbox.ports import PortChannel
from agentbay_local.sandbox.session_files import SessionRoot

log = get_logger("agentbay.local.sandbox")

#: Longest line the runtime accepts from a tool server (its answers are capped below this).
MAX_LINE_BYTES = 128 * 1024 * 1024
NOT_RUNNING = "session sandbox is not running"
MEMORY_KILLED = (
    "(The kernel killed a process of this session: the session reached its memory limit, "
    "{limit}. The session goes on; use less memory or ask for a larger --session-memory.)"
)
STOPPED = (
    "the session's sandbox stopped unexpectedly (its tool server exited); the session "
    "is marked FAILED and its processes and files are released"
)
MALFORMED = "the session sandbox sent a malformed answer"


def hosts_text(hostname: str, neighbours: list[tuple[str, str]] | None = None) -> str:
    """A fresh machine's /etc/hosts that resolves ``hostname`` (Debian's 127.0.1.1 line),
    and the (address, name) pairs of ``neighbours`` (the other sessions of its network)."""
    others = [f"{address}\t{name}\n" for address, name in neighbours or [] if name != hostname]
    return (
        "127.0.0.1\tlocalhost\n"
        f"127.0.1.1\t{hostname}\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "ff02::1\tip6-allnodes\n"
        "ff02::2\tip6-allrouters\n"
    ) + "".join(others)


def write_hostname_files(session: SessionRoot, hostname: str) -> None:
    """Replace ``/etc/hostname`` and ``/etc/hosts`` of a session.

    Each file is renamed into place, so a link there (the image's) is replaced, never followed.
    """
    for name, text in (("hostname", hostname + "\n"), ("hosts", hosts_text(hostname))):
        session.write_file(f"/etc/{name}", text.encode(), 0o644)


class Sandbox:
    """One sandbox and its tool server, as the runtime sees it.

    Attributes:
        session_id: the session it serves ("" while it waits in the pool).
        image_id: the image the session asked for (every image is the host's root today).
        isolated: whether it runs in namespaces on an overlay root.
        rootless: whether those namespaces include a user namespace of its own (the
            runtime is not root; see ``userns.py``).
    """

    def __init__(
        self,
        *,
        session_dir: Path,
        isolated: bool,
        process: subprocess.Popen[bytes],
        channel: Any,
        port_channel: socket.socket,
        cgroup: SessionCgroup | None,
        rootless: bool = False,
    ) -> None:
        self.session_id = ""
        self.image_id = ""
        self.isolated = isolated
        self.rootless = rootless and isolated
        self._root_fd: int | None = None  # rootless: the session's root, held open
        # Held while the descriptor is copied or closed: a closed number may be reused at
        # once, by another session's files.
        self._root_fd_lock = threading.Lock()
        #: Host (uid, gid) that files the runtime puts into the session get: the session's
        #: root user, when the runtime's own ids are not it. None: the runtime's own.
        self.root_owner: tuple[int, int] | None = None
        self.session_dir = session_dir
        self._process = process
        self._socket = channel
        self._cgroup = cgroup
        self._pid: int | None = None  # host PID of the tool server, from its ready message
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._read_task: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()
        self._pending: dict[int, asyncio.Future[ToolAnswer]] = {}
        self._ids = itertools.count(1)
        self._running = False
        self._destroy_lock = threading.Lock()
        self._destroyed = False
        self._port_socket = port_channel
        self._ports = PortChannel(port_channel)
        #: Called (on the event loop) when the tool server goes away without ``close()``.
        self.on_unexpected_exit: Callable[[Sandbox], None] | None = None
        self._stopped_by_itself = False
        self._memory_kills_seen = 0
        #: The session's memory limit, for messages (set by the manager).
        self.memory_limit_bytes: int | None = None
        self._slirp: subprocess.Popen[bytes] | None = None
        self._slirp_exit_fd: int | None = None

    # ---- properties ----
    @property
    def root_path(self) -> Path:
        """Host path of the session's filesystem: the merged overlay root (isolated) or
        the session's home directory (unisolated).

        Rootless, the overlays exist only in the sandbox's namespaces: the path is then
        that of the runtime's descriptor of a copy of the session's mount tree, which the
        tool server made before adding ``/proc``, ``/dev`` or its own code and handed over
        (``jail.mount_rootless_root``): the same files the session has, without the
        sandbox's own mounts, as the host overlay mount shows them in root mode.
        """
        if self.rootless:
            if self._root_fd is None:
                raise OSError(errno.ESRCH, NOT_RUNNING)
            return Path(f"/proc/self/fd/{self._root_fd}")
        return self.session_dir / ("root" if self.isolated else "home")

    @property
    def pid(self) -> int | None:
        """Host PID of the tool server (PID 1 of the sandbox), once it is ready."""
        return self._pid

    @property
    def cgroup_directories(self) -> list[Path]:
        """The session's own cgroup directories (empty where sessions have no cgroup)."""
        return [] if self._cgroup is None else self._cgroup.directories

    @property
    def running(self) -> bool:
        """True while the tool server answers."""
        return self._running and self._process.poll() is None

    # ---- start ----
    async def connect(self, timeout_s: float) -> None:
        """Wait for the tool server's ready message and start reading its answers."""
        self._reader, self._writer = await asyncio.open_unix_connection(
            sock=self._socket, limit=MAX_LINE_BYTES
        )
        deadline = asyncio.get_running_loop().time() + timeout_s
        joining: asyncio.Future[None] | None = None
        try:
            async with asyncio.timeout_at(deadline):
                first = await self._reader.readline()
                if first.strip().isdigit():
                    self._pid = int(first)
                    if self._cgroup is not None:
                        # In a thread, overlapping the tool server's start-up: the move is
                        # slow, and nothing may fork in the sandbox before it is done.
                        joining = asyncio.ensure_future(
                            asyncio.to_thread(self._cgroup.add, self._pid)
                        )
                    hello = _decode(await self._reader.readline())
                else:
                    hello = _decode(first)
                if joining is not None:
                    await joining
        except TimeoutError:
            raise RuntimeError(f"the sandbox did not start within {timeout_s:g} s") from None
        finally:
            if joining is not None and not joining.done():
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.shield(joining)
        if not hello.get("ready") or self._pid is None:
            reason = hello.get("error") or self._log_tail() or "it exited during start-up"
            raise RuntimeError(f"the sandbox failed to start: {reason}")
        if self.rootless:
            self._root_fd = self._receive_root_view()
        self._running = True
        self._read_task = asyncio.get_running_loop().create_task(self._read_answers())

    def _receive_root_view(self) -> int:
        """The tool server's first port-channel datagram: its view of the session's files
        (sent before its ready message, so it is already queued)."""
        try:
            _data, fds, _flags, _address = socket.recv_fds(self._port_socket, 64, 1)
        except OSError as exc:
            raise RuntimeError(f"cannot reach the sandbox's files: {exc}") from exc
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            raise RuntimeError("the sandbox did not hand over its files")
        os.set_inheritable(fds[0], False)
        return fds[0]

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            text = (self.session_dir / "toolserver.log").read_text(errors="replace")
            return text.strip()[-2000:]
        return ""

    async def _read_answers(self) -> None:
        assert self._reader is not None
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                number, _, raw = line.partition(b" ")
                if not number.isdigit():
                    log.warning("sandbox %s: ignoring a malformed answer", self.session_id)
                    continue
                future = self._pending.pop(int(number), None)
                if future is not None and not future.done():
                    answer = ToolAnswer.parse(raw.rstrip(b"\n"))
                    future.set_result(answer or ToolAnswer.error(MALFORMED))
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            log.warning("sandbox %s: channel failed: %s", self.session_id or "(pool)", exc)
        finally:
            unexpected = self._running  # close() clears it before ending the channel
            self._running = False
            self._stopped_by_itself = unexpected
            message = STOPPED if unexpected else NOT_RUNNING
            for future in self._pending.values():
                if not future.done():
                    future.set_result(ToolAnswer.error(message))
            self._pending.clear()
            if unexpected and self.on_unexpected_exit is not None:
                self.on_unexpected_exit(self)

    def attach_egress(self, policy: NetworkPolicy) -> None:
        """Give the (started) sandbox its outbound NAT: a slirp4netns process (blocking).

        The process joins the session's cgroup, so it is counted, limited and killed with
        the session, and by the watchdog after a crash; it also ends by itself when the
        runtime's end of its exit pipe closes.
        """
        if self._pid is None:
            raise RuntimeError(NOT_RUNNING)
        log_path = self.session_dir / "slirp4netns.log"
        self._slirp, self._slirp_exit_fd = egress.start_slirp(self._pid, policy, log_path)
        if self._cgroup is not None:
            self._cgroup.add(self._slirp.pid)

    # ---- use ----
    async def call_tool(
        self, name: str, args: dict[str, Any], *, timeout_s: float
    ) -> dict[str, Any]:
        """Run one tool in the sandbox: ``{"content": [...], "isError": bool}``.

        See ``call_tool_answer``, which this decodes.
        """
        return (await self.call_tool_answer(name, args, timeout_s=timeout_s)).value

    async def call_tool_answer(
        self, name: str, args: dict[str, Any], *, timeout_s: float
    ) -> ToolAnswer:
        """Run one tool in the sandbox; the answer both decoded and as the JSON received.

        Never hangs and never raises for tool problems: a dead tool server answers
        ``isError`` "session sandbox is not running", and after ``timeout_s`` the answer is
        an ``isError`` timeout (the tool itself enforces the tool-level timeouts in
        ``args``; this is the outer guard).
        """
        if not self.running or self._writer is None:
            # _running is cleared by close() only: still set, the process went by itself
            # (its exit may be seen here before the channel's end of file is read).
            by_itself = self._stopped_by_itself or self._running
            return ToolAnswer.error(STOPPED if by_itself else NOT_RUNNING)
        request_id = next(self._ids)
        try:
            line = json.dumps({"id": request_id, "tool": name, "args": args}) + "\n"
        except (TypeError, ValueError) as exc:
            return ToolAnswer.error(f"Invalid arguments: {exc}")
        future: asyncio.Future[ToolAnswer] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            async with asyncio.timeout(timeout_s):
                async with self._write_lock:
                    self._writer.write(line.encode("ascii"))
                    await self._writer.drain()
                answer = await future
            if answer.value["isError"] and self._cgroup is not None:
                return self._note_memory_kills(answer)
            return answer
        except TimeoutError:
            return ToolAnswer.error(
                f"Execution failed. Error code:-1 Error message: [timeout] "
                f"the tool {name} did not answer within {timeout_s:g} s"
            )
        except (ConnectionError, RuntimeError):
            return ToolAnswer.error(NOT_RUNNING)
        finally:
            self._pending.pop(request_id, None)

    async def open_port_connection(self, port: int, timeout_s: float) -> socket.socket:
        """A TCP connection to ``127.0.0.1:port`` as the session sees it (its own loopback).

        Isolated sessions have a network namespace of their own, which the runtime never
        enters (a rootless runtime may not): the tool server connects from inside and passes
        the connected socket back over the port channel (SCM_RIGHTS). Unisolated sessions
        share the host's network, so there it is the host's ``127.0.0.1:port``.

        Returns a connected, non-blocking ``socket.socket`` the caller owns (and closes),
        ready for ``asyncio.open_connection(sock=...)`` or ``loop.sock_*``.

        Raises:
            ConnectionRefusedError: nothing listens on ``port`` in the session.
            TimeoutError: no connection within ``timeout_s``.
            ConnectionError: the sandbox is not running (released, or its tool server died).
            OSError: any other failure to connect (``errno`` as the session saw it);
                ``ValueError`` for a port outside 1-65535.
        """
        if not 0 < port < 65536:
            raise ValueError(f"invalid port {port}: expected 1-65535")
        if not self.running:
            raise ConnectionError(NOT_RUNNING)
        return await self._ports.open(port, timeout_s)

    async def open_stream_connection(self, timeout_s: float) -> socket.socket:
        """A new connection to the session's stream server (the in-session end of one
        session WebSocket, ``inside/streams.py``): JSON lines both ways, non-blocking, owned
        by the caller.

        Raises:
            ConnectionError: the sandbox is not running.
            TimeoutError: no connection within ``timeout_s``.
            OSError: the session could not make one.
        """
        if not self.running:
            raise ConnectionError(NOT_RUNNING)
        return await self._ports.open_stream(timeout_s)

    def _note_memory_kills(self, answer: ToolAnswer) -> ToolAnswer:
        """A failed call during which the kernel killed a process of the session for its
        memory limit says so (the tool itself only sees a SIGKILL)."""
        assert self._cgroup is not None
        kills = self._cgroup.oom_kills()
        if kills <= self._memory_kills_seen:
            return answer
        self._memory_kills_seen = kills
        texts = [item.get("text", "") for item in answer.value["content"] if isinstance(item, dict)]
        return ToolAnswer.error(
            " ".join([*filter(None, texts), MEMORY_KILLED.format(limit=self._memory_limit_text())])
        )

    def _memory_limit_text(self) -> str:
        limit = self.memory_limit_bytes
        return f"{limit / 1024**2:g} MiB" if limit else "its limit"

    def set_hostname(self, hostname: str) -> None:
        """Set the sandbox's hostname from the host (it lives in the sandbox's UTS namespace).

        Done by a short-lived host thread that joins that namespace, so the sandbox itself
        never needs CAP_SYS_ADMIN. Threads own their namespaces, so nothing else moves.
        """
        if not self.isolated or self._pid is None:
            return
        name = hostname.encode()[:64].decode(errors="ignore") or "localhost"
        if self.rootless:
            userns.set_hostname(self._pid, name)
        else:
            self._set_hostname_as_root(self._pid, name)
        # As on a cloud machine, `hostname`, /etc/hostname and /etc/hosts agree.
        with self.files() as session:
            write_hostname_files(session, name)

    @staticmethod
    def _set_hostname_as_root(pid: int, name: str) -> None:
        """Join the sandbox's UTS namespace on this thread, set the name, and come back.

        Only this thread moves, and only for three system calls (a thread of its own for
        it cost ~1 ms of every create on a busy machine). Coming back cannot be refused:
        the runtime holds CAP_SYS_ADMIN, and the descriptor of its own namespace was
        opened before leaving it.
        """
        own = os.open("/proc/thread-self/ns/uts", os.O_RDONLY)
        try:
            target = os.open(f"/proc/{pid}/ns/uts", os.O_RDONLY)
            try:
                syscalls.setns(target, syscalls.CLONE_NEWUTS)
            finally:
                os.close(target)
            try:
                syscalls.sethostname(name)
            finally:
                syscalls.setns(own, syscalls.CLONE_NEWUTS)
        finally:
            os.close(own)

    def files(self) -> SessionRoot:
        """The session's files as the session sees them, reached by descriptor only (the
        caller closes it; ``with sandbox.files() as session: ...``).

        Every host-side operation on a session's files goes through it: a link the session
        makes, or swaps in while the operation runs, is followed only inside the session
        (see ``session_files``). Unisolated sessions see the host's files, so theirs is the
        host's ``/``.

        Raises:
            OSError: the sandbox is released (``ESRCH``).
        """
        if self._destroyed:
            raise OSError(errno.ESRCH, NOT_RUNNING)
        if self.rootless:
            with self._root_fd_lock:
                if self._root_fd is None:
                    raise OSError(errno.ESRCH, NOT_RUNNING)
                fd = os.dup(self._root_fd)
        else:
            root = self.root_path if self.isolated else Path("/")
            fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        return SessionRoot(fd, owner=self.root_owner)

    def writable_dirs(self) -> list[Path]:
        """Host directories holding what the session wrote (its share of the disk)."""
        if self.rootless:  # the top level of its root is a plain directory of the host
            return [self.session_dir / "upper", self.session_dir / "root"]
        if self.isolated:
            return [layers.writable_dirs(self.session_dir)[0]]
        return [self.session_dir / "home"]

    def stop_commands(self) -> None:
        """SIGKILL every process of the session but its tool server (which keeps serving)."""
        keep = {self._process.pid, self._pid}
        procs.kill_all([pid for pid in self.pids() if pid not in keep])

    # ---- inspection ----
    def pids(self) -> list[int]:
        """Host PIDs of every process of the session (helper and tool server included)."""
        found: set[int] = set()
        if self._cgroup is not None:
            found |= self._cgroup.pids()
        if self._process.poll() is None:
            found |= procs.descendants(self._process.pid) | {self._process.pid}
        if self._slirp is not None and self._slirp.poll() is None:
            found.add(self._slirp.pid)
        return sorted(found)

    # ---- teardown ----
    async def close(self) -> None:
        """End every process of the sandbox and delete its files (idempotent)."""
        await self._close(None)

    async def close_capturing(self, layer: Path) -> None:
        """End the sandbox like ``close``, but first keep its writable layer as the read-only
        image layer ``layer`` (see ``layers.capture``; an image build's last step).

        Raises:
            OSError: the layer could not be kept (the sandbox is released all the same).
        """
        await self._close(layer)

    async def _close(self, capture_to: Path | None) -> None:
        self._running = False
        self._ports.close()
        if self._writer is not None:
            self._writer.close()
        if self._read_task is not None:
            self._read_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._read_task
        await asyncio.to_thread(self.destroy_sync, capture_to)

    def destroy_sync(self, capture_to: Path | None = None) -> None:
        """Blocking teardown, safe from any thread (used by ``close`` and at exit).

        With ``capture_to``, the writable layer is kept there once nothing runs any more.
        """
        with self._destroy_lock:
            if self._destroyed:
                return
            self._destroyed = True
        self._running = False
        self._ports.close()
        self._kill_processes()
        leftovers = self.pids()
        if leftovers:
            log.error("sandbox %s: processes survived release: %s", self.session_id, leftovers)
        with self._root_fd_lock:
            if self._root_fd is not None:
                os.close(self._root_fd)  # the last reference to the sandbox's mounts
                self._root_fd = None
        failure: OSError | None = None
        if capture_to is not None:
            if leftovers:
                failure = OSError(f"processes of the build survived: {leftovers}")
            else:
                try:
                    layout.unmount_tree(self.session_dir)
                    upper, _ = layers.writable_dirs(self.session_dir)
                    layers.capture(upper, capture_to, [jail.FIXED_ROOT])
                except OSError as exc:
                    failure = exc
        layout.remove_session_dir(self.session_dir)
        if self._cgroup is not None:
            self._cgroup.remove()
        if self._writer is None:
            with contextlib.suppress(OSError):
                self._socket.close()
        if failure is not None:
            raise failure

    def _kill_processes(self) -> None:
        process = self._process
        if not self.isolated and process.poll() is None:
            # Kill the descendants while the tool server (their subreaper) still holds
            # them: killed first, it would let orphans escape to the host's init.
            for _ in range(20):
                victims = procs.descendants(process.pid)
                if not victims:
                    break
                procs.kill_all(victims)
                time.sleep(0.002)
        if process.poll() is None:
            # Isolated: the helper's --kill-child takes PID 1 down, and with PID 1 the
            # kernel kills every process of the namespace. PID 1 is killed directly too.
            if self.isolated and self._pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self._pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.error("sandbox %s: process %d did not exit", self.session_id, process.pid)
        self._stop_egress()
        if self._cgroup is not None and not self._cgroup.kill():
            log.error("sandbox %s: cgroup %s does not empty", self.session_id, self._cgroup.name)

    def _stop_egress(self) -> None:
        if self._slirp_exit_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._slirp_exit_fd)
            self._slirp_exit_fd = None
        if self._slirp is not None:
            with contextlib.suppress(ProcessLookupError):
                self._slirp.kill()
            try:
                self._slirp.wait(timeout=10)
            except subprocess.TimeoutExpired:
                log.error(
                    "sandbox %s: slirp4netns %d did not exit", self.session_id, self._slirp.pid
                )


def _decode(line: bytes) -> dict[str, Any]:
    if not line:
        return {}
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
