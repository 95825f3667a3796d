"""Running commands inside the sandbox: spawning, reaping, capturing, timeouts (stdlib only).

The tool server is PID 1 of its namespace (or a child subreaper when unisolated), so every
orphaned process of the session becomes its child. One reaper thread therefore calls
``waitpid(-1)`` for all children and hands the exit codes of the commands we started to
the threads waiting for them; nothing else may call ``wait``.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any

#: Output kept per stream; the rest is read and discarded so the command never blocks.
MAX_CAPTURE_BYTES = 16 * 1024 * 1024


class Reaper:
    """Reaps every child of this process and reports the exit codes of tracked ones."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._exit_codes: dict[int, int | None] = {}
        self._spawned = 0
        thread = threading.Thread(target=self._loop, name="reaper", daemon=True)
        thread.start()

    def spawn(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        stdout: int,
        stderr: int,
        *,
        stdin: int | None = None,
        fd3: int | None = None,
    ) -> int:
        """Start ``argv`` in a new session (its own process group); returns its PID.

        Its stdin is ``/dev/null`` unless ``stdin`` is given; ``fd3`` becomes its
        descriptor 3 (a kernel's event channel)."""
        actions: list[tuple[Any, ...]] = [
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0)
            if stdin is None
            else (os.POSIX_SPAWN_DUP2, stdin, 0),
            (os.POSIX_SPAWN_DUP2, stdout, 1),
            (os.POSIX_SPAWN_DUP2, stderr, 2),
        ]
        if fd3 is not None:
            actions.append((os.POSIX_SPAWN_DUP2, fd3, 3))
        return self._spawn(argv, env, actions)

    def spawn_on_tty(self, argv: Sequence[str], env: Mapping[str, str], tty: str) -> int:
        """Start ``argv`` in a new session whose controlling terminal is ``tty`` (a pty's
        slave path), on its stdin, stdout and stderr; returns its PID.

        The new session starts before the file actions run, so opening the terminal (without
        O_NOCTTY) makes it the session's controlling terminal: job control, SIGWINCH and
        SIGINT from Ctrl-C work as in a login.
        """
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, tty, os.O_RDWR, 0),
            (os.POSIX_SPAWN_DUP2, 0, 1),
            (os.POSIX_SPAWN_DUP2, 0, 2),
        ]
        return self._spawn(argv, env, actions)

    def _spawn(
        self, argv: Sequence[str], env: Mapping[str, str], actions: list[tuple[Any, ...]]
    ) -> int:
        # Spawning under the lock: the reaper records an exit only for PIDs it knows,
        # and it cannot learn about this PID before we registered it.
        with self._cond:
            pid = os.posix_spawn(
                argv[0],
                list(argv),
                dict(env),
                file_actions=actions,
                setsid=True,
                setsigmask=(),
                setsigdef=(signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT),
            )
            self._exit_codes[pid] = None
            self._spawned += 1
            self._cond.notify_all()
        return pid

    def wait(self, pid: int, timeout: float | None) -> int | None:
        """The exit code of a spawned PID (negative: killed by that signal), or None."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._exit_codes.get(pid) is None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return self._exit_codes.pop(pid)

    def has_exited(self, pid: int) -> bool:
        """True once ``pid``'s exit is recorded (without consuming it)."""
        with self._cond:
            return self._exit_codes.get(pid) is not None

    def _loop(self) -> None:
        while True:
            with self._cond:
                generation = self._spawned
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                # No children: sleep until spawn() makes one (generation changes).
                with self._cond:
                    while self._spawned == generation:
                        self._cond.wait()
                continue
            with self._cond:
                if pid in self._exit_codes:
                    self._exit_codes[pid] = os.waitstatus_to_exitcode(status)
                    self._cond.notify_all()


class RunResult:
    """What a finished (or killed) command produced."""

    def __init__(
        self, exit_code: int | None, stdout: bytes, stderr: bytes, timed_out: bool
    ) -> None:
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out

    def out(self) -> str:
        """stdout as text (invalid UTF-8 replaced)."""
        return self.stdout.decode("utf-8", "replace")

    def err(self) -> str:
        """stderr as text (invalid UTF-8 replaced)."""
        return self.stderr.decode("utf-8", "replace")


