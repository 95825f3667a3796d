"""Session-level actions: create, release, get, list, labels, resource, link, tools."""

from __future__ import annotations

import json
import secrets
import string
import time
from typing import TYPE_CHECKING, Any

from agentbay.contract import SessionSummary, in_session_deadline_s
from agentbay_local.images.registry import ImageError, ImageInfo, builtin_images
from agentbay_local.protocol.envelope import ApiError, invalid
from agentbay_local.protocol.paging import decode_page_token, encode_page_token
from agentbay_local.sandbox.answers import ToolAnswer
from agentbay_local.sandbox.image import HOST_ROOT, SandboxImage
from agentbay_local.sessions import desktop
from agentbay_local.sessions.browser_option import INSTALL_ADVICE, find_chromium
from agentbay_local.sessions.browsers import BROWSER_IMAGE
from agentbay_local.sessions.resource_page import app_instance_id, resource_id
from agentbay_local.store import FAILED, RUNNING, SessionRow

if TYPE_CHECKING:
    from agentbay_local.runtime import Runtime

_ID_ALPHABET = string.ascii_lowercase + string.digits
DEFAULT_IMAGE = "linux_latest"


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

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        # The built-in image whose tools each running session of a user image serves.
        self._tool_images: dict[str, str] = {}

    def _user_image(self, image: str) -> ImageInfo | None:
        """The user image ``image`` if one is registered (read from disk: a build that
        finished a moment ago counts)."""
        try:
            return self.runtime.images.get(image)
        except ImageError as exc:
            raise ApiError(400, "InvalidImageId.NotFound", str(exc)) from None

    def _sandbox_image(self, image: str) -> tuple[SandboxImage, str]:
        """What a session of ``image`` runs, and the built-in image whose tools it serves."""
        runtime = self.runtime
        builtins = builtin_images(runtime.description.image_servers)
        if image in builtins:
            return HOST_ROOT, image
        info = self._user_image(image)
        if info is None or info.builtin not in builtins:
            raise ApiError(
                400,
                "InvalidImageId.NotFound",
                f"The image {image!r} is not available in the local runtime; "
                f"available images: {', '.join(builtins)} and the user images "
                "(agentbay local image list).",
            )
        if not runtime.options.isolated:
            raise ApiError(
                400,
                "InvalidImageId.NotFound",
                f"The image {image!r} is a user image; they need isolated sessions "
                "(the runtime runs --unisolated).",
            )
        return runtime.images.sandbox_image(info), info.builtin

    def _still_registered(self, image: SandboxImage) -> bool:
        """Whether the user image of a new session is still the one it started from (an
        ``image rm`` may have run meanwhile; it refuses only once the session is stored)."""
        with self.runtime.images.locked():
            info = self._user_image(image.name)
        return info is not None and self.runtime.images.sandbox_image(info).key == image.key

    def tool_image(self, row: SessionRow) -> str:
        """The built-in image whose tools a running session serves (its own, or the base of
        its user image)."""
        return self._tool_images.get(row.id, row.image_id)

    def running(self, session_id: str, *, failed_too: bool = False) -> SessionRow:
        """A running session, or the not-found/released error the cloud gives.

        ``failed_too``: a session whose sandbox stopped by itself is answered as well
        (GetSession reports it, ReleaseMcpSession ends it); other actions refuse it.
        """
        row = self.runtime.store.session(session_id)
        if row is None:
            raise ApiError(
                400, "InvalidMcpSession.NotFound", f"The session {session_id} does not exist."
            )
        if row.status == FAILED and not failed_too:
            raise ApiError(
                400,
                "InvalidMcpSession.Failed",
                f"The session {session_id} failed: its sandbox stopped unexpectedly. "
                "Release it and create a new session.",
            )
        if row.status not in (RUNNING, FAILED):
            raise ApiError(
                400, "InvalidMcpSession.NotFound", f"The session {session_id} is released."
            )
        return row

    def _session_data(self, row: SessionRow) -> dict[str, Any]:
        data: dict[str, Any] = {
            "SessionId": row.id,
            "ResourceUrl": self.runtime.resource_url(row.id),
            "AppInstanceId": app_instance_id(row.id),
            "ResourceId": resource_id(row.id),
            "Success": True,
            "VpcResource": row.vpc,
            "Status": row.status,
        }
        if row.vpc:
            data.update(
                NetworkInterfaceIp=self.runtime.public_host,
                HttpPort=str(self.runtime.public_port),
                Token=row.token,
            )
        return data

    async def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        """CreateMcpSession."""
        runtime = self.runtime
        image = fields.get("ImageId") or DEFAULT_IMAGE
        sandbox_image, tool_image = self._sandbox_image(image)
        if tool_image == BROWSER_IMAGE and find_chromium() is None:
            raise ApiError(400, "InvalidImageId.NotFound", f"{INSTALL_ADVICE}.")
        labels = string_labels(fields["Labels"]) if "Labels" in fields else {}
        syncs = runtime.contexts.parse_persistence(fields.get("PersistenceDataList"))
        if len(self.runtime.store.running_sessions({})) >= runtime.max_sessions:
            raise ApiError(
                400,
                "QuotaExceeded.Session",
                f"The local runtime already runs {runtime.max_sessions} sessions "
                "(the --max-sessions limit); release one first.",
            )
        session_id = new_session_id()
        row = SessionRow(
            id=session_id,
            image_id=image,
            labels=labels,
            status=RUNNING,
            vpc=bool(fields.get("VpcResource", False)),
            token=secrets.token_urlsafe(24),
            policy_id=fields.get("McpPolicyId", ""),
            created_at=time.time(),
        )
        try:
            sandbox = await runtime.sandboxes.create(
                session_id, hostname=session_id, image_id=image, image=sandbox_image
            )
        except ValueError as exc:  # e.g. an image stack too deep for one overlay mount
            raise ApiError(400, "InvalidImageId.NotFound", str(exc)) from None
        try:
            runtime.store.add_session(
                row, [(sync.context_id, sync.path, sync.policy_text) for sync in syncs]
            )
        except Exception:
            await runtime.sandboxes.release(session_id)
            raise
        if sandbox_image.name and not self._still_registered(sandbox_image):
            runtime.store.mark_released(session_id)
            await runtime.sandboxes.release(session_id)
            raise ApiError(400, "InvalidImageId.NotFound", f"The image {image!r} was just removed.")
        if tool_image != image:
            self._tool_images[session_id] = tool_image
        await runtime.contexts.download_at_start(session_id, sandbox, syncs)
        runtime.browsers.start_early(session_id, tool_image, sandbox)
        if runtime.options.start_desktop and runtime.description.image_has_tool(
            tool_image, "get_screen_size"
        ):
            await desktop.start_at_creation(sandbox)
        return self._session_data(row)

    async def release(self, fields: dict[str, Any]) -> None:
        """ReleaseMcpSession: upload what the policies ask for, then end every process."""
        row = self.running(fields["SessionId"], failed_too=True)
        sandbox = self.runtime.sandboxes.get(row.id)
        await self.runtime.browsers.stop_for_release(row.id, sandbox)
        if sandbox is not None:
            await self.runtime.contexts.upload_at_release(row.id, sandbox)
        self.runtime.store.mark_released(row.id)
        self.runtime.links.close_session(row.id)
        self._tool_images.pop(row.id, None)
        await self.runtime.sandboxes.release(row.id)

    def get(self, fields: dict[str, Any]) -> dict[str, Any]:
        """GetSession."""
        return self._session_data(self.running(fields["SessionId"], failed_too=True))

    def list_page(self, fields: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, Any]]:
        """ListSession: one page of running sessions matching the label filter."""
        labels = string_labels(fields.get("Labels") or {})
        limit = min(int(fields.get("MaxResults") or 10), 100)
        offset = decode_page_token(fields.get("NextToken"))
        sessions = self.runtime.store.running_sessions(labels)
        page = sessions[offset : offset + limit]
        more = offset + limit < len(sessions)
        extra = {
            "NextToken": encode_page_token(offset + limit) if more else "",
            "MaxResults": limit,
            "TotalCount": len(sessions),
        }
        return [
            SessionSummary(session_id=s.id, session_status=s.status).to_dict() for s in page
        ], extra

    def set_labels(self, fields: dict[str, Any]) -> None:
        """SetLabel (replaces the whole label set)."""
        row = self.running(fields["SessionId"])
        self.runtime.store.set_labels(row.id, string_labels(fields["Labels"]))

    def get_labels(self, fields: dict[str, Any]) -> dict[str, str]:
        """GetLabel: the labels as a JSON object string, as the official client expects."""
        row = self.running(fields["SessionId"])
        return {"Labels": json.dumps(row.labels)}

    def resource(self, fields: dict[str, Any]) -> dict[str, Any]:
        """GetMcpResource."""
        row = self.running(fields["SessionId"])
        authcode = self.runtime.page.authcode(row.id)
        return {
            "SessionId": row.id,
            "ResourceUrl": self.runtime.page.url(row.id, authcode),
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

        Each session has its own network namespace; ``runtime.links`` forwards HTTP and
        WebSocket traffic from the URL into it (see ``agentbay_local.sessions.links``).
        """
        row = self.running(fields["SessionId"])
        protocol = (fields.get("ProtocolType") or "http").lower()
        scheme = "ws" if protocol in ("ws", "wss") else "http"
        port = fields.get("Port")
        if port is None:
            return {"Url": self.default_link(row, scheme)}
        links = self.runtime.links
        return {"Url": links.url(links.link(row.id, int(port)), scheme)}

    def default_link(self, row: SessionRow, scheme: str) -> str:
        """GetLink without a port: the browser's CDP WebSocket URL once InitBrowser started
        it (``ws://…/<token>/devtools/browser/<id>``), else the session's page."""
        return self.runtime.browsers.endpoint_url(row.id) or self.runtime.resource_url(row.id)

    def list_tools(self, fields: dict[str, Any]) -> str:
        """ListMcpTools: the catalogue entries of an image, as a JSON array string."""
        image = fields["ImageId"]
        if image not in self.runtime.description.image_servers:
            info = self._user_image(image)
            if info is None:
                raise ApiError(400, "InvalidImageId.NotFound", f"The image {image!r} is not known.")
            image = info.builtin  # a user image serves the tools of its built-in base
        tools = self.runtime.description.image_tools(image)
        return json.dumps([tool.listing() for tool in tools])

    async def call_tool(self, session_id: str, name: str, args: Any) -> ToolAnswer:
        """Run one tool in a session's sandbox (CallMcpTool and the VPC route)."""
        row = self.running(session_id)
        if not isinstance(args, dict):
            raise invalid("Args", "expected a JSON object")
        tool_image = self._tool_images.get(row.id, row.image_id)
        if not self.runtime.description.image_has_tool(tool_image, name):
            return ToolAnswer.error(f"tool not found: {name}")
        sandbox = self.runtime.sandboxes.get(row.id)
        if sandbox is None:
            return ToolAnswer.error("the session sandbox is not running")
        timeout = self.runtime.description.tools[name].timeout
        if timeout is not None and timeout.argument not in args and timeout.default is not None:
            # The catalogue's default, not the tool server's own: one place says what it is.
            args = {**args, timeout.argument: int(timeout.default)}
        deadline_s = in_session_deadline_s(timeout, args)
        answer = await sandbox.call_tool_answer(name, args, timeout_s=deadline_s)
        if name == "system_screenshot":
            return desktop.screenshot_answer(self.runtime, row.id, answer)
        return answer
