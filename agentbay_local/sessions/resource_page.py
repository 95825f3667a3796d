"""The session's viewer page, in the cloud's shape: ``/mcp.html?authcode=…&resourceId=…``.

``ResourceUrl`` (CreateMcpSession, GetSession, GetMcpResource) points here. Clients parse
``resourceId`` out of the URL; the ``authcode`` is fresh in every answer, signed by this
process and valid for the runtime's URL lifetime, so the URL alone grants a look at one session,
and no more control of its desktop than the authcode signs (``live_view.Control``).
Everything about the page lives in this module: the ids, the authcodes and the handler.
"""

from __future__ import annotations

import hmac
import html
import secrets
import time
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from agentbay_local.sessions import live_view
from agentbay_local.store import RUNNING

if TYPE_CHECKING:
    from agentbay_local.protocol.address import PublicAddress
    from agentbay_local.protocol.description import Description
    from agentbay_local.protocol.signing import UrlSigner
    from agentbay_local.sandbox import SandboxManager
    from agentbay_local.sessions.tools import ToolCalls
    from agentbay_local.store import SessionRow, Store

#: The page's path, as in the cloud's ResourceUrl.
PAGE_PATH = "/mcp.html"
_SESSION_PREFIX = "session-"
_RESOURCE_PREFIX = "p-"
_APP_INSTANCE_PREFIX = "ai-"


def resource_id(session_id: str) -> str:
    """The session's ResourceId: stable for its lifetime and never empty."""
    return _RESOURCE_PREFIX + session_id.removeprefix(_SESSION_PREFIX)


def app_instance_id(session_id: str) -> str:
    """The session's AppInstanceId: stable for its lifetime and never empty."""
    return _APP_INSTANCE_PREFIX + session_id.removeprefix(_SESSION_PREFIX)


def session_id_of(resource: str) -> str | None:
    """The session a ResourceId names, or None for text that is not a ResourceId."""
    if not resource.startswith(_RESOURCE_PREFIX) or len(resource) <= len(_RESOURCE_PREFIX):
        return None
    return _SESSION_PREFIX + resource.removeprefix(_RESOURCE_PREFIX)


class ResourcePage:
    """Issues the page's URLs and answers ``GET /mcp.html``."""

    def __init__(
        self,
        *,
        signer: UrlSigner,
        address: PublicAddress,
        url_lifetime_s: int,
        store: Store,
        description: Description,
        sandboxes: SandboxManager,
        tools: ToolCalls,
        control: live_view.Control = "none",
    ) -> None:
        #: What the live view URLs this page issues may control (serve's --live-view-control).
        self.control = control
        self._signer = signer
        self._address = address
        self._url_lifetime_s = url_lifetime_s
        self._store = store
        self._description = description
        self._sandboxes = sandboxes
        self._tools = tools

    def _mac(self, resource: str, expires: int, nonce: str, control: str) -> str:
        return self._signer.mac(f"page\n{resource}\n{expires}\n{nonce}\n{control}")

    def authcode(self, session_id: str) -> str:
        """A fresh authcode for one session's page (a new nonce each time), signing the
        control its URL may ask for."""
        expires = int(time.time()) + self._url_lifetime_s
        nonce = secrets.token_hex(8)
        mac = self._mac(resource_id(session_id), expires, nonce, self.control)
        return f"{expires}.{nonce}.{self.control}.{mac}"

    def url(self, session_id: str, authcode: str | None = None) -> str:
        """The page's URL with ``authcode`` (a fresh one when not given)."""
        query = urlencode(
            {
                "authcode": authcode or self.authcode(session_id),
                "resourceId": resource_id(session_id),
            }
        )
        return f"{self._address.base_url}{PAGE_PATH}?{query}"

    def _granted(self, resource: str, authcode: str) -> live_view.Control | None:
        """The control a live, untampered authcode grants, or None."""
        expires_text, nonce, control, mac = ([*authcode.split(".", 3), "", "", ""])[:4]
        if not (expires_text.isdigit() and nonce and mac) or int(expires_text) < time.time():
            return None
        expected = self._mac(resource, int(expires_text), nonce, control)
        if not hmac.compare_digest(expected, mac):
            return None
        return next((known for known in live_view.CONTROLS if known == control), None)

    def session(self, request: Request) -> SessionRow | Response:
        """The session an (authorised) page request names, or the error page to answer."""
        resource = request.query_params.get("resourceId", "")
        granted = self._granted(resource, request.query_params.get("authcode", ""))
        if granted is None:
            return _message_page(403, "The authcode is invalid or has expired.")
        requested = live_view.requested_control(request)
        if not live_view.allows(granted, requested):
            return _message_page(
                403,
                f"This URL's authcode does not allow {requested} input (it grants "
                f"{'viewing only' if granted == 'none' else granted + ' input'}); the runtime "
                "issues interactive live views when started with --live-view-control.",
            )
        session_id = session_id_of(resource)
        row = self._store.session(session_id) if session_id else None
        if row is None:
            return _message_page(404, "No such session.")
        return row

    async def handle(self, request: Request) -> Response:
        """GET /mcp.html: the page of the session the (authorised) resourceId names; for a
        running desktop session, its live view (see ``live_view``)."""
        row = self.session(request)
        if isinstance(row, Response):
            return row
        if row.status == RUNNING and live_view.has_desktop(self._description, row):
            return live_view.page(row, request)
        return HTMLResponse(_session_html(row))

    async def frame(self, request: Request) -> Response:
        """GET /mcp.html/frame: the live view's next frame."""
        row = self.session(request)
        if isinstance(row, Response):
            return row
        return await live_view.frame(self._sandboxes, row, request)

    async def input(self, request: Request) -> Response:
        """POST /mcp.html/input: one mouse or keyboard event of an interactive live view."""
        row = self.session(request)
        if isinstance(row, Response):
            return row
        return await live_view.send_input(self._tools, row, request)


def _message_page(status: int, message: str) -> Response:
    return HTMLResponse(
        f"<!doctype html><title>agentbay</title><p>{html.escape(message)}</p>", status
    )


def _session_html(row: SessionRow) -> str:
    fields = {
        "Session": row.id,
        "Status": row.status,
        "Image": row.image_id,
        "Resource": resource_id(row.id),
    }
    items = "".join(
        f"<dt>{name}</dt><dd>{html.escape(value)}</dd>" for name, value in fields.items()
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(row.id)}</title>"
        f"</head><body><main id='session' data-session-id='{html.escape(row.id)}'>"
        f"<h1>agentbay session</h1><dl>{items}</dl></main></body></html>"
    )
