"""The runtime's state and services, tied together: one instance per server."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from agentbay.contract import get_logger
from agentbay_local.contexts.actions import ContextActions
from agentbay_local.contexts.files import DEFAULT_QUOTA_BYTES
from agentbay_local.data_dir import lock_data_dir
from agentbay_local.images.base_builds import BaseImages
from agentbay_local.images.registry import ImageError, ImageRegistry
from agentbay_local.protocol import description as api_description
from agentbay_local.protocol.address import PublicAddress
from agentbay_local.protocol.keys import ApiKeys
from agentbay_local.protocol.signing import UrlSigner
from agentbay_local.running import RunningSessions
from agentbay_local.sandbox import SandboxManager
from agentbay_local.sandbox.egress import NetworkMode, NetworkPolicy
from agentbay_local.sandbox.freezer import Freezer
from agentbay_local.sandbox.image import SandboxImage
from agentbay_local.sandbox.limits import SessionLimits
from agentbay_local.sessions.actions import DEFAULT_IMAGE, SessionActions, SessionSettings
from agentbay_local.sessions.browser_option import find_chromium
from agentbay_local.sessions.browsers import BrowserActions
from agentbay_local.sessions.desktop import Screen
from agentbay_local.sessions.lifecycle import LifecycleDefaults, Reaper
from agentbay_local.sessions.links import LinkProxy
from agentbay_local.sessions.live_view import Control
from agentbay_local.sessions.networks import SessionNetworks
from agentbay_local.sessions.resource_page import ResourcePage
from agentbay_local.sessions.session_socket import PATH_PREFIX, SessionSockets
from agentbay_local.sessions.states import SessionStates
from agentbay_local.sessions.tools import ToolCalls
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
    #: Isolated sessions on the host's own ``/`` instead of their images' root filesystems
    #: (serve's --host-root: the host's files are readable in sessions).
    host_root: bool = False
    pool_size: int = 2
    max_sessions: int = 100
    #: Port of the GetLink listener (0: a free port chosen at start).
    link_port: int = 0
    #: What isolated sessions reach: "egress" or "none" (see ``sandbox.egress``).
    network: NetworkMode = "egress"
    #: Host loopback ports sessions may reach (egress only).
    allow_host_ports: tuple[int, ...] = ()
    max_body_bytes: int = 16 * 1024 * 1024
    #: The most one context may hold (serve's --context-quota; None: no quota).
    context_quota_bytes: int | None = DEFAULT_QUOTA_BYTES
    url_lifetime_s: int = 3600
    screen: Screen = field(default_factory=Screen)
    #: What each session may use (serve's --session-* flags).
    limits: SessionLimits = field(default_factory=SessionLimits)
    start_desktop: bool = False  # start each desktop session's display at creation
    #: Answer ``LinkUrl`` (serve's --link-url): 0.15+ clients then call every tool by
    #: ``POST <LinkUrl>/callTool``, the cloud's direct channel (see docs/compatibility.md).
    link_url: bool = False
    #: What live view URLs (ResourceUrl) may control: "none" (view only), "mouse", "keyboard".
    live_view_control: Control = "none"
    #: Idle timeout and maximum run time of sessions whose client sets none.
    lifecycle: LifecycleDefaults = field(default_factory=LifecycleDefaults)


class Runtime:
    """One server's services, built from its options and wired to one another: the one
    place that knows them all (each service is given what it uses, nothing more)."""

    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options
        self._lock = lock_data_dir(options.data_dir)
        self.address = PublicAddress.of_bind(options.host, options.port)
        self.description = api_description.load()
        self.keys = ApiKeys(options.api_keys)
        self.store = Store(options.data_dir / "state.sqlite3")
        self.images = ImageRegistry(options.data_dir)
        #: The root filesystems sessions run on (None: the host's own, or unisolated).
        self.bases = BaseImages() if options.isolated and not options.host_root else None
        self.signer = UrlSigner()
        self.running = RunningSessions(self.store)
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
        self.sockets = SessionSockets(self.store, self.sandboxes.get, self.running.used_now)
        self.links.serve_path(PATH_PREFIX, self.sockets.handle)
        self.tools = ToolCalls(
            self.running, self.description, self.sandboxes, self.signer, self.address
        )
        self.page = ResourcePage(
            signer=self.signer,
            address=self.address,
            url_lifetime_s=options.url_lifetime_s,
            store=self.store,
            description=self.description,
            sandboxes=self.sandboxes,
            tools=self.tools,
            control=options.live_view_control,
        )
        self.contexts = ContextActions(
            data_dir=options.data_dir,
            store=self.store,
            running=self.running,
            sandboxes=self.sandboxes,
            signer=self.signer,
            address=self.address,
            url_lifetime_s=options.url_lifetime_s,
            quota_bytes=options.context_quota_bytes,
        )
        self.browsers = BrowserActions(
            description=self.description,
            running=self.running,
            sandboxes=self.sandboxes,
            links=self.links,
            listen_host=options.host,
        )
        self.freezer = Freezer()
        self.networks = SessionNetworks(
            store=self.store, sandboxes=self.sandboxes, isolated=options.isolated
        )
        self.sessions = SessionActions(
            settings=SessionSettings(
                isolated=options.isolated,
                max_sessions=options.max_sessions,
                start_desktop=options.start_desktop,
                link_url=options.link_url,
                limits=options.limits,
                lifecycle=options.lifecycle,
            ),
            store=self.store,
            running=self.running,
            tools=self.tools,
            description=self.description,
            images=self.images,
            bases=self.bases,
            sandboxes=self.sandboxes,
            contexts=self.contexts,
            browsers=self.browsers,
            links=self.links,
            sockets=self.sockets,
            page=self.page,
            address=self.address,
            freezer=self.freezer,
            networks=self.networks,
        )
        self.states = SessionStates(
            store=self.store,
            running=self.running,
            sandboxes=self.sandboxes,
            freezer=self.freezer,
            sessions=self.sessions,
            sockets=self.sockets,
        )
        self.reaper = Reaper(self.store, self.running, self._release_expired)

    async def _release_expired(self, session_id: str, why: str) -> None:
        """The reaper's release: as a delete (contexts uploaded), of a session still live."""
        row = self.store.session(session_id)
        if row is not None:
            await self.sessions.end(session_id, row.status)

    def _session_failed(self, session_id: str) -> None:
        """A session's sandbox died by itself: report it failed, close its links."""
        self.store.mark_failed(session_id)
        self.links.close_session(session_id)
        self.networks.leave_later(session_id)
        self.sockets.close_session(session_id, "the session's sandbox stopped")
        log.warning(
            "session %s failed: its sandbox stopped unexpectedly",
            session_id,
            extra={"event": "session_failed", "session": session_id},
        )

    @property
    def base_url(self) -> str:
        """Where clients reach this runtime."""
        return self.address.base_url

    async def start(self) -> None:
        """Recover from an earlier process, then get sandboxes ready."""
        stale = self.store.release_all_running()
        if stale:
            log.info("%d session(s) of an earlier run are now reported released", stale)
        self.contexts.recover()
        await self.links.start(self.options.host, self.options.link_port)
        self.links.host = self.address.host
        if self.bases is None:
            # Found once, off the event loop (creates on the host's / ask for it).
            await asyncio.gather(self.sandboxes.start(), asyncio.to_thread(find_chromium))
        else:
            await self.sandboxes.start(await asyncio.to_thread(self._first_images))
        self.reaper.start()

    def _first_images(self) -> list[SandboxImage]:
        """Start building the missing built-in images (in the background, progress in the
        log); the default image's pool starts now if it is built."""
        assert self.bases is not None
        building = self.bases.build_missing()
        if building:
            log.info("building the images %s in the background", ", ".join(building))
        try:
            return [self.bases.sandbox_image(DEFAULT_IMAGE)[0]]
        except ImageError:
            return []

    async def close(self) -> None:
        """Release every session (uploading what policies ask for) and stop."""
        await self.reaper.stop()
        await self.states.close()
        for row in self.store.live_sessions({}):
            try:
                await self.sessions.end(row.id, row.status, reason="runtime shutdown")
            except Exception:  # keep releasing the others; a failure here is only logged
                log.exception("releasing %s at shutdown failed", row.id)
        await self.sockets.close()
        await self.links.close()
        await self.browsers.close()
        self.networks.close()
        await self.sandboxes.close()
        if self.bases is not None:
            self.bases.close()
        self.store.close()
        self._lock.close()
