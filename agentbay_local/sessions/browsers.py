"""InitBrowser, the browser's CDP link (GetLink without a port), and its stop at release."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentbay.contract import get_logger
from agentbay_local.protocol.envelope import ApiError
from agentbay_local.sessions import browser_option
from agentbay_local.sessions.browser_option import Chromium
from agentbay_local.sessions.cdp_link import CdpLink

if TYPE_CHECKING:
    from agentbay_local.protocol.description import Description
    from agentbay_local.running import RunningSessions
    from agentbay_local.sandbox import Sandbox, SandboxManager
    from agentbay_local.sessions.links import LinkProxy

log = get_logger("agentbay.local.browser")

BROWSER_SERVER = "wuying_browser"
BROWSER_IMAGE = "browser_latest"
#: InitBrowser's wait for Chromium (its own start-up limit is 30 s) and for a graceful stop.
START_TIMEOUT_S = 45.0
STOP_TIMEOUT_S = 15.0
CONNECT_TIMEOUT_S = 10.0


@dataclass
class SessionBrowser:
    """A started browser of one session, as the host sees it."""

    link: CdpLink

    @property
    def path(self) -> str:
        """The browser target's WebSocket path, ``/devtools/browser/<id>``."""
        return self.link.browser_path


class BrowserActions:
    """The browsers of one runtime's sessions."""

    def __init__(
        self,
        *,
        description: Description,
        running: RunningSessions,
        sandboxes: SandboxManager,
        links: LinkProxy,
        listen_host: str,
    ) -> None:
        self._description = description
        self._running = running
        self._sandboxes = sandboxes
        self._links = links
        self._listen_host = listen_host
        self._browsers: dict[str, SessionBrowser] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        #: Browsers started ahead of InitBrowser (browser_latest, default options): the
        #: plan's tool arguments and the start under way.
        self._early: dict[str, tuple[dict[str, Any], asyncio.Task[Any]]] = {}
        #: Each session's Chromium (its image's; the host's on the host's /).
        self._chromium: dict[str, Chromium] = {}

    def start_early(
        self, session_id: str, tool_image: str, sandbox: Sandbox, chromium: Chromium | None
    ) -> None:
        """Remember a new session's Chromium (its image's, see ``image_chromium``), and
        start a browser_latest session's with the default options now, in the background:
        most InitBrowser calls then find it running (Chromium's start is most of a first
        page's wait). Other options restart it at InitBrowser."""
        if chromium is not None:
            self._chromium[session_id] = chromium
        if tool_image != BROWSER_IMAGE or chromium is None:
            return
        plan = browser_option.launch_plan({}, browser_option.BROWSER_DATA_PATH, chromium)
        args = plan.tool_args()
        task = asyncio.ensure_future(
            sandbox.call_tool_answer("browser_start", args, timeout_s=START_TIMEOUT_S)
        )
        self._early[session_id] = (args, task)

    def serves_browser(self, image_id: str) -> bool:
        """Whether sessions of ``image_id`` have the managed browser."""
        return BROWSER_SERVER in self._description.image_servers.get(image_id, ())

    async def init(self, fields: dict[str, Any]) -> dict[str, int]:
        """InitBrowser: start (or find again) the session's Chromium; answers its Port."""
        row = self._running.get(fields["SessionId"])
        if not self.serves_browser(self._running.tool_image(row)):
            raise ApiError(
                400,
                "InvalidImage.NoBrowser",
                f"The session's image {row.image_id} has no browser; create the session "
                f"with image_id={BROWSER_IMAGE!r}.",
            )
        chromium = self._chromium.get(row.id)
        if chromium is None:
            # A 4xx like the other "this session has no browser" answers (an image without
            # one, a browser_latest create here): nothing failed, and a retry cannot help.
            raise ApiError(400, "BrowserUnavailable", browser_option.INSTALL_ADVICE + ".")
        option = browser_option.parse_option(fields.get("BrowserOption"))
        persistent = fields.get("PersistentPath") or browser_option.BROWSER_DATA_PATH
        plan = browser_option.launch_plan(option, persistent, chromium)
        if plan.unsupported:
            log.info("session %s: %s accepted but not supported locally", row.id, plan.unsupported)
        sandbox = self._sandboxes.get(row.id)
        if sandbox is None:
            raise ApiError(400, "InvalidMcpSession.NotFound", "The session sandbox is not running.")
        async with self._locks.setdefault(row.id, asyncio.Lock()):
            early = self._early.pop(row.id, None)
            if early is not None:
                early_args, task = early
                await asyncio.gather(task, return_exceptions=True)
                if early_args != plan.tool_args():  # asked for other options: start again
                    await sandbox.call_tool_answer("browser_stop", {}, timeout_s=STOP_TIMEOUT_S)
            answer = await sandbox.call_tool_answer(
                "browser_start", plan.tool_args(), timeout_s=START_TIMEOUT_S
            )
            text = _text(answer.value)
            if answer.value.get("isError"):
                raise ApiError(503, "BrowserStartFailed", f"The browser did not start: {text}")
            started = json.loads(text)
            port, path = int(started["port"]), str(started["path"])
            browser = self._browsers.get(row.id)
            if browser is None:
                link = CdpLink(_connector(sandbox), port, path)
                await link.start(self._listen_host)
                self._browsers[row.id] = SessionBrowser(link)
            else:
                browser.link.retarget(port, path)
            return {"Port": self._browsers[row.id].link.port}

    def endpoint_url(self, session_id: str) -> str | None:
        """The CDP WebSocket URL of a session's browser, once InitBrowser started it: the
        session's link to Chromium's debugging port, with the browser target's path."""
        browser = self._browsers.get(session_id)
        if browser is None:
            return None
        links = self._links
        url = links.url(links.link(session_id, browser.link.browser_port), "ws")
        return url + browser.path.lstrip("/")

    async def cdp_link(self, fields: dict[str, Any]) -> dict[str, str]:
        """GetCdpLink: the CDP WebSocket URL of a running session's browser. A browser_latest
        session's browser runs from the start, as in the cloud (the official suite asks
        GetCdpLink right after create): without an InitBrowser yet, it is the one started
        early with the default options."""
        row = self._running.get(fields["SessionId"])
        url = self.endpoint_url(row.id)
        if url is None and self._running.tool_image(row) == BROWSER_IMAGE:
            await self.init({"SessionId": row.id})
            url = self.endpoint_url(row.id)
        if url is None:
            raise ApiError(
                400,
                "InvalidOperation.BrowserNotStarted",
                f"The browser of session {row.id} is not started: call InitBrowser first.",
            )
        return {"Url": url}

    async def stop_for_release(self, session_id: str, sandbox: Sandbox | None) -> None:
        """Close the browser gracefully (its profile reaches disk before the context
        upload), then close its link. Sessions without a browser cost nothing."""
        browser = self._browsers.pop(session_id, None)
        self._locks.pop(session_id, None)
        self._chromium.pop(session_id, None)
        early = self._early.pop(session_id, None)
        if early is not None:  # released before any InitBrowser: end the early start first
            await asyncio.gather(early[1], return_exceptions=True)
            if sandbox is not None:
                await sandbox.call_tool_answer("browser_stop", {}, timeout_s=STOP_TIMEOUT_S)
        if browser is None:
            return
        if sandbox is not None:
            await sandbox.call_tool_answer("browser_stop", {}, timeout_s=STOP_TIMEOUT_S)
        await browser.link.close()

    async def close(self) -> None:
        """Close every link (the sandboxes end their browsers)."""
        early, self._early = [task for _, task in self._early.values()], {}
        await asyncio.gather(*early, return_exceptions=True)
        browsers, self._browsers = list(self._browsers.values()), {}
        await asyncio.gather(*(b.link.close() for b in browsers), return_exceptions=True)


def _connector(sandbox: Sandbox) -> Any:
    async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        # Chromium listens on the session's own loopback, in its network namespace.
        connection = await sandbox.open_port_connection(port, CONNECT_TIMEOUT_S)
        return await asyncio.open_connection(sock=connection)

    return connect


def _text(value: dict[str, Any]) -> str:
    content = value.get("content") or [{}]
    return str(content[0].get("text", ""))
