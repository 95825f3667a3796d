"""The session WebSocket's in-session end (stdlib only; runs inside the sandbox). The
protocol: docs/reference/session-websocket.md.

Each WebSocket the runtime accepts for the session gets one stream connection into the tool
server: a socket pair made here and handed to the runtime over the port channel
(``network.PortConnector``). The runtime forwards each client message as one JSON line
(already checked: an object with a string ``invocationId``, a string ``target`` and an
object ``data``) and sends each line this side writes to the client as one text frame, so
every line written here is a complete message: ``{"invocationId", "source", "target":
"SDK", "data"}``, ASCII JSON.

Requests are dispatched on ``data.method``; answers and pushes carry the request's target
as their ``source`` (the client routes pushes by it).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import secrets
import select
import socket
import sys
import threading

from . import file_changes, kernels, procs, program_streams, terminals

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

#: Longest request line accepted from the runtime (it refuses larger messages before).
MAX_REQUEST_BYTES = 8 * 1024 * 1024
#: Largest push of file events (encoded; a longer list is pushed in parts).
MAX_PUSH_BYTES = 512 * 1024
#: Subscriptions one connection may hold.
MAX_SUBSCRIPTIONS = 32
#: Streaming programs one connection may run at once.
MAX_RUNS = 16


class Connection:
    """One stream connection: requests in, answers and pushes out (any thread may send)."""

    def __init__(self, sock: socket.socket, streams: Streams) -> None:
        self._sock = sock
        self._streams = streams
        self._lock = threading.Lock()
        self.closed = False
        self._subscriptions: dict[str, _Subscription] = {}
        #: Guards ``programs``: invocation id -> pid (0 until started) of streamed programs.
        self.lock = threading.Lock()
        self.programs: dict[str, int] = {}

    # ---- sending ----
    def send(self, invocation_id: str, source: str, data: dict[str, Any]) -> bool:
        """Write one message; False (and the connection is closed) once it cannot."""
        message = {"invocationId": invocation_id, "source": source, "target": "SDK", "data": data}
        line = (json.dumps(message, separators=(",", ":")) + "\n").encode("ascii")
        with self._lock:
            if self.closed:
                return False
            try:
                self._sock.sendall(line)
            except OSError:
                self.closed = True
                return False
        return True

    def pusher(self, source: str) -> Callable[[dict[str, Any]], bool]:
        """A function pushing ``data`` from ``source`` under a fresh invocation id each."""

        def push(data: dict[str, Any]) -> bool:
            return self.send(secrets.token_hex(16), source, data)

        return push

    # ---- receiving ----
    def serve(self) -> None:
        """Answer requests until the runtime closes the connection."""
        reader = self._sock.makefile("rb", buffering=1 << 16)
        try:
            while True:
                line = reader.readline(MAX_REQUEST_BYTES + 1)
                if not line or len(line) > MAX_REQUEST_BYTES:
                    return
                try:
                    message = json.loads(line)
                    invocation_id = message["invocationId"]
                    target = message["target"]
                    data = message["data"]
                except (ValueError, KeyError, TypeError):
                    print("toolserver: ignoring a malformed stream request", file=sys.stderr)
                    continue
                self._dispatch(str(invocation_id), str(target), data)
        finally:
            self.close()

    def _dispatch(self, invocation_id: str, target: str, data: Any) -> None:
        method = data.get("method") if isinstance(data, dict) else None
        params = data.get("params") if isinstance(data, dict) else None
        if params is None:
            params = {}
        handler = self._streams.handlers.get(method) if isinstance(method, str) else None
        if handler is None:
            self.send(invocation_id, target, {"error": f"unknown method: {method!r}"})
            return
        if not isinstance(params, dict):
            self.send(invocation_id, target, {"error": "params must be an object"})
            return
        try:
            handler(self, invocation_id, target, params)
        except (terminals.TerminalError, _RequestError) as exc:
            self.send(invocation_id, target, {"error": str(exc)})
        except Exception as exc:  # one request's bug must not end the connection
            self.send(invocation_id, target, {"error": f"{type(exc).__name__}: {exc}"})

    def close(self) -> None:
        """End the connection: its terminals stay, its subscriptions and pushes end."""
        with self._lock:
            self.closed = True
        for subscription in list(self._subscriptions.values()):
            subscription.stop()
        self._subscriptions.clear()
        self._streams.terminals.detach_all_of(self)
        with contextlib.suppress(OSError):
            self._sock.close()


class _RequestError(Exception):
    """A request that cannot be served; its text is the answer's error."""


