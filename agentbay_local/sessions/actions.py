"""Session-level actions: create, release, get, list, labels, resource, link, tools.

Pause, resume, asynchronous delete and the status are in ``states.py``, lifecycles in
``lifecycle.py``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import string
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentbay.contract import SessionSummary, get_logger
from agentbay_local.images.base_builds import BaseImages, ImageBuilding
from agentbay_local.images.base_images import BaseImage
from agentbay_local.images.registry import ImageError, ImageInfo, builtin_images
from agentbay_local.protocol.envelope import ApiError, invalid
from agentbay_local.protocol.paging import decode_page_token, encode_page_token
from agentbay_local.sandbox.image import HOST_ROOT, SandboxImage
from agentbay_local.sessions import desktop
from agentbay_local.sessions.browser_option import INSTALL_ADVICE, find_chromium, image_chromium
from agentbay_local.sessions.browsers import BROWSER_IMAGE
from agentbay_local.sessions.lifecycle import LifecycleDefaults, policy_at_create
from agentbay_local.sessions.resource_page import app_instance_id, resource_id
from agentbay_local.store import (
    DELETED,
    DELETING,
    LIVE,
    PAUSED,
    PAUSING,
    RELEASED,
    RESUMING,
    RUNNING,
    SessionRow,
)

if TYPE_CHECKING:
    from agentbay_local.contexts.actions import ContextActions
    from agentbay_local.images.registry import ImageRegistry
    from agentbay_local.protocol.address import PublicAddress
    from agentbay_local.protocol.description import Description
    from agentbay_local.running import RunningSessions
    from agentbay_local.sandbox import SandboxManager
    from agentbay_local.sandbox.freezer import Freezer
    from agentbay_local.sandbox.limits import SessionLimits
    from agentbay_local.sessions.browsers import BrowserActions
    from agentbay_local.sessions.links import LinkProxy
    from agentbay_local.sessions.networks import SessionNetworks
    from agentbay_local.sessions.resource_page import ResourcePage
    from agentbay_local.sessions.session_socket import SessionSockets
    from agentbay_local.sessions.tools import ToolCalls
    from agentbay_local.store import Store

log = get_logger("agentbay.local.sessions")

_ID_ALPHABET = string.ascii_lowercase + string.digits
DEFAULT_IMAGE = "linux_latest"
#: The tools sessions of an imported root filesystem get: a shell, files and code.
IMPORTED_TOOLS = "code_latest"


@dataclass(frozen=True)
class SessionSettings:
    """What the runtime's flags say about sessions.

    Attributes:
        isolated: sessions run in sandboxes (user images need it).
        max_sessions: how many may run at once (``--max-sessions``).
        start_desktop: start each desktop session's display at creation.
        link_url: answer ``LinkUrl`` (``--link-url``): the tool route of 0.15+ clients.
        limits: what each session may use (for the log; the sandbox manager applies them).
        lifecycle: the idle timeout and maximum run time of sessions whose client sets
            none (``--session-idle-timeout``, ``--session-max-runtime``).
    """

    isolated: bool
    max_sessions: int
    start_desktop: bool
    limits: SessionLimits
    link_url: bool = False
    lifecycle: LifecycleDefaults = field(default_factory=LifecycleDefaults)


def new_session_id() -> str:
    """A session id in the cloud's format (``session-`` + 17 lower-case alphanumerics)."""
    return "session-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def string_labels(value: Any, field: str = "Labels") -> dict[str, str]:
    """A labels object: string keys (not blank) to string values."""
    if not isinstance(value, dict):
        raise invalid(field, "expected a JSON object of string labels")
    for key, item in value.items():
        if not key.strip():
            raise invalid(field, "label keys must not be empty")
        if not isinstance(item, str):
            raise invalid(field, f"the value of label {key!r} must be a string")
    return dict(value)


