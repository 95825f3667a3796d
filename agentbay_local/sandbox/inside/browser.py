"""The session's managed Chromium and the browser server's tools (stdlib only; runs inside).

The runtime starts the browser with the internal tool ``browser_start`` (InitBrowser), giving
a launch plan it built from the ``BrowserOption`` (flags, user-data dir, extension folder).
Chromium runs as a process of the session with remote debugging on the session's loopback,
on a port it picks itself (``--remote-debugging-port=0``) and writes, with the browser's
WebSocket path, to ``DevToolsActivePort`` in the user-data dir.

The tools that need no language model (``page_use_navigate``, ``page_use_screenshot``,
``page_use_close_session``, ``stopChrome``) drive the browser over CDP; the others answer an
error saying they need the AgentBay cloud.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import threading
import time

from . import tool_args as ta
from .cdp import Cdp, CdpError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol

    from . import exec_tools, procs

    class Context(exec_tools.Context, Protocol):
        """What the browser tools need from the tool server: the exec tools' needs and the
        session's browser."""

        @property
        def browser(self) -> ManagedBrowser: ...


#: Where Chromium's output goes (the session's own /tmp), for start-up failure messages.
LOG_PATH = "/tmp/.agentbay-chromium.log"
#: The generated extension that answers proxy credentials (Chromium's flags cannot carry them).
PROXY_AUTH_DIR = "/tmp/.agentbay-proxy-auth"
#: How long Chromium may take to write its DevTools port.
START_TIMEOUT_S = 30.0
#: How long a graceful ``Browser.close`` may take (cookies are flushed then) before SIGKILL.
STOP_TIMEOUT_S = 5.0
NAVIGATE_TIMEOUT_S = 30.0
MODEL_TOOLS = frozenset(
    {
        "page_use_act",
        "page_use_act_async",
        "page_use_get_act_result",
        "page_use_observe",
        "page_use_extract",
        "page_use_extract_async",
        "page_use_get_extract_result",
        "page_use_observe_async",
        "page_use_get_observe_result",
        "page_use_login",
        "browser_use_execute_task",
        "browser_use_get_task_status",
        "browser_use_terminate_task",
    }
)