class _Capture:
    """One output pipe being read into memory (up to MAX_CAPTURE_BYTES)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.chunks: list[bytes] = []
        self.size = 0
        self.open = True

    def _keep(self, chunk: bytes) -> None:
        if self.size < MAX_CAPTURE_BYTES:
            self.chunks.append(chunk[: MAX_CAPTURE_BYTES - self.size])
        self.size += len(chunk)

    def read(self) -> None:
        """Read once after poll reported the pipe readable (data or end of file)."""
        chunk = os.read(self.fd, 65536)
        if chunk:
            self._keep(chunk)
        else:
            self.open = False

    def drain(self) -> None:
        """Read what is buffered now, without waiting for writers that are still alive."""
        if not self.open:
            return
        os.set_blocking(self.fd, False)
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                self.open = False
                return
            self._keep(chunk)

    def data(self) -> bytes:
        data = b"".join(self.chunks)
        if self.size > MAX_CAPTURE_BYTES:
            data += b"\n[output truncated: %d bytes in total]\n" % self.size
        return data


def spawn_piped(
    reaper: Reaper, argv: Sequence[str], env: Mapping[str, str]
) -> tuple[int, int, int]:
    """Start a command with its stdout and stderr on pipes: its pid and the pipes' read ends
    (the caller closes them). Nothing is left open if it cannot start (``OSError``)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        pid = reaper.spawn(argv, env, out_w, err_w)
    except OSError:
        for fd in (out_r, out_w, err_r, err_w):
            os.close(fd)
        raise
    os.close(out_w)
    os.close(err_w)
    return pid, out_r, err_r


def run(reaper: Reaper, argv: Sequence[str], env: Mapping[str, str], timeout_s: float) -> RunResult:
    """Run a command to completion or timeout and capture stdout and stderr.

    The call ends when the command's process exits, not when its output pipes close:
    background children (``sleep 100 &``) keep the pipes open but must not make the call
    hang. Whatever they write after that is lost. On timeout the whole process group is
    killed.
    """
    pid, out_r, err_r = spawn_piped(reaper, argv, env)
    captures = {out_r: _Capture(out_r), err_r: _Capture(err_r)}
    exit_fd = _pidfd(pid)
    deadline = time.monotonic() + timeout_s
    timed_out = False
    try:
        poller = select.poll()
        for fd in captures:
            poller.register(fd, select.POLLIN)
        if exit_fd is not None:
            poller.register(exit_fd, select.POLLIN)
        exited = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            # Without a pidfd, exit is noticed by polling the reaper every 10 ms.
            wait_ms = remaining * 1000 if exit_fd is not None else min(remaining * 1000, 10)
            for fd, _event in poller.poll(max(1, int(wait_ms))):
                if fd == exit_fd:
                    exited = True
                else:
                    captures[fd].read()
                    if not captures[fd].open:
                        poller.unregister(fd)
            if exit_fd is None and reaper.has_exited(pid):
                exited = True
            if exited or not any(capture.open for capture in captures.values()):
                break
        if timed_out:
            _kill_group(pid)
            code = reaper.wait(pid, 10.0)
        else:
            # Pipes closed but the process may still run (it closed its stdout).
            code = reaper.wait(pid, max(0.0, deadline - time.monotonic()))
            if code is None:
                timed_out = True
                _kill_group(pid)
                code = reaper.wait(pid, 10.0)
        for capture in captures.values():
            capture.drain()
        return RunResult(code, captures[out_r].data(), captures[err_r].data(), timed_out)
    finally:
        for descriptor in (out_r, err_r, exit_fd):
            if descriptor is not None:
                os.close(descriptor)


def _pidfd(pid: int) -> int | None:
    """A descriptor that polls readable when ``pid`` exits, where the kernel has pidfds."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        # ESRCH: already exited and reaped; the 10 ms reaper poll handles it.
        return None


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def kill_all(pids: Iterable[int]) -> None:
    """SIGKILL each of ``pids``; processes that are already gone are skipped."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def descendants(root: int) -> set[int]:
    """PIDs whose parent chain reaches ``root`` (read from /proc now)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                parent = int(handle.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found: set[int] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def which(name: str, env: Mapping[str, str]) -> str | None:
    """The executable ``name`` on ``env``'s PATH (the session's, not the tool server's), or
    None."""
    for directory in env.get("PATH", "").split(":"):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None
