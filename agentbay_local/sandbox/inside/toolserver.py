"""The in-session tool server: one process per session, PID 1 of its sandbox (stdlib only).

It is started by the runtime (see ``launch.py``) as::

    python -E -s -S -c BOOT <parent directory of inside/> <fd>

which builds the sandbox and then runs this module from its fixed paths (``boot.py``). It
never imports the ``agentbay`` package: only the stdlib-only package ``inside`` is
reachable from ``sys.path``, so it runs with whatever Python the session's image provides.

Protocol, JSON lines over the socket ``fd``:

1. the boot code writes the process's host PID as a bare line, first of all;
2. the runtime sends one configuration object (see ``boot._prepare``; ``env`` and ``workdir``
   are the environment and working directory of the session's commands);
3. the server answers ``{"ready": true, "pid": <host pid>}`` once the sandbox is built (or
   ``{"ready": false, "error": "..."}`` and exits);
4. then requests ``{"id": int, "tool": str, "args": {...}}`` are answered with the line
   ``<id> {"content": [{"type": "text", "text": str}], "isError": bool}``, each on a worker
   thread, so answers can come back out of order. The id comes first, outside the JSON, so
   the runtime can forward the answer's bytes without encoding them again.

A second socket, ``port_fd`` in the configuration, serves the runtime's connections to
ports inside the session (see ``network.PortConnector``).

End of file on the socket (the runtime released the session or died) ends the server, and
with PID 1 the kernel ends every other process of the session.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import queue
import signal
import sys
import threading

from . import (
    browser,
    cell_tools,
    env_tools,
    exec_tools,
    file_changes,
    fs_tools,
    kernels,
    metrics_tools,
    network,
    procs,
    streams,
)
from . import tool_args as ta

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Tool = Callable[[dict[str, Any], "ToolServer"], str]

#: Answers larger than this (encoded) are replaced by an error: the runtime would refuse them.
MAX_ANSWER_BYTES = 96 * 1024 * 1024


class Channel:
    """JSON lines over one socket descriptor; ``send`` may be called from any thread."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._reader = open(fd, "rb", buffering=1 << 16, closefd=False)  # noqa: SIM115
        self._lock = threading.Lock()

    def receive(self) -> Any:
        """The next message, or None at end of file. Malformed lines are skipped."""
        while True:
            line = self._reader.readline()
            if not line:
                return None
            try:
                return json.loads(line)
            except ValueError:
                print(f"toolserver: ignoring a malformed line ({len(line)} bytes)", file=sys.stderr)

    def send(self, message: dict[str, Any], prefix: str = "") -> None:
        """Write one message, after ``prefix`` (ASCII JSON: no encoding problem can ever reach
        the runtime)."""
        data = memoryview((prefix + json.dumps(message) + "\n").encode("ascii"))
        with self._lock:
            while data:
                data = data[os.write(self._fd, data) :]


class Workers:
    """Runs requests on reused threads; a new thread starts only when every one is busy.

    Starting a thread per request cost ~0.15 ms, a fifth of a 51,200-byte read_file. At
    most ``max_idle`` threads wait for work; the others end when they finish.
    """

    def __init__(self, run: Callable[[dict[str, Any]], None], max_idle: int = 8) -> None:
        self._run = run
        self._max_idle = max_idle
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, message: dict[str, Any]) -> None:
        """Run ``message`` on an idle thread or a new one (RuntimeError: none can start)."""
        with self._lock:
            if self._idle:
                self._idle -= 1  # that thread's next get() takes this message
                self._queue.put(message)
                return
        threading.Thread(target=self._work, args=(message,), daemon=True).start()

    def _work(self, message: dict[str, Any]) -> None:
        while True:
            self._run(message)
            with self._lock:
                if self._idle >= self._max_idle:
                    return
                self._idle += 1
            message = self._queue.get()


