"""The runtime's state and services, tied together: one instance per server."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from agentbay.contract import get_logger
from agentbay_local.contexts.actions import ContextActions
from agentbay_local.data_dir import lock_data_dir
from agentbay_local.images.registry import ImageRegistry
from agentbay_local.protocol import description as api_description
from agentbay_local.protocol.keys import ApiKeys
from agentbay_local.protocol.signing import UrlSigner
from agentbay_local.sandbox import SandboxManager
from agentbay_local.sandbox.egress import NetworkMode, NetworkPolicy
from agentbay_local.sandbox.limits import SessionLimits
from agentbay_local.sessions.actions import SessionActions
from agentbay_local.sessions.browser_option import find_chromium
from agentbay_local.sessions.browsers import BrowserActions
from agentbay_local.sessions.desktop import Screen
from agentbay_local.sessions.links import LinkProxy
from agentbay_local.sessions.resource_page import ResourcePage
from agentbay_local.store import Store

log = get_logger("agentbay.local")


@dataclass
class RuntimeOptions:
    """Settings of one runtime (the ``agentbay local serve`` flags)."""

    data_dir: Path
    api_keys: list[str]
    host: str = "127.0.0.1"
    port: int = 8790
    isolated: bool = True
    pool_size: int = 2
    max_sessions: int = 100
    #: Port of the GetLink listener (0: a free port chosen at start).
    link_port: int = 0
    #: What isolated sessions reach: "egress" or "none" (see ``sandbox.egress``).
    network: NetworkMode = "egress"
    #: Host loopback ports sessions may reach (egress only).
    allow_host_ports: tuple[int, ...] = ()
    max_body_bytes: int = 16 * 1024 * 1024
    url_lifetime_s: int = 3600
    screen: Screen = field(default_factory=Screen)
    #: What each session may use (serve's --session-* flags).
    limits: SessionLimits = field(default_factory=SessionLimits)
    start_desktop: bool = False  # start each desktop session's display at creation


class Runtime:
    """Everything one server needs to answer the API."""

    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options
        self.data_dir = options.data_dir
        self._lock = lock_data_dir(options.data_dir)
        self.description = api_description.load()
        self.keys = ApiKeys(options.api_keys)
        self.store = Store(options.data_dir / "state.sqlite3")
        self.images = ImageRegistry(options.data_dir)
        self.sandboxes = SandboxManager(
            options.data_dir,
            isolated=options.isolated,
            pool_size=options.pool_size,
            pids_max=options.limits.pids,
            memory_max_bytes=options.limits.memory_bytes,
            disk_max_bytes=options.limits.disk_bytes,
            cpus=options.limits.cpus,
            on_session_failed=self._session_failed,
            network=NetworkPolicy(options.network, options.allow_host_ports),
            screen=options.screen.config(),
        )
        self.links = LinkProxy(self.sandboxes.get)
        self.sessions = SessionActions(self)
        self.contexts = ContextActions(self)
        self.browsers = BrowserActions(self)
        self.signer = UrlSigner()
        self.page = ResourcePage(self)
        self.max_sessions = options.max_sessions
        self.url_lifetime_s = options.url_lifetime_s
        self.public_host = "127.0.0.1" if options.host in ("0.0.0.0", "::", "") else options.host
        self.public_port = options.port

    def _session_failed(self, session_id: str) -> None:
        """A session's sandbox died by itself: report it failed, close its links."""
        self.store.mark_failed(session_id)
        self.links.close_session(session_id)

    @property
    def base_url(self) -> str:
        """Where clients reach this runtime."""
        host = f"[{self.public_host}]" if ":" in self.public_host else self.public_host
        return f"http://{host}:{self.public_port}"

    def resource_url(self, session_id: str) -> str:
        """The page of one session with a fresh authcode (ResourceUrl, GetLink without a port)."""
        return self.page.url(session_id)

    async def start(self) -> None:
        """Recover from an earlier process, then get sandboxes ready."""
        stale = self.store.release_all_running()
        if stale:
            log.info("%d session(s) of an earlier run are now reported released", stale)
        self.contexts.recover()
        await self.links.start(self.options.host, self.options.link_port)
        self.links.host = self.public_host
        # Found once, off the event loop (create and InitBrowser ask for it).
        await asyncio.gather(self.sandboxes.start(), asyncio.to_thread(find_chromium))

    async def close(self) -> None:
        """Release every session (uploading what policies ask for) and stop."""
        for row in self.store.running_sessions({}):
            try:
                await self.sessions.release({"SessionId": row.id})
            except Exception:  # keep releasing the others; a failure here is only logged
                log.exception("releasing %s at shutdown failed", row.id)
        await self.links.close()
        await self.browsers.close()
        await self.sandboxes.close()
        self.store.close()
        self._lock.close()