class SessionActions:
    """The session-level actions of one runtime."""

    def __init__(
        self,
        *,
        settings: SessionSettings,
        store: Store,
        running: RunningSessions,
        tools: ToolCalls,
        description: Description,
        images: ImageRegistry,
        bases: BaseImages | None,
        sandboxes: SandboxManager,
        contexts: ContextActions,
        browsers: BrowserActions,
        links: LinkProxy,
        sockets: SessionSockets,
        page: ResourcePage,
        address: PublicAddress,
        freezer: Freezer,
        networks: SessionNetworks,
    ) -> None:
        self._settings = settings
        self._store = store
        self._running = running
        self._tools = tools
        self._description = description
        self._images = images
        #: The base images sessions run on (None: the host's ``/``, ``serve --host-root``).
        self._bases = bases
        self._sandboxes = sandboxes
        self._contexts = contexts
        self._browsers = browsers
        self._links = links
        self._sockets = sockets
        self._page = page
        self._address = address
        self._freezer = freezer
        self._networks = networks
        # Sessions whose release is under way (a delete, the reaper and a release may meet).
        self._ending: set[str] = set()

    def _user_image(self, image: str) -> ImageInfo | None:
        """The user image ``image`` if one is registered (read from disk: a build that
        finished a moment ago counts)."""
        try:
            return self._images.get(image)
        except ImageError as exc:
            raise ApiError(400, "InvalidImageId.NotFound", str(exc)) from None

    def _base_image(self, name: str) -> tuple[SandboxImage, BaseImage | None]:
        """What a session of the base image ``name`` runs (the host's ``/`` when the
        runtime runs on it), and the image's record."""
        if self._bases is None:
            return HOST_ROOT, None
        try:
            return self._bases.sandbox_image(name)
        except ImageBuilding as exc:
            raise ApiError(503, "ImageBuilding", f"{exc}.") from None
        except ImageError as exc:
            raise ApiError(400, "InvalidImageId.NotBuilt", f"{exc}.") from None

    def _sandbox_image(self, image: str) -> tuple[SandboxImage, str, BaseImage | None]:
        """What a session of ``image`` runs, the built-in image whose tools it serves, and
        the record of the base image at its bottom (None on the host's ``/``)."""
        builtins = builtin_images(self._description.image_servers)
        if image in builtins:
            sandbox_image, record = self._base_image(image)
            return sandbox_image, image, record
        info = self._user_image(image)
        if info is None and self._imported(image):
            sandbox_image, record = self._base_image(image)
            return sandbox_image, IMPORTED_TOOLS, record
        if info is None and image in self._description.image_servers:
            raise ApiError(
                400,
                "InvalidImageId.NotFound",
                f"The image {image!r} needs the AgentBay cloud; the local runtime runs "
                f"{', '.join(builtins)} and the user images (agentbay local image list).",
            )
        if info is None or (info.builtin not in builtins and not self._imported(info.builtin)):
            raise ApiError(
                400,
                "InvalidImageId.NotFound",
                f"The image {image!r} is not available in the local runtime; "
                f"available images: {', '.join(builtins)} and the user images "
                "(agentbay local image list).",
            )
        if not self._settings.isolated:
            raise ApiError(
                400,
                "InvalidImageId.NotFound",
                f"The image {image!r} is a user image; they need isolated sessions "
                "(the runtime runs --unisolated).",
            )
        base, record = self._base_image(info.builtin)
        tools = IMPORTED_TOOLS if self._imported(info.builtin) else info.builtin
        return self._images.sandbox_image(info, base), tools, record

    def _imported(self, image: str) -> bool:
        """Whether ``image`` is an imported root filesystem (``agentbay local image import``)."""
        return self._bases is not None and self._bases.imported(image)

    def _still_registered(self, image: SandboxImage) -> bool:
        """Whether the user image of a new session is still the one it started from (an
        ``image rm`` may have run meanwhile; it refuses only once the session is stored)."""
        with self._images.locked():
            info = self._user_image(image.name)
        return info is not None and info.layers[0] == image.layers[0].name

    def _session_data(self, row: SessionRow) -> dict[str, Any]:
        data: dict[str, Any] = {
            "SessionId": row.id,
            "ResourceUrl": self._page.url(row.id),
            "AppInstanceId": app_instance_id(row.id),
            "ResourceId": resource_id(row.id),
            "Success": True,
            "VpcResource": row.vpc,
            "Status": row.status,
            # The session WebSocket (docs/reference/session-websocket.md): its URL, the
            # token it takes, and the servers of the tools (the client's stream targets).
            "Token": row.token,
            "WsUrl": self._sockets.url(self._links.origin("ws"), row.id),
            "ToolList": self._tool_list(self._running.tool_image(row)),
        }
        if row.vpc:
            data.update(NetworkInterfaceIp=self._address.host, HttpPort=str(self._address.port))
        if self._settings.link_url:
            # 0.15+ then POST every tool call to <LinkUrl>/callTool with the Token.
            data["LinkUrl"] = self._address.base_url
        return data

    async def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        """CreateMcpSession."""
        network_id = fields.get("NetworkId") or ""
        if network_id:
            self._networks.check(network_id)
        # The request's own fields first: malformed ones are refused as such, whatever
        # state the image is in (not built yet, say).
        labels = string_labels(fields["Labels"]) if "Labels" in fields else {}
        syncs = self._contexts.parse_persistence(fields.get("PersistenceDataList"))
        mounts = self._contexts.parse_mounts(fields.get("PersistenceDataList"))
        self._contexts.check_mount_conflicts(syncs, mounts)
        image = fields.get("ImageId") or DEFAULT_IMAGE
        sandbox_image, tool_image, record = self._sandbox_image(image)
        # The image's own Chromium; on the host's /, the host's.
        chromium = image_chromium(record.packages) if record is not None else find_chromium()
        if tool_image == BROWSER_IMAGE and chromium is None:
            raise ApiError(400, "InvalidImageId.NotFound", f"{INSTALL_ADVICE}.")
        if len(self._store.live_sessions({})) >= self._settings.max_sessions:
            raise ApiError(
                400,
                "QuotaExceeded.Session",
                f"The local runtime already runs {self._settings.max_sessions} sessions "
                "(the --max-sessions limit); release one first.",
            )
        session_id = new_session_id()
        idle_timeout_s, max_runtime_s = policy_at_create(fields, self._settings.lifecycle)
        row = SessionRow(
            id=session_id,
            image_id=image,
            labels=labels,
            status=RUNNING,
            vpc=bool(fields.get("VpcResource", False)),
            token=secrets.token_urlsafe(24),
            policy_id=fields.get("McpPolicyId", ""),
            created_at=time.time(),
            idle_timeout_s=idle_timeout_s,
            max_runtime_s=max_runtime_s,
        )
        try:
            sandbox = await self._sandboxes.create(
                session_id, hostname=session_id, image_id=image, image=sandbox_image
            )
        except ValueError as exc:  # e.g. an image stack too deep for one overlay mount
            raise ApiError(400, "InvalidImageId.NotFound", str(exc)) from None
        except RuntimeError as exc:  # e.g. an imported image whose Python cannot serve
            log.warning("session %s of image %s did not start: %s", session_id, image, exc)
            last = str(exc).strip().splitlines()[-1] if str(exc).strip() else "no reason"
            raise ApiError(
                503,
                "SessionStartFailed",
                f"The session's sandbox (image {image}) did not start: {last}",
            ) from None
        try:
            self._store.add_session(
                row, [(sync.context_id, sync.path, sync.policy_text) for sync in syncs]
            )
        except Exception:
            await self._sandboxes.release(session_id)
            raise
        if sandbox_image.layers and not self._still_registered(sandbox_image):
            self._store.mark_released(session_id)
            await self._sandboxes.release(session_id)
            raise ApiError(400, "InvalidImageId.NotFound", f"The image {image!r} was just removed.")
        if network_id:
            try:
                await self._networks.join(session_id, network_id, sandbox)
            except ApiError:
                self._store.mark_released(session_id)
                await self._sandboxes.release(session_id)
                raise
        self._running.used_now(session_id)
        if tool_image != image:
            self._running.serve_tools_of(session_id, tool_image)
        try:
            await self._contexts.mount_at(session_id, sandbox, mounts)
        except ApiError:
            await self.end(session_id, RUNNING, reason="refused")
            raise
        await self._contexts.download_at_start(session_id, sandbox, syncs)
        self._browsers.start_early(session_id, tool_image, sandbox, chromium)
        if self._settings.start_desktop and self._description.image_has_tool(
            tool_image, "get_screen_size"
        ):
            await desktop.start_at_creation(sandbox)
        log.info(
            "session %s created: image %s; %s",
            session_id,
            image,
            self._settings.limits.summary() if self._settings.isolated else "unisolated",
            extra={
                "event": "session_created",
                "session": session_id,
                "image": image,
                "limits": self._settings.limits.summary() if self._settings.isolated else None,
            },
        )
        return self._session_data(row)

    async def release(self, fields: dict[str, Any]) -> None:
        """ReleaseMcpSession: let the context syncs still running finish, upload what the
        policies ask for, then end every process (a session already being deleted is left
        to that deletion)."""
        row = self._running.get(fields["SessionId"], any_state=True)
        await self.end(row.id, row.status)

    async def end(self, session_id: str, status: str, *, reason: str = "deleted") -> None:
        """Release a session that was in ``status``: thaw it if it was paused, let its
        running context syncs finish, upload its contexts as the policies ask, end every
        process, forget it. Runs once per session
        however many callers ask at the same time (the others return at once).

        ``reason`` says why, in the log: deleted by a client, idle, or the runtime's shutdown.
        """
        if session_id in self._ending:
            return
        self._ending.add(session_id)
        try:
            # DELETING until every process and file is gone: only then may a client polling
            # for NotFound (0.13+ delete) see the session as deleted.
            self._store.set_status(session_id, DELETING)
            sandbox = self._sandboxes.get(session_id)
            if sandbox is not None and status in (PAUSING, PAUSED, RESUMING):
                await asyncio.to_thread(self._freezer.thaw, session_id, sandbox)
            await self._browsers.stop_for_release(session_id, sandbox)
            await self._contexts.finish_syncs(session_id)
            if sandbox is not None:
                await self._contexts.upload_at_release(session_id, sandbox)
            self._links.close_session(session_id)
            await self._networks.leave(session_id)
            self._sockets.close_session(session_id)
            await self._sandboxes.release(session_id)
            await asyncio.to_thread(self._freezer.forget, session_id)
            await self._contexts.drop_internal(session_id)
            await self._contexts.unmount_at_release(session_id)
            self._store.mark_released(session_id)
            self._running.forget(session_id)
        finally:
            self._ending.discard(session_id)
        log.info(
            "session %s released (%s)",
            session_id,
            reason,
            extra={"event": "session_released", "session": session_id, "reason": reason},
        )

    def get(self, fields: dict[str, Any]) -> dict[str, Any]:
        """GetSession: a session in any state but released (its Status says which)."""
        row = self._running.get(fields["SessionId"], any_state=True, status_read=True)
        return self._session_data(row)

    def list_page(self, fields: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, Any]]:
        """ListSession: one page of the sessions matching the label filter, in ``Status``
        (default: every session that exists; ``DELETED``: released ones) and of ``ImageId``."""
        labels = string_labels(fields.get("Labels") or {})
        limit = min(int(fields.get("MaxResults") or 10), 100)
        offset = decode_page_token(fields.get("NextToken"))
        status = fields.get("Status")
        statuses = LIVE if status is None else (RELEASED,) if status == DELETED else (status,)
        sessions = self._store.live_sessions(labels, statuses, fields.get("ImageId"))
        page = sessions[offset : offset + limit]
        more = offset + limit < len(sessions)
        extra = {
            "NextToken": encode_page_token(offset + limit) if more else "",
            "MaxResults": limit,
            "TotalCount": len(sessions),
        }
        return [
            SessionSummary(
                session_id=s.id,
                session_status=DELETED if s.status == RELEASED else s.status,
                image_id=s.image_id,
                app_instance_id=app_instance_id(s.id),
            ).to_dict()
            for s in page
        ], extra

    def set_labels(self, fields: dict[str, Any]) -> None:
        """SetLabel (replaces the whole label set)."""
        row = self._running.get(fields["SessionId"])
        self._store.set_labels(row.id, string_labels(fields["Labels"]))

    def get_labels(self, fields: dict[str, Any]) -> dict[str, str]:
        """GetLabel: the labels as a JSON object string, as the official client expects."""
        row = self._running.get(fields["SessionId"])
        return {"Labels": json.dumps(row.labels)}

    def resource(self, fields: dict[str, Any]) -> dict[str, Any]:
        """GetMcpResource."""
        row = self._running.get(fields["SessionId"])
        authcode = self._page.authcode(row.id)
        return {
            "SessionId": row.id,
            "ResourceUrl": self._page.url(row.id, authcode),
            "DesktopInfo": {
                "AppId": row.image_id,
                "AuthCode": authcode,
                "ConnectionProperties": "{}",
                "ResourceId": resource_id(row.id),
                "ResourceType": "AIAgent",
                "Ticket": "",
            },
        }

    def link(self, fields: dict[str, Any]) -> dict[str, str]:
        """GetLink: a URL of the runtime's link listener forwarding to a port of the session.

        Each session has its own network namespace; ``self._links`` forwards HTTP and
        WebSocket traffic from the URL into it (see ``agentbay_local.sessions.links``).
        """
        row = self._running.get(fields["SessionId"])
        protocol = (fields.get("ProtocolType") or "http").lower()
        scheme = "ws" if protocol in ("ws", "wss") else "http"
        port = fields.get("Port")
        if port is None:
            return {"Url": self.default_link(row, scheme)}
        links = self._links
        return {"Url": links.url(links.link(row.id, int(port)), scheme)}

    def default_link(self, row: SessionRow, scheme: str) -> str:
        """GetLink without a port: the browser's CDP WebSocket URL once InitBrowser started
        it (``ws://…/<token>/devtools/browser/<id>``), else the session's page."""
        return self._browsers.endpoint_url(row.id) or self._page.url(row.id)

    def list_tools(self, fields: dict[str, Any]) -> str:
        """ListMcpTools: the catalogue entries of an image, as a JSON array string."""
        image = fields["ImageId"]
        if image not in self._description.image_servers:
            info = self._user_image(image)
            if info is None and not self._imported(image):
                raise ApiError(400, "InvalidImageId.NotFound", f"The image {image!r} is not known.")
            # A user image serves the tools of its built-in base, an imported one code's.
            image = info.builtin if info is not None else image
            if self._imported(image):
                image = IMPORTED_TOOLS
        return self._tool_list(image)

    def _tool_list(self, image: str) -> str:
        """The catalogue entries of a built-in image, as a JSON array string."""
        return json.dumps([tool.listing() for tool in self._description.image_tools(image)])