class ManagedBrowser:
    """The one Chromium of a session: started, found again, stopped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._exited = False  # the reaper hands an exit code out once: remember it
        self._reaper: procs.Reaper | None = None
        self.port = 0
        self.path = ""  # /devtools/browser/<id>
        self.user_data_dir = ""
        self.current_target = ""  # the agent's page (page_use_*), once it used one
        self._extensions: list[str] = []  # the unpacked extensions it was started with

    def alive(self) -> bool:
        """Whether the started Chromium still runs."""
        return (
            self._pid is not None
            and self._reaper is not None
            and not self._exited
            and not self._reaper.has_exited(self._pid)
        )

    def _wait_exit(self, timeout_s: float) -> bool:
        """Wait for the main process to exit (and collect its exit code); True if it did."""
        if self._pid is None or self._reaper is None or self._exited:
            return True
        self._exited = self._reaper.wait(self._pid, timeout_s) is not None
        return self._exited

    def start(self, plan: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """Start Chromium from a launch plan, or answer the running one's endpoint."""
        extensions = find_extensions(str(plan.get("extension_dir") or ""))
        if self.alive() and extensions != self._extensions:
            # Extensions arrived after the browser started (it starts at session creation):
            # only a new start loads them.
            self.stop()
        with self._lock:
            if self.alive():
                return self._endpoint(restarted=False)
            self._kill()  # a crashed browser's helpers, and its exit code
            self._extensions = list(extensions)
            user_data_dir = ta.text(plan, "user_data_dir")
            binary = ta.text(plan, "binary")
            flags = [str(flag) for flag in plan.get("flags", [])]
            auth = plan.get("proxy_auth")
            if isinstance(auth, dict):
                extensions.append(write_proxy_auth_extension(auth))
            if extensions:
                joined = ",".join(extensions)
                flags += [f"--load-extension={joined}", f"--disable-extensions-except={joined}"]
            os.makedirs(user_data_dir, exist_ok=True)
            port_file = os.path.join(user_data_dir, "DevToolsActivePort")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(port_file)
            argv = [binary, f"--user-data-dir={user_data_dir}", *flags, "about:blank"]
            log_fd = os.open(LOG_PATH, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                self._pid = ctx.reaper.spawn(argv, ctx.env, log_fd, log_fd)
            except OSError as exc:
                raise ta.ToolError(f"the browser could not be started: {exc}") from None
            finally:
                os.close(log_fd)
            self._reaper = ctx.reaper
            self.user_data_dir = user_data_dir
            timeout_s = ta.number(plan, "timeout_s", START_TIMEOUT_S)
            self._wait_ready(port_file, timeout_s)
            if isinstance(auth, dict):
                self._wait_worker(timeout_s)
            return self._endpoint(restarted=True, extensions=extensions)

    def _wait_worker(self, timeout_s: float) -> None:
        """Wait until the proxy-credentials extension's worker runs: a page loaded before
        would meet the proxy's challenge with nobody to answer it."""
        deadline = time.monotonic() + timeout_s
        try:
            with Cdp.connect(self.port, self.path, timeout_s) as cdp:
                while time.monotonic() < deadline:
                    targets = cdp.call("Target.getTargets").get("targetInfos", [])
                    if any(
                        t.get("type") == "service_worker"
                        and str(t.get("url", "")).endswith("/worker.js")
                        for t in targets
                        if isinstance(t, dict)
                    ):
                        return
                    time.sleep(0.02)
        except CdpError as exc:
            raise ta.ToolError(f"the browser did not start its proxy credentials: {exc}") from None
        self._kill()
        raise ta.ToolError(f"the proxy credentials extension did not start within {timeout_s:g} s")

    def _wait_ready(self, port_file: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        delay = 0.005
        while time.monotonic() < deadline:
            if not self.alive():
                self._kill()
                raise ta.ToolError(f"the browser exited during start-up: {_log_tail()}")
            with contextlib.suppress(OSError, ValueError):
                with open(port_file) as handle:
                    lines = handle.read().split()
                if len(lines) >= 2:
                    self.port, self.path = int(lines[0]), lines[1]
                    return
            time.sleep(delay)
            delay = min(delay * 1.5, 0.05)
        self._kill()
        raise ta.ToolError(f"the browser did not start within {timeout_s:g} s: {_log_tail()}")

    def _endpoint(self, *, restarted: bool, extensions: list[str] | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = {"port": self.port, "path": self.path, "started": restarted}
        if extensions is not None:
            answer["extensions"] = extensions
        return answer

    def require(self) -> None:
        """ToolError unless the browser runs (InitBrowser starts it)."""
        if not self.alive():
            raise ta.ToolError("the browser is not running: call InitBrowser first")

    def connect(self, timeout_s: float = 10.0) -> Cdp:
        """A CDP connection to the browser target."""
        self.require()
        return Cdp.connect(self.port, self.path, timeout_s)

    def stop(self) -> bool:
        """Close Chromium gracefully (its profile is written out), else kill it.

        Returns whether a browser was running.
        """
        with self._lock:
            if self._pid is None or self._reaper is None:
                return False
            running = self.alive()
            if running:
                # Refused while a client's own Browser.close is under way: then just wait.
                with contextlib.suppress(CdpError), Cdp.connect(self.port, self.path, 2.0) as cdp:
                    cdp.call("Browser.close", timeout_s=STOP_TIMEOUT_S)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            exited = self._wait_exit(STOP_TIMEOUT_S)
            # Its network service writes the cookie store while shutting down, after the
            # main process may already be gone (a client's Browser.close included): wait
            # for the whole process group before anything reads the profile.
            while exited and _group_alive(self._pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            self._kill()
            return running

    def _kill(self) -> None:
        self._kill_group()
        self._wait_exit(10.0)
        self._forget()

    def _kill_group(self) -> None:
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pid, signal.SIGKILL)

    def _forget(self) -> None:
        self._pid = None
        self._exited = False
        self.port = 0
        self.path = ""
        self.current_target = ""


def _group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process of process group ``pgid`` remains."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid:
            return True
    return False


def find_extensions(folder: str) -> list[str]:
    """Unpacked extension folders under ``folder``: each directory holding a manifest.json,
    at most two levels down (a zip may unpack into a folder of its own)."""
    if not folder or not os.path.isdir(folder):
        return []
    found: list[str] = []
    for top, dirs, files in os.walk(folder):
        depth = top[len(folder) :].count(os.sep) + (0 if folder.endswith(os.sep) else 1)
        if "manifest.json" in files and top.rstrip(os.sep) != folder.rstrip(os.sep):
            found.append(top)
            dirs[:] = []
        elif depth >= 2:
            dirs[:] = []
        dirs.sort()
    return found


def write_proxy_auth_extension(auth: dict[str, Any]) -> str:
    """A small extension answering the proxy's credential challenge; returns its folder."""
    credentials = {key: str(auth.get(key, "")) for key in ("username", "password")}
    shutil.rmtree(PROXY_AUTH_DIR, ignore_errors=True)
    os.makedirs(PROXY_AUTH_DIR, mode=0o700)
    manifest = {
        "manifest_version": 3,
        "name": "AgentBay proxy credentials",
        "version": "1.0",
        "permissions": ["webRequest", "webRequestAuthProvider"],
        "host_permissions": ["<all_urls>"],
        "background": {"service_worker": "worker.js"},
    }
    worker = (
        f"const credentials = {json.dumps(credentials)};\n"
        "chrome.webRequest.onAuthRequired.addListener(\n"
        "  (details, reply) => reply(details.isProxy ? {authCredentials: credentials} : {}),\n"
        '  {urls: ["<all_urls>"]}, ["asyncBlocking"]);\n'
    )
    for name, content in (("manifest.json", json.dumps(manifest)), ("worker.js", worker)):
        fd = os.open(os.path.join(PROXY_AUTH_DIR, name), os.O_WRONLY | os.O_CREAT, 0o600)
        with open(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
    return PROXY_AUTH_DIR


def _log_tail() -> str:
    try:
        with open(LOG_PATH, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 1500))
            lines = handle.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return "no output"
    useful = [line for line in lines if "dbus" not in line]
    return "\n".join(useful[-8:]) or "no output"


# ---- pages ----
def _page_targets(cdp: Cdp) -> list[dict[str, Any]]:
    targets = cdp.call("Target.getTargets").get("targetInfos", [])
    return [t for t in targets if isinstance(t, dict) and t.get("type") == "page"]


def _agent_page(cdp: Cdp, browser: ManagedBrowser, page_id: str | None) -> str:
    """The target a tool acts on: ``page_id``, else the agent's page, else the first page
    (a new one when the browser has none)."""
    pages = _page_targets(cdp)
    ids = [str(t.get("targetId")) for t in pages]
    if page_id:
        if page_id not in ids:
            raise ta.ToolError(f"no page with id {page_id!r} in the browser")
        return page_id
    if browser.current_target in ids:
        return browser.current_target
    if ids:
        return ids[0]
    return str(cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"])


def _attach(cdp: Cdp, target_id: str) -> str:
    answer = cdp.call("Target.attachToTarget", {"targetId": target_id, "flatten": True})
    return str(answer["sessionId"])


def _cdp_failure(exc: CdpError) -> ta.ToolError:
    return ta.ToolError(str(exc))


# ---- tools ----
def browser_start(args: dict[str, Any], ctx: Context) -> str:
    """Internal (InitBrowser): start the browser from a launch plan; answers its endpoint."""
    return json.dumps(ctx.browser.start(args, ctx))


def browser_stop(args: dict[str, Any], ctx: Context) -> str:
    """Internal (release): close the browser gracefully so its profile is on disk."""
    return json.dumps({"stopped": ctx.browser.stop()})


def stop_chrome(args: dict[str, Any], ctx: Context) -> str:
    """``stopChrome``: close the browser (a later InitBrowser starts it again)."""
    return "Chrome stopped" if ctx.browser.stop() else "Chrome is not running"


def page_use_navigate(args: dict[str, Any], ctx: Context) -> str:
    """Open ``url`` in the agent's page and wait for its load event."""
    url = ta.text(args, "url")
    browser = ctx.browser
    try:
        with browser.connect() as cdp:
            target = _agent_page(cdp, browser, None)
            session = _attach(cdp, target)
            cdp.call("Page.enable", session_id=session)
            answer = cdp.call(
                "Page.navigate", {"url": url}, session_id=session, timeout_s=NAVIGATE_TIMEOUT_S
            )
            if answer.get("errorText"):
                raise ta.ToolError(f"Navigation to {url} failed: {answer['errorText']}")
            if answer.get("loaderId"):  # same-document navigations fire no load event
                cdp.wait_event("Page.loadEventFired", NAVIGATE_TIMEOUT_S, session_id=session)
            browser.current_target = target
    except CdpError as exc:
        raise _cdp_failure(exc) from None
    return f"Navigated to {url}"


def page_use_screenshot(args: dict[str, Any], ctx: Context) -> str:
    """A screenshot of a page as a data URL: PNG at quality 100, else JPEG at ``quality``."""
    quality = ta.integer(args, "quality", 80)
    if not 0 <= quality <= 100:
        raise ta.ToolError("Invalid arguments: 'quality' must be between 0 and 100")
    full_page = ta.flag(args, "full_page", True)
    page_id = args.get("page_id")
    if page_id is not None and not isinstance(page_id, str):
        raise ta.ToolError("Invalid arguments: 'page_id' must be a string")
    timeout_s = ta.number(args, "timeout", 30000.0) / 1000
    if timeout_s <= 0:
        raise ta.ToolError("Invalid arguments: 'timeout' must be positive")
    clip = _clip(args.get("clip"))
    image = "png" if quality == 100 else "jpeg"
    params: dict[str, Any] = {"format": image}
    if image == "jpeg":
        params["quality"] = quality
    browser = ctx.browser
    try:
        with browser.connect() as cdp:
            session = _attach(cdp, _agent_page(cdp, browser, page_id))
            if clip is not None:
                params["clip"] = clip
                params["captureBeyondViewport"] = True
            elif full_page:
                metrics = cdp.call("Page.getLayoutMetrics", session_id=session)
                size = metrics.get("cssContentSize") or metrics.get("contentSize") or {}
                width, height = size.get("width", 0), size.get("height", 0)
                if width and height:
                    params["clip"] = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
                    params["captureBeyondViewport"] = True
            data = cdp.call(
                "Page.captureScreenshot", params, session_id=session, timeout_s=timeout_s
            )["data"]
    except CdpError as exc:
        raise _cdp_failure(exc) from None
    return f"data:image/{image};base64,{data}"


def _clip(value: Any) -> dict[str, float] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ta.ToolError("Invalid arguments: 'clip' must be an object")
    clip: dict[str, float] = {}
    for key in ("x", "y", "width", "height"):
        number = value.get(key)
        if not isinstance(number, int | float) or isinstance(number, bool):
            raise ta.ToolError(f"Invalid arguments: 'clip.{key}' must be a number")
        clip[key] = float(number)
    if clip["width"] <= 0 or clip["height"] <= 0:
        raise ta.ToolError("Invalid arguments: the clip must have a positive size")
    clip["scale"] = 1.0
    return clip


def page_use_close_session(args: dict[str, Any], ctx: Context) -> str:
    """Close the agent's session: locally it holds nothing, the browser keeps running."""
    ctx.browser.current_target = ""
    return "Browser agent session closed"


def needs_cloud(name: str) -> Any:
    """A tool that needs a language model: always an error naming the cloud."""

    def tool(args: dict[str, Any], ctx: Context) -> str:
        raise ta.ToolError(
            f"{name} needs the AgentBay cloud: it is answered by a language model, which the "
            "local runtime does not have. Drive the page with Playwright over CDP instead "
            "(session.browser.get_endpoint_url())."
        )

    return tool