#: The desktop's tools: name -> (module, function). Imported on first use (they cost ~10
#: ms of imports a session without a desktop never needs). The runtime forwards only the
#: tools an image has, plus its own ``desktop_start`` and ``desktop_frame``.
DESKTOP_TOOLS = {
    "click_mouse": ("computer_tools", "click_mouse"),
    "move_mouse": ("computer_tools", "move_mouse"),
    "drag_mouse": ("computer_tools", "drag_mouse"),
    "scroll": ("computer_tools", "scroll"),
    "get_cursor_position": ("computer_tools", "get_cursor_position"),
    "press_keys": ("computer_tools", "press_keys"),
    "release_keys": ("computer_tools", "release_keys"),
    "get_screen_size": ("computer_tools", "get_screen_size"),
    "input_text": ("computer_tools", "input_text"),
    "system_screenshot": ("computer_tools", "system_screenshot"),
    "screenshot": ("capture_tools", "screenshot"),
    "long_screenshot": ("capture_tools", "long_screenshot"),
    "click": ("computer_tools", "click"),
    "swipe": ("computer_tools", "swipe"),
    "send_key": ("computer_tools", "send_key"),
    "get_clickable_ui_elements": ("computer_tools", "ui_elements"),
    "get_all_ui_elements": ("computer_tools", "ui_elements"),
    "desktop_start": ("computer_tools", "desktop_start"),
    "desktop_frame": ("computer_tools", "desktop_frame"),
    "list_root_windows": ("window_tools", "list_root_windows"),
    "get_active_window": ("window_tools", "get_active_window"),
    "activate_window": ("window_tools", "activate_window"),
    "maximize_window": ("window_tools", "maximize_window"),
    "minimize_window": ("window_tools", "minimize_window"),
    "restore_window": ("window_tools", "restore_window"),
    "close_window": ("window_tools", "close_window"),
    "fullscreen_window": ("window_tools", "fullscreen_window"),
    "resize_window": ("window_tools", "resize_window"),
    "focus_mode": ("window_tools", "focus_mode"),
    "get_installed_apps": ("app_tools", "get_installed_apps"),
    "start_app": ("app_tools", "start_app"),
    "stop_app_by_pname": ("app_tools", "stop_app_by_pname"),
    "stop_app_by_pid": ("app_tools", "stop_app_by_pid"),
    "stop_app_by_cmd": ("app_tools", "stop_app_by_cmd"),
    "list_visible_apps": ("app_tools", "list_visible_apps"),
}


def _lazy_tool(name: str, module: str, function: str) -> Tool:
    def call(args: dict[str, Any], server: ToolServer) -> str:
        tool: Tool = getattr(importlib.import_module(f"{__package__}.{module}"), function)
        server.tools[name] = tool  # later calls go direct
        return tool(args, server)

    return call


class ToolServer:
    """Dispatches requests to the tools; holds the state tools share."""

    def __init__(
        self, channel: Channel, env: dict[str, str], screen: dict[str, Any] | None = None
    ) -> None:
        self.channel = channel
        self.env = env
        self.workers = Workers(self.handle)
        self.reaper = procs.Reaper()
        self.watcher = file_changes.ChangeWatcher()
        self.screen = screen or {}
        self._desktop: Any = None
        self.browser = browser.ManagedBrowser()
        self.tools: dict[str, Tool] = {
            "shell": exec_tools.shell,
            "run_code": exec_tools.run_code,
            # Internal: run_code in the session's kernel, for the callers that read the
            # rich answer (the runtime chooses; sessions/tools.py).
            "run_cell": cell_tools.run_cell,
            "create_directory": fs_tools.create_directory,
            "edit_file": fs_tools.edit_file,
            "get_file_info": fs_tools.get_file_info,
            "list_directory": fs_tools.list_directory,
            "move_file": fs_tools.move_file,
            "read_file": fs_tools.read_file,
            "read_multiple_files": fs_tools.read_multiple_files,
            "search_files": fs_tools.search_files,
            "write_file": fs_tools.write_file,
            "delete_file": fs_tools.delete_file,
            "set_env": env_tools.set_env,
            "get_env": env_tools.get_env,
            "get_metrics": metrics_tools.get_metrics,
            "get_file_change": self.watcher.changes,
            "stopChrome": browser.stop_chrome,
            "page_use_navigate": browser.page_use_navigate,
            "page_use_screenshot": browser.page_use_screenshot,
            "page_use_close_session": browser.page_use_close_session,
            # Internal: reached only from the runtime (CallMcpTool refuses names outside the
            # catalogue), for InitBrowser and release.
            "browser_start": browser.browser_start,
            "browser_stop": browser.browser_stop,
        }
        for name, (module, function) in DESKTOP_TOOLS.items():
            self.tools[name] = _lazy_tool(name, module, function)
        self.tools.update({name: browser.needs_cloud(name) for name in browser.MODEL_TOOLS})
        self._desktop_lock = threading.Lock()
        #: The session's code kernels, one per language, started on first use.
        self.kernels = kernels.Kernels(self.reaper, self.env)
        #: The session WebSocket's in-session end (its terminals, streams, subscriptions).
        self.streams = streams.Streams(self.reaper, self.env, self.kernels)

    @property
    def desktop(self) -> Any:
        """The session's desktop (``desktop.Desktop``), created on first use; it adds
        DISPLAY to ``env`` once started, so shell commands reach it too."""
        with self._desktop_lock:
            if self._desktop is None:
                from . import desktop

                self._desktop = desktop.Desktop(self.reaper, self.env, self.screen)
            return self._desktop

    def serve(self) -> None:
        """Answer requests until the runtime closes the channel."""
        while True:
            message = self.channel.receive()
            if message is None:
                return
            if not isinstance(message, dict):
                continue
            try:
                self.workers.submit(message)
            except RuntimeError:
                # Usually the session's pids limit: threads count as tasks too.
                self._answer(message.get("id"), "the session cannot start more threads", True)

    def handle(self, message: dict[str, Any]) -> None:
        """Run one request and send its answer; never raises."""
        request_id = message.get("id")
        name = message.get("tool")
        args = message.get("args")
        if args is None:
            args = {}
        tool = self.tools.get(name) if isinstance(name, str) else None
        if tool is None:
            self._answer(request_id, f"tool not found: {name}", True)
            return
        if not isinstance(args, dict):
            self._answer(request_id, "Invalid arguments: 'args' must be an object", True)
            return
        structured = None
        try:
            text, is_error = tool(args, self), False
            structured = getattr(text, "structured", None)
        except ta.ToolError as exc:
            text, is_error, structured = str(exc), True, exc.structured
        except Exception as exc:  # a tool bug must not take the session down
            text, is_error = f"Error: {type(exc).__name__}: {exc}", True
        self._answer(request_id, text, is_error, structured)

    def _answer(
        self,
        request_id: Any,
        text: str,
        is_error: bool,
        structured: dict[str, Any] | None = None,
    ) -> None:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates (e.g. undecodable bytes in a diff)
            text = text.encode("utf-8", "replace").decode("utf-8")
            structured = None  # its strings may hold them too
        answer: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": is_error}
        if structured:
            answer["structuredContent"] = structured
        if len(text) > MAX_ANSWER_BYTES // 12:  # worst case of JSON escaping, text twice
            encoded = len(json.dumps(answer))
            if encoded > MAX_ANSWER_BYTES:
                message = f"Error: the result is too large ({encoded} bytes encoded)"
                answer = {"content": [{"type": "text", "text": message}], "isError": True}
        if type(request_id) is not int:
            request_id = 0  # the runtime numbers its requests from 1: nobody waits for 0
        # If the runtime is gone, the main thread sees end of file and exits.
        with contextlib.suppress(OSError):
            self.channel.send(answer, prefix=f"{request_id} ")


