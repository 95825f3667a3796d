"""Application tools of the desktop (``wuying_app``; stdlib only).

Installed apps are the session's ``.desktop`` entries (their ``Name=`` and ``Exec=``, field
codes kept, as the cloud answers); ``start_app`` runs a command on the desktop and answers
the processes it started, descendants included, once the app shows a window (or exits,
or a few seconds pass for apps without one).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import time

from . import procs, xproto
from . import tool_args as ta
from .window_tools import process_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .computer_tools import Context

#: How long start_app waits for a window of the new app.
WINDOW_WAIT_S = 5.0
#: How long a stopped process gets between SIGTERM and SIGKILL.
STOP_GRACE_S = 2.0
_FIELD_CODE = re.compile(r"%[fFuUdDnNickvm]")
_SYSTEM_CATEGORIES = {"Settings", "PackageManager", "Security"}


def _data_dirs(env: dict[str, str]) -> list[str]:
    home = env.get("HOME", "/root")
    dirs = env.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share"
    user = env.get("XDG_DATA_HOME") or f"{home}/.local/share"
    return [f"{path}/applications" for path in [user, *dirs.split(":")] if path]


def _entry(path: str) -> dict[str, str]:
    """The ``[Desktop Entry]`` keys of a .desktop file (untranslated values only)."""
    fields: dict[str, str] = {}
    group = ""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for raw in handle:
                line = raw.strip()
                if line.startswith("["):
                    group = line
                elif group == "[Desktop Entry]" and "=" in line and not line.startswith("#"):
                    key, _, value = line.partition("=")
                    fields.setdefault(key.strip(), value.strip())
    except OSError:
        return {}
    return fields


def _is_system(fields: dict[str, str]) -> bool:
    categories = set(filter(None, fields.get("Categories", "").split(";")))
    if "TerminalEmulator" in categories:
        return False  # a terminal is an app users start, whatever its other categories
    return fields.get("NoDisplay", "").lower() == "true" or bool(categories & _SYSTEM_CATEGORIES)


def get_installed_apps(args: dict[str, Any], ctx: Context) -> str:
    """``[{name, start_cmd, work_directory?}]`` from the menu and/or desktop entries."""
    start_menu = ta.flag(args, "start_menu", True)
    on_desktop = ta.flag(args, "desktop", False)
    ignore_system = ta.flag(args, "ignore_system_apps", True)
    env = ctx.desktop.app_env()
    directories = _data_dirs(env) if start_menu else []
    if on_desktop:
        directories.append(f"{env.get('HOME', '/root')}/Desktop")
    seen: dict[str, dict[str, str]] = {}
    for directory in directories:
        with contextlib.suppress(OSError):
            for name in sorted(os.listdir(directory)):
                if name.endswith(".desktop") and name not in seen:
                    seen[name] = _entry(f"{directory}/{name}")  # the first directory wins
    apps = []
    for fields in seen.values():
        if fields.get("Type", "Application") != "Application" or not fields.get("Exec"):
            continue
        if fields.get("Hidden", "").lower() == "true" or (ignore_system and _is_system(fields)):
            continue
        app = {"name": fields.get("Name", ""), "start_cmd": fields["Exec"]}
        if fields.get("Path"):
            app["work_directory"] = fields["Path"]
        apps.append(app)
    apps.sort(key=lambda app: app["name"].lower())
    return json.dumps(apps, ensure_ascii=False)


def _process(pid: int) -> dict[str, Any]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read().rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        cmdline = ""
    return {"pname": process_name(pid), "pid": pid, "cmdline": cmdline}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def _window_pids(ctx: Context, conn: xproto.XConnection, visible_only: bool) -> list[int]:
    desktop = ctx.desktop
    root = conn.screen.root
    pids: list[int] = []
    for window in conn.cardinals(root, desktop.atom(conn, "_NET_CLIENT_LIST")):
        with contextlib.suppress(xproto.XError):
            if visible_only and conn.map_state(window) != 2:
                continue
            found = conn.cardinals(window, desktop.atom(conn, "_NET_WM_PID"))
            if found and found[0] not in pids:
                pids.append(found[0])
    return pids


def start_app(args: dict[str, Any], ctx: Context) -> str:
    """Run ``start_cmd`` on the desktop; answer ``[{pname, pid, cmdline}]`` of what it started."""
    command = ta.text(args, "start_cmd").strip()
    work_directory = ta.text(args, "work_directory", "")
    ta.text(args, "activity", "")  # Android only
    if not command:
        raise ta.ToolError("Invalid arguments: 'start_cmd' must not be empty")
    command = _FIELD_CODE.sub("", command).replace("%%", "%").strip()
    if work_directory:
        if not os.path.isdir(work_directory):
            raise ta.ToolError(f"Invalid arguments: no directory {work_directory!r}")
        command = f"cd {shlex.quote(work_directory)} || exit 126\n{command}"
    desktop = ctx.desktop
    desktop.ensure()
    log_path = f"{desktop.state_dir}/app-{time.monotonic_ns()}.log"
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        pid = ctx.reaper.spawn(["/bin/sh", "-c", command], desktop.app_env(), log, log)
    except OSError as exc:
        raise ta.ToolError(f"Failed to start the app: {exc}") from None
    finally:
        os.close(log)
    deadline = time.monotonic() + WINDOW_WAIT_S
    with desktop.connect() as conn:
        while time.monotonic() < deadline:
            if ctx.reaper.has_exited(pid):
                break
            tree = procs.descendants(pid) | {pid}
            if tree & set(_window_pids(ctx, conn, visible_only=False)):
                break
            time.sleep(0.01)
    if ctx.reaper.has_exited(pid) and not procs.descendants(pid):
        code = ctx.reaper.wait(pid, 0)
        if code:
            with contextlib.suppress(OSError), open(log_path, "rb") as handle:
                output = handle.read()[-2000:].decode("utf-8", "replace").strip()
            raise ta.ToolError(f"Failed to start the app (exit code {code}): {output}")
    started = sorted(pid_ for pid_ in procs.descendants(pid) | {pid} if _alive(pid_))
    return json.dumps([_process(item) for item in started], ensure_ascii=False)


def _session_processes() -> set[int]:
    """Every process of the session but the tool server (all of them descend from it)."""
    return procs.descendants(os.getpid())


def _stop(ctx: Context, pids: set[int]) -> None:
    """SIGTERM, SIGKILL after a grace period, then wait (bounded) until the window manager
    let go of their windows: when the answer arrives, the app is gone from the screen."""
    _end(pids)
    if not ctx.desktop.running:
        return
    with ctx.desktop.connect() as conn:
        deadline = time.monotonic() + STOP_GRACE_S
        while set(_window_pids(ctx, conn, visible_only=False)) & pids:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)


def _end(pids: set[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.01)
    procs.kill_all(pid for pid in pids if _alive(pid))
    deadline = time.monotonic() + STOP_GRACE_S
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.005)


def stop_app_by_pname(args: dict[str, Any], ctx: Context) -> str:
    """End every session process with that name (SIGTERM, then SIGKILL)."""
    pname = ta.text(args, "pname").strip()
    if not pname:
        raise ta.ToolError("Invalid arguments: 'pname' must not be empty")
    found = {pid for pid in _session_processes() if _named(pid, pname)}
    if not found:
        raise ta.ToolError(f"No process named {pname!r} is running in this session")
    _stop(ctx, found)
    return f"Stopped {len(found)} process(es) named {pname}"


def _named(pid: int, pname: str) -> bool:
    name = process_name(pid)
    if name and (name == pname or name == pname[:15]):  # the kernel keeps 15 characters
        return True
    with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as handle:
        first = handle.read().split(b"\0", 1)[0].decode("utf-8", "replace")
        return os.path.basename(first) == pname
    return False


def stop_app_by_pid(args: dict[str, Any], ctx: Context) -> str:
    """End one session process (SIGTERM, then SIGKILL)."""
    pid = ta.integer(args, "pid", 0)
    if pid not in _session_processes() or not _alive(pid):
        raise ta.ToolError(f"No process with PID {pid} is running in this session")
    _stop(ctx, {pid})
    return f"Stopped process {pid}"


def stop_app_by_cmd(args: dict[str, Any], ctx: Context) -> str:
    """Run an app's stop command on the desktop."""
    command = ta.text(args, "stop_cmd").strip()
    if not command:
        raise ta.ToolError("Invalid arguments: 'stop_cmd' must not be empty")
    env = ctx.desktop.app_env() if ctx.desktop.running else dict(ctx.env)
    result = procs.run(ctx.reaper, ["/bin/sh", "-c", command], env, 30.0)
    if result.timed_out:
        raise ta.ToolError("Execution failed. Error code:-1 Error message: [timeout]")
    if result.exit_code != 0:
        raise ta.ToolError(
            f"Execution failed. Error code:{result.exit_code} Error message: {result.err().strip()}"
        )
    return result.out() or "App stopped successfully"


def list_visible_apps(args: dict[str, Any], ctx: Context) -> str:
    """``[{pname, pid, cmdline}]`` of the processes owning windows on screen."""
    pids = ctx.desktop.run(lambda conn: _window_pids(ctx, conn, visible_only=True))
    return json.dumps([_process(pid) for pid in pids if _alive(pid)], ensure_ascii=False)