class _Subscription:
    """Pushes one path's file changes to one connection as inotify reports them."""

    def __init__(self, connection: Connection, source: str, path: str, key: str) -> None:
        self._connection = connection
        self._push = connection.pusher(source)
        self._path = path
        self._tree = file_changes.TreeWatch(key)
        self._wake_r, self._wake_w = os.pipe()
        threading.Thread(target=self._run, daemon=True).start()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _run(self) -> None:
        try:
            while not self._connection.closed:
                readable, _, _ = select.select([self._tree.fd, self._wake_r], [], [])
                if self._wake_r in readable:
                    return
                for events in _batches(file_changes.event_objects(self._tree.take())):
                    data = {"eventType": "file_change", "path": self._path, "events": events}
                    if not self._push(data):
                        return
        finally:
            self._tree.close()
            os.close(self._wake_r)
            os.close(self._wake_w)


def _batches(events: list[dict[str, str]]) -> list[list[dict[str, str]]]:
    """``events`` in pushes of at most ``MAX_PUSH_BYTES`` encoded (the runtime takes lines
    of 1 MiB at most)."""
    batches: list[list[dict[str, str]]] = []
    size = MAX_PUSH_BYTES
    for event in events:
        # ASCII JSON: a character may take 6 bytes (\uXXXX), 12 for a surrogate pair.
        cost = 64 + 12 * len(event["path"])
        if size + cost > MAX_PUSH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(event)
        size += cost
    return batches


class Streams:
    """The stream connections of one session, and what they share (its terminals)."""

    def __init__(
        self, reaper: procs.Reaper, env: Mapping[str, str], code_kernels: kernels.Kernels
    ) -> None:
        self._reaper = reaper
        self._env = env
        self._kernels = code_kernels
        self.terminals = _ConnectionTerminals(reaper, env)
        self.handlers: dict[str, Callable[[Connection, str, str, dict[str, Any]], None]] = {
            "pty.create": self._pty_create,
            "pty.connect": self._pty_connect,
            "pty.list": self._pty_list,
            "pty.kill": self._pty_kill,
            "pty.input": self._pty_input,
            "pty.resize": self._pty_resize,
            "subscribe_file_change": self._subscribe,
            "unsubscribe_file_change": self._unsubscribe,
            "run_code": self._run_code,
            "command.run": self._command_run,
            "command.kill": self._command_kill,
        }

    def open(self) -> socket.socket:
        """A new stream connection: the runtime's end (served here on a thread)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours.set_inheritable(False)
        connection = Connection(ours, self)
        threading.Thread(target=connection.serve, name="stream", daemon=True).start()
        return theirs

    # ---- PTY_SERVER ----
    def _pty_create(
        self, conn: Connection, request: str, target: str, params: dict[str, Any]
    ) -> None:
        # Created, then answered: the terminal's output is held until the client names it
        # in a request (so it has the terminal's handle), or for a while (terminals.py).
        terminal = self.terminals.create_for(conn, target, params)
        conn.send(request, target, {"result": {"ptySessionId": terminal.id}})

    def _pty_connect(
        self, conn: Connection, request: str, target: str, params: dict[str, Any]
    ) -> None:
        terminal = self.terminals.get(params.get("ptySessionId"))
        conn.send(request, target, {"result": {"ptySessionId": terminal.id}})
        self.terminals.attach(conn, target, terminal)

    def _pty_list(
        self, conn: Connection, request: str, target: str, params: dict[str, Any]
    ) -> None:
        conn.send(request, target, {"result": {"ptySessionIds": self.terminals.running()}})

    def _pty_kill(
        self, conn: Connection, request: str, target: str, params: dict[str, Any]
    ) -> None:
        terminal = self.terminals.get(params.get("ptySessionId"))
        self.terminals.heard_from(conn, target, terminal)
        terminal.kill()
        conn.send(request, target, {"result": {"ptySessionId": terminal.id, "killed": True}})

    def _pty_input(
        self, conn: Connection, request: str, target: str, params: dict[str, Any]
    ) -> None:
        terminal_id = params.get("ptySessionId")
        try:
            terminal = self.terminals.get(terminal_id)
            self.terminals.heard_from(conn, target, terminal)
            data = params.get("data")
            if not isinstance(data, str):
                raise terminals.TerminalError("data must be a string")
            if params.get("encoding", "utf8") == "base64":
                try:
                    raw = base64.b64decode(data, validate=True)
                except binascii.Error:
                    raise terminals.TerminalError("data is not base64") from None
            else:
                raw = data.encode("utf-8", "surrogatepass")
            terminal.write(raw)
        except terminals.TerminalError as exc:
            # A message gets no answer: the error is pushed for the terminal's handle.
            error = {"eventType": "pty.error", "ptySessionId": terminal_id, "error": str(exc)}
            conn.pusher(target)(error)

    def _pty_resize(
        self, conn: Connection, request: str, target: str, params: dict[str, Any]
    ) -> None:
        terminal_id = params.get("ptySessionId")
        try:
            terminal = self.terminals.get(terminal_id)
            self.terminals.heard_from(conn, target, terminal)
            terminal.resize(terminals.size(params, "cols", 80), terminals.size(params, "rows", 24))
        except terminals.TerminalError as exc:
            error = {"eventType": "pty.error", "ptySessionId": terminal_id, "error": str(exc)}
            conn.pusher(target)(error)

    # ---- file changes ----
    def _subscribe(
        self, conn: Connection, request: str, target: str, params: dict[str, Any]
    ) -> None:
        path = params.get("path")
        if not isinstance(path, str) or not path:
            raise _RequestError("path must be a non-empty string")
        key = os.path.abspath(path)
        if not os.path.exists(key):
            raise _RequestError(f"No such file or directory: {path}")
        if path not in conn._subscriptions:
            if len(conn._subscriptions) >= MAX_SUBSCRIPTIONS:
                raise _RequestError(f"at most {MAX_SUBSCRIPTIONS} subscriptions per connection")
            try:
                conn._subscriptions[path] = _Subscription(conn, target, path, key)
            except OSError as exc:
                raise _RequestError(f"cannot watch {path}: {exc}") from None
        conn.send(request, target, {"phase": "end", "result": {"path": path, "subscribed": True}})

    def _unsubscribe(
        self, conn: Connection, request: str, target: str, params: dict[str, Any]
    ) -> None:
        subscription = conn._subscriptions.pop(str(params.get("path")), None)
        if subscription is not None:
            subscription.stop()

    # ---- streaming code ----
    def _run_code(
        self, conn: Connection, request: str, target: str, params: dict[str, Any]
    ) -> None:
        """Streaming run_code: the cell runs in the session's kernel (as the non-streaming
        call of today's clients), its output pushed as the kernel hands it over."""
        with conn.lock:
            if len(conn.programs) >= MAX_RUNS:
                raise _RequestError(f"at most {MAX_RUNS} programs stream at once per connection")
            conn.programs[request] = 0  # a cell has no process of its own to kill

        def run() -> None:
            try:
                program_streams.run_cell(self._kernels, params, conn, request, target)
            finally:
                with conn.lock:
                    conn.programs.pop(request, None)

        threading.Thread(target=run, name="cell", daemon=True).start()

    def _command_run(
        self, conn: Connection, request: str, target: str, params: dict[str, Any]
    ) -> None:
        self._start(conn, request, target, params, program_streams.run_command)

    def _start(
        self,
        conn: Connection,
        request: str,
        target: str,
        params: dict[str, Any],
        runner: Callable[..., None],
    ) -> None:
        with conn.lock:
            if len(conn.programs) >= MAX_RUNS:
                raise _RequestError(f"at most {MAX_RUNS} programs stream at once per connection")
            conn.programs[request] = 0  # its pid, once started

        def started(pid: int) -> None:
            with conn.lock:
                conn.programs[request] = pid

        def run() -> None:
            try:
                runner(self._reaper, self._env, params, conn, request, target, started)
            finally:
                with conn.lock:
                    conn.programs.pop(request, None)

        threading.Thread(target=run, name="program", daemon=True).start()

    def _command_kill(
        self, conn: Connection, request: str, target: str, params: dict[str, Any]
    ) -> None:
        """Kill a program this connection streams (its ``invocationId``): SIGKILL to its
        process group; its stream then ends as a killed program's."""
        with conn.lock:
            pid = conn.programs.get(str(params.get("invocationId")))
        if not pid:
            raise _RequestError("no such program running on this connection")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, 9)
        conn.send(request, target, {"result": {"killed": True}})