def _kill_descendants() -> None:
    """SIGKILL every descendant of this process (unisolated mode has no PID namespace)."""
    me = os.getpid()
    for _ in range(5):
        victims = procs.descendants(me)
        if not victims:
            return
        procs.kill_all(victims)


def resume(fd: int, config_fd: int) -> None:
    """Entry point inside an isolated sandbox (``boot.py`` built it, then ran this with the
    configuration in ``config_fd``): serve."""
    from . import syscalls

    # execve made the process dumpable again: processes of the session must not ptrace
    # the tool server or open its /proc/1/fd (its channel to the runtime). Nothing of the
    # session runs yet.
    syscalls.prctl(syscalls.PR_SET_DUMPABLE, 0)
    os.environ.pop("LD_LIBRARY_PATH", None)
    with open(config_fd, "rb") as handle:
        config = json.loads(handle.read())
    main(fd, config)


def main(fd: int, config: dict[str, Any]) -> None:
    """Serve the session ``config`` describes: report ready, answer requests, exit.

    Isolated, the sandbox is built already (``config["pid"]`` is the host PID).
    """
    os.set_inheritable(fd, False)
    # PID 1 ignores default-action signals from inside its namespace; make SIGINT one.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    channel = Channel(fd)
    if config.get("isolated"):
        pid = int(config["pid"])
    else:
        try:
            pid = _prepare_unisolated(config)
        except Exception as exc:
            channel.send({"ready": False, "error": f"{type(exc).__name__}: {exc}"})
            os._exit(1)
    # Threads start only now: they inherit the reduced privileges set by the sandbox.
    server = ToolServer(channel, dict(config.get("env") or {}), config.get("desktop"))
    port_fd = config.get("port_fd")
    if type(port_fd) is int:
        network.PortConnector(port_fd, server.streams.open).start()
    channel.send({"ready": True, "pid": pid})
    try:
        server.serve()
    finally:
        if not config.get("isolated"):
            _kill_descendants()
        os._exit(0)


def _prepare_unisolated(config: dict[str, Any]) -> int:
    """Make the session's working directory; returns this process's PID."""
    from . import syscalls

    os.umask(0o022)
    # Orphans of the session then stay our descendants, so they are reaped by us and
    # found (and killed) at release.
    syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
    home = config["home"]
    os.makedirs(home, exist_ok=True)
    workdir = config.get("workdir") or home
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    return os.getpid()
