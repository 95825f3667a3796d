"""Terminals of the session WebSocket's ``PTY_SERVER`` target (stdlib only; runs inside the
sandbox). The protocol: docs/reference/session-websocket.md.

Each terminal is a real pseudo-terminal: its program is spawned by the tool server's reaper
in a new session whose controlling terminal is the pty's slave side. One pump thread per
terminal reads the master side and hands the output, in batches of up to 256 KiB, to every
attached connection, and keeps the newest ``BACKLOG_BYTES`` of it: ``connect`` delivers
those first (the official client's ``disconnect`` is local only, so the server cannot know
what a client dropped; a client that went away finds what was written meanwhile). A
connection that does not read blocks the pump (its socket is full), so the program blocks
on its writes: nothing grows in the tool server or the runtime.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import os
import secrets
import select
import signal
import struct
import termios
import threading
import time

from . import procs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    #: Sends one push (its ``data``) to one connection; False once that connection is gone.
    Push = Callable[[dict[str, Any]], bool]

#: Output of a terminal kept for the next connect (the newest bytes win).
BACKLOG_BYTES = 1024 * 1024
#: Output of a terminal newly attached to a connection is held until that connection names
#: the terminal in a request (input, resize, kill: its handle exists), or this long after
#: the answer to create/connect at the most. The official client (0.22.3) registers the
#: terminal's handle only once that answer reached its caller, drops output for a terminal
#: it has no handle of, and sends nothing by itself after creating one; on a loaded machine
#: its caller took longer than the 50 ms this once was.
ATTACH_HOLD_S = 1.0
#: Output held for one connection at the most: beyond it the terminal's program waits (its
#: writes block, as for a connection that does not read) until the hold ends.
HELD_BYTES = 2 * 1024 * 1024
#: Largest batch of output in one push.
BATCH_BYTES = 256 * 1024
#: Terminals one session may have running.
MAX_TERMINALS = 64
#: Exited terminals kept (with backlog and exit code) for a later connect.
MAX_EXITED = 64
MAX_SIZE = 500
#: How long ``kill`` waits for the terminal's end to be recorded.
KILL_WAIT_S = 5.0
#: After the program ended, how long the pump waits for output still on its way.
DRAIN_IDLE_S = 0.5
#: How long a batch waits for more output while the program writes in bulk.
COALESCE_S = 0.002
#: A read this long means the pty had more than one read's worth (its reads stop near 4 KiB).
_FULL_READ = 4000
_INPUT_TIMEOUT_S = 5.0


class TerminalError(Exception):
    """A request about terminals that cannot be served (its text is the answer's error)."""


def _winsize(cols: int, rows: int) -> bytes:
    return struct.pack("HHHH", rows, cols, 0, 0)


def size(params: Mapping[str, Any], name: str, default: int) -> int:
    """A terminal dimension from ``params`` (1-500)."""
    value = params.get(name, default)
    if type(value) is not int or not 0 < value <= MAX_SIZE:
        raise TerminalError(f"{name} must be an integer from 1 to {MAX_SIZE}")
    return value


class _Attachment:
    """One connection's view of a terminal: output held until the connection is heard from
    (or ``ATTACH_HOLD_S`` passed), then pushed."""

    def __init__(self, push: Push) -> None:
        self.push = push
        self.held: bytearray | None = bytearray()


class Terminal:
    """One pseudo-terminal and the program in it."""

    def __init__(self, terminal_id: str, pid: int, master: int, cols: int, rows: int) -> None:
        self.id = terminal_id
        self.pid = pid
        self.master = master
        self.cols = cols
        self.rows = rows
        self.exit_code: int | None = None
        #: Set once the program ended and its exit was recorded.
        self.ended = threading.Event()
        self._lock = threading.Lock()
        #: Notified when a hold ends (a pump waiting for room in a held output goes on).
        self._hold_ended = threading.Condition(self._lock)
        self._attached: list[_Attachment] = []
        self._backlog = bytearray()

    # ---- output ----
    def _output_data(self, chunk: bytes) -> dict[str, Any]:
        return {
            "eventType": "pty.output",
            "ptySessionId": self.id,
            "encoding": "base64",
            "data": base64.b64encode(chunk).decode("ascii"),
        }

    def deliver(self, chunk: bytes) -> None:
        """Hand ``chunk`` to every attached connection and the backlog (pump thread); while
        a connection's held output is full, wait for its hold to end (``ATTACH_HOLD_S`` at
        the most)."""
        with self._lock:
            self._hold_ended.wait_for(self._room_held, ATTACH_HOLD_S)
            self._backlog += chunk
            del self._backlog[: max(0, len(self._backlog) - BACKLOG_BYTES)]
            data: dict[str, Any] | None = None
            for attachment in list(self._attached):
                if attachment.held is not None:  # until its connection was heard from
                    attachment.held += chunk
                    continue
                data = data or self._output_data(chunk)
                if not attachment.push(data):
                    self._attached.remove(attachment)

    def _exit_data(self) -> dict[str, Any]:
        return {"eventType": "pty.exit", "ptySessionId": self.id, "exitCode": self.exit_code}

    def finish(self, exit_code: int | None) -> None:
        """Record the exit and tell the attached connections (pump thread)."""
        with self._lock:
            self.exit_code = -1 if exit_code is None else exit_code
            self.ended.set()
            for attachment in list(self._attached):
                if attachment.held is None:
                    attachment.push(self._exit_data())
                    self._attached.remove(attachment)

    def _room_held(self) -> bool:
        return all(len(item.held or b"") < HELD_BYTES for item in self._attached)

    def attach(self, push: Push, *, backlog: bool) -> None:
        """Attach a connection (again: its earlier attachment ends): once it is heard from
        (``heard_from``), or after ``ATTACH_HOLD_S``, the backlog (if asked) and what was
        written meanwhile are pushed to it, then the output as it comes."""
        attachment = _Attachment(push)
        with self._lock:
            assert attachment.held is not None
            if backlog:
                attachment.held += self._backlog
            self._attached = [item for item in self._attached if item.push is not push]
            self._attached.append(attachment)
        timer = threading.Timer(ATTACH_HOLD_S, self._release, (attachment,))
        timer.daemon = True
        timer.start()

    def heard_from(self, push: Push) -> None:
        """The connection of ``push`` named this terminal in a request: it has the
        terminal's handle, so what was held for it goes now."""
        with self._lock:
            for attachment in self._attached:
                if attachment.push is push and attachment.held is not None:
                    self._release_locked(attachment)
                    return

    def _release(self, attachment: _Attachment) -> None:
        with self._lock:
            if attachment in self._attached and attachment.held is not None:
                self._release_locked(attachment)

    def _release_locked(self, attachment: _Attachment) -> None:
        """End the hold of an attachment (``_lock`` held): its output goes out, in order."""
        held, attachment.held = attachment.held or b"", None
        self._hold_ended.notify_all()
        alive = True
        for start in range(0, len(held), BATCH_BYTES):
            if not attachment.push(self._output_data(bytes(held[start : start + BATCH_BYTES]))):
                alive = False
                break
        if alive and self.exit_code is not None:
            attachment.push(self._exit_data())
            alive = False
        if not alive and attachment in self._attached:
            self._attached.remove(attachment)

    def detach(self, push: Push) -> None:
        """Stop pushing to a connection (it closed)."""
        with self._lock:
            self._attached = [item for item in self._attached if item.push is not push]

    # ---- input and control ----
    def write(self, data: bytes) -> None:
        """Type ``data`` into the terminal (TerminalError if it does not take it in time)."""
        view = memoryview(data)
        deadline = time.monotonic() + _INPUT_TIMEOUT_S
        while view:
            try:
                view = view[os.write(self.master, view) :]
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TerminalError("the terminal does not read its input") from None
                select.select([], [self.master], [], left)
            except OSError as exc:
                raise TerminalError(f"the terminal has exited ({exc.strerror})") from None

    def resize(self, cols: int, rows: int) -> None:
        """Set the size; the kernel sends SIGWINCH to the terminal's foreground programs."""
        with contextlib.suppress(OSError):
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, _winsize(cols, rows))
        self.cols, self.rows = cols, rows

    def kill(self) -> None:
        """SIGKILL the terminal's process group; returns once its end is recorded (a
        ``list`` right after no longer shows it), or after ``KILL_WAIT_S``."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self.ended.wait(KILL_WAIT_S)


class Terminals:
    """The session's terminals (one registry, shared by all its WebSocket connections)."""

    def __init__(self, reaper: procs.Reaper, env: Mapping[str, str]) -> None:
        self._reaper = reaper
        self._env = env
        self._lock = threading.Lock()
        self._terminals: dict[str, Terminal] = {}

    def create(self, params: Mapping[str, Any], push: Push) -> Terminal:
        """Start a terminal for ``params`` (cols, rows, cwd, envs, shell), attached to the
        connection that asked."""
        cols, rows = size(params, "cols", 80), size(params, "rows", 24)
        envs = params.get("envs") or {}
        if not isinstance(envs, dict) or not all(
            isinstance(key, str) and key and "=" not in key and isinstance(value, str)
            for key, value in envs.items()
        ):
            raise TerminalError("envs must be an object of strings")
        cwd = params.get("cwd")
        env = {**self._env, **envs}
        if cwd is None:
            cwd = ""  # the session's working directory, where its shell commands run
        shell = params.get("shell")
        if not isinstance(cwd, str) or (shell is not None and not isinstance(shell, str)):
            raise TerminalError("cwd and shell must be strings")
        login = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
        # A command line runs as sh runs it (several commands, pipes, variables); a login
        # shell replaces sh.
        command = shell if shell and shell.strip() else f"exec {login} -l"
        # `cd` first: a missing directory is the terminal's own error message and exit code.
        change = 'cd -- "$0" || exit 1\n' if cwd else ""
        argv = ["/bin/sh", "-c", change + command, cwd or "sh"]
        with self._lock:
            running = sum(1 for item in self._terminals.values() if item.exit_code is None)
            if running >= MAX_TERMINALS:
                raise TerminalError(f"this session already runs {MAX_TERMINALS} terminals")
        master, slave = os.openpty()
        try:
            fcntl.ioctl(master, termios.TIOCSWINSZ, _winsize(cols, rows))
            os.set_inheritable(master, False)
            pid = self._reaper.spawn_on_tty(argv, env, os.ttyname(slave))
        except OSError as exc:
            os.close(master)
            raise TerminalError(f"cannot start the terminal: {exc}") from None
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        terminal = Terminal("pty-" + secrets.token_hex(8), pid, master, cols, rows)
        terminal.attach(push, backlog=False)
        with self._lock:
            self._terminals[terminal.id] = terminal
        threading.Thread(target=self._pump, args=(terminal,), daemon=True).start()
        return terminal

    def get(self, terminal_id: Any) -> Terminal:
        """The terminal ``terminal_id`` (TerminalError if there is none)."""
        with self._lock:
            terminal = self._terminals.get(terminal_id) if isinstance(terminal_id, str) else None
        if terminal is None:
            raise TerminalError(f"no terminal {terminal_id!r} in this session")
        return terminal

    def running(self) -> list[str]:
        """The ids of the terminals whose program still runs, oldest first."""
        with self._lock:
            return [item.id for item in self._terminals.values() if item.exit_code is None]

    def forget(self, terminal: Terminal) -> None:
        """Drop an exited terminal (it was killed or its exit was delivered)."""
        with self._lock:
            if terminal.exit_code is not None:
                self._terminals.pop(terminal.id, None)

    def detach_all(self, push: Push) -> None:
        """A connection closed: stop pushing to it."""
        with self._lock:
            terminals = list(self._terminals.values())
        for terminal in terminals:
            terminal.detach(push)

    def _pump(self, terminal: Terminal) -> None:
        exit_fd: int | None
        try:
            exit_fd = os.pidfd_open(terminal.pid)
        except OSError:
            exit_fd = None  # already gone: the reaper has its code
        poller = select.poll()
        poller.register(terminal.master, select.POLLIN)
        if exit_fd is not None:
            poller.register(exit_fd, select.POLLIN)
        master_open = True
        try:
            while True:
                wait_ms = None if exit_fd is not None else 50
                events = poller.poll(wait_ms)
                readable = any(fd == terminal.master for fd, _ in events)
                if readable and master_open:
                    master_open = self._read_batch(terminal)[0]
                    if not master_open:
                        poller.unregister(terminal.master)
                exited = any(fd == exit_fd for fd, _ in events) or (
                    exit_fd is None and self._reaper.has_exited(terminal.pid)
                )
                if exited:
                    self._drain(terminal, master_open)
                    break
                if not master_open and exit_fd is None and not events:
                    continue
        finally:
            code = self._reaper.wait(terminal.pid, 10.0)
            with contextlib.suppress(OSError):
                os.close(terminal.master)
            if exit_fd is not None:
                os.close(exit_fd)
            terminal.finish(code)
            self._trim_exited()

    def _drain(self, terminal: Terminal, master_open: bool) -> None:
        """The program ended: read what it wrote last, to the end. The kernel may still be
        moving it to the master side, so reading stops at end of file (every slave
        descriptor closed), or once nothing came for ``DRAIN_IDLE_S`` (a child of the
        program still holds the terminal)."""
        idle_until = time.monotonic() + DRAIN_IDLE_S
        while master_open and time.monotonic() < idle_until:
            if select.select([terminal.master], [], [], DRAIN_IDLE_S / 10)[0]:
                master_open, count = self._read_batch(terminal)
                if count:
                    idle_until = time.monotonic() + DRAIN_IDLE_S

    @staticmethod
    def _read_batch(terminal: Terminal) -> tuple[bool, int]:
        """Read what the terminal has written (up to a batch) and deliver it: whether the
        master side is still open (False once every slave descriptor closed) and how many
        bytes came.

        A pty hands out at most about 4 KiB a read. While reads come back full, the program
        is writing in bulk, so the batch waits up to ``COALESCE_S`` for more (one message
        per 4 KiB would cost more than the bytes); a short read ends the batch at once, so
        an echo or a prompt goes out without delay."""
        batch = bytearray()
        is_open = True
        last = 0
        while len(batch) < BATCH_BYTES:
            try:
                chunk = os.read(terminal.master, BATCH_BYTES - len(batch))
            except BlockingIOError:
                if last < _FULL_READ or not select.select([terminal.master], [], [], COALESCE_S)[0]:
                    break
                continue
            except OSError as exc:
                if exc.errno != errno.EIO:
                    raise
                is_open = False
                break
            if not chunk:
                is_open = False
                break
            batch += chunk
            last = len(chunk)
        if batch:
            terminal.deliver(bytes(batch))
        return is_open, len(batch)

    def _trim_exited(self) -> None:
        with self._lock:
            exited = [item for item in self._terminals.values() if item.exit_code is not None]
            for item in exited[: max(0, len(exited) - MAX_EXITED)]:
                self._terminals.pop(item.id, None)