class _ConnectionTerminals(terminals.Terminals):
    """Terminals whose pushes go to connections (one push function per connection and
    target, so a closed connection can be detached everywhere)."""

    def __init__(self, reaper: procs.Reaper, env: Mapping[str, str]) -> None:
        super().__init__(reaper, env)
        self._pushers: dict[tuple[int, str], Callable[[dict[str, Any]], bool]] = {}

    def _push_of(self, conn: Connection, target: str) -> Callable[[dict[str, Any]], bool]:
        return self._pushers.setdefault((id(conn), target), conn.pusher(target))

    def create_for(
        self, conn: Connection, target: str, params: dict[str, Any]
    ) -> terminals.Terminal:
        return self.create(params, self._push_of(conn, target))

    def attach(self, conn: Connection, target: str, terminal: terminals.Terminal) -> None:
        terminal.attach(self._push_of(conn, target), backlog=True)
        if terminal.exit_code is not None:
            self.forget(terminal)  # its exit is on the way to this connection

    def heard_from(self, conn: Connection, target: str, terminal: terminals.Terminal) -> None:
        """``conn`` named ``terminal`` in a request: it holds the terminal's handle."""
        push = self._pushers.get((id(conn), target))
        if push is not None:
            terminal.heard_from(push)

    def detach_all_of(self, conn: Connection) -> None:
        for key in [key for key in self._pushers if key[0] == id(conn)]:
            self.detach_all(self._pushers.pop(key))
