"""The MCP server: the session's catalogue tools and the management tools, the session's
files and live view as resources, one session per client.

Which session a request uses is the transport's choice (``SlotScope``): over stdio the process
serves one client, so one slot serves the process; over HTTP each MCP connection
(``Mcp-Session-Id``) has its own slot, released when the connection ends.
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import unquote

import mcp_types as types
from mcp.server import Server
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from agentbay.aio import AsyncSession
from agentbay.exceptions import AgentBayError
from agentbay_mcp import manage
from agentbay_mcp.results import tool_error, tool_result
from agentbay_mcp.sessions import Backend, SessionSlot, SessionUnavailable

#: The live view's URL, as a resource.
LIVE_VIEW_URI = "agentbay://session/live-view"
#: A session file by absolute path: agentbay://session/files/tmp/a.txt is /tmp/a.txt.
FILES_PREFIX = "agentbay://session/files/"
#: The backend's code for a session it has released (idle timeout, maximum run time, a delete
#: from elsewhere), as the SDK's error text carries it.
SESSION_RELEASED = "InvalidMcpSession.NotFound"
#: MCP's "resource not found" error code.
RESOURCE_NOT_FOUND = -32002
#: A tool call's arguments may be at most this large as JSON (the HTTP transport's body limit
#: is the same, 4 MiB): larger is refused before anything is sent.
MAX_ARGUMENTS_BYTES = 4 * 1024 * 1024

Context = ServerRequestContext[Any, Any]


class SlotScope(Protocol):
    """Which session slot a request uses."""

    def slot(self, ctx: Context) -> SessionSlot:
        """The slot of the client that sent this request."""
        ...


class ProcessScope:
    """One slot for the whole process (stdio: the process serves one client)."""

    def __init__(self, backend: Backend) -> None:
        self.the_slot = SessionSlot(backend)

    def slot(self, ctx: Context) -> SessionSlot:
        """The process's slot."""
        del ctx
        return self.the_slot


class ConnectionScope:
    """A slot per MCP connection, released when the connection ends (client DELETE, idle
    timeout, server shutdown): what HTTP serves."""

    _KEY = "agentbay.slot"

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def slot(self, ctx: Context) -> SessionSlot:
        """This connection's slot (made on first use).

        Raises:
            MCPError: the request came without a connection (the stateless 2026-07-28 era).
        """
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            raise MCPError(types.INVALID_REQUEST, _STATELESS_REFUSED)
        connection = _connection(ctx)
        slot = connection.state.get(self._KEY)
        if not isinstance(slot, SessionSlot):
            slot = SessionSlot(self.backend)
            connection.state[self._KEY] = slot
            connection.exit_stack.push_async_callback(slot.release)
        return slot


_STATELESS_REFUSED = (
    "agentbay mcp over HTTP gives each connection a session of its own; a stateless "
    "(2026-07-28) request has no connection: connect with the initialize handshake"
)


def _connection(ctx: Context) -> Connection:
    # mcp 2.3.0 gives lowlevel handlers the connection (its state and teardown stack) only
    # through the request's ServerSession; the package is pinned exactly, and the HTTP tests
    # show a session deleted when its connection ends.
    connection: Connection = ctx.session._connection
    return connection


def build_server(backend: Backend, scope: SlotScope, *, stateful_only: bool) -> Server[Any]:
    """The MCP server over ``backend``; ``stateful_only`` refuses ``server/discover`` so that
    clients fall back to the initialize handshake (a connection, hence a session of its own)."""
    catalogue = Catalogue(backend)

    async def list_tools(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[*await catalogue.tools(), *manage.TOOLS])

    async def call_tool(ctx: Context, params: types.CallToolRequestParams) -> types.CallToolResult:
        slot = scope.slot(ctx)
        args = dict(params.arguments or {})
        size = len(json.dumps(args, ensure_ascii=False).encode())
        if size > MAX_ARGUMENTS_BYTES:
            raise MCPError(
                types.INVALID_PARAMS,
                f"the arguments of {params.name} are {size} bytes; at most "
                f"{MAX_ARGUMENTS_BYTES} are accepted",
            )
        if params.name in manage.NAMES:
            return await manage.call(slot, params.name, args)
        try:
            session = await slot.session()
        except SessionUnavailable as exc:
            return tool_error(str(exc))
        result = await session.call_mcp_tool(params.name, args)
        if not result.success and SESSION_RELEASED in result.error_message:
            try:
                session = await slot.replace_released(session)
            except SessionUnavailable as exc:
                return tool_error(f"{result.error_message} ({exc})")
            result = await session.call_mcp_tool(params.name, args)
            answer = await tool_result(params.name, result, backend.options.max_output_chars)
            note = (
                "[agentbay mcp: the previous session was released by the backend (idle too "
                f"long, or deleted); this call ran in a new session, {session.session_id}: the "
                "old session's files and processes are gone]"
            )
            answer.content.append(types.TextContent(text=note))
            return answer
        return await tool_result(params.name, result, backend.options.max_output_chars)

    async def list_resources(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return types.ListResourcesResult(
            resources=[
                types.Resource(
                    name="live-view",
                    uri=LIVE_VIEW_URI,
                    mime_type="text/uri-list",
                    description="The URL of this client's session's live view (its desktop).",
                )
            ]
        )

    async def list_templates(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    name="session-file",
                    uri_template=FILES_PREFIX + "{+path}",
                    description="A text file of this client's session by absolute path: "
                    + FILES_PREFIX
                    + "etc/hostname is /etc/hostname.",
                )
            ]
        )

    async def read_resource(
        ctx: Context, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        if uri != LIVE_VIEW_URI and not uri.startswith(FILES_PREFIX):
            raise MCPError(RESOURCE_NOT_FOUND, f"no such resource: {uri[:200]}")
        try:
            session = await scope.slot(ctx).session()
        except SessionUnavailable as exc:
            raise MCPError(types.INTERNAL_ERROR, str(exc)) from exc
        text = await _live_view(session) if uri == LIVE_VIEW_URI else await _file(session, uri)
        return types.ReadResourceResult(contents=[types.TextResourceContents(uri=uri, text=text)])

    server: Server[Any] = Server(
        "agentbay",
        version=_version(),
        instructions=(
            "Tools of an AgentBay session (a sandboxed Linux machine): shell, run_code, files, "
            "browser and desktop where the image has them. The session is created on first use "
            "and deleted when this client disconnects."
        ),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
    )
    # OpenTelemetry spans for every message (no-ops without an exporter) cost CPU on each call.
    server.middleware.clear()
    if stateful_only:

        async def no_discover(ctx: Context, params: types.RequestParams) -> types.EmptyResult:
            raise MCPError(types.METHOD_NOT_FOUND, _STATELESS_REFUSED)

        server.add_request_handler("server/discover", types.RequestParams, no_discover)
    return server


class Catalogue:
    """The catalogue's tools (descriptions and input schemas as the backend lists them for
    the image), listed once per server: the list is the API description's and does not
    change while the server runs."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._tools: list[types.Tool] | None = None

    async def tools(self) -> list[types.Tool]:
        """The catalogue's tools as MCP tools.

        Raises:
            MCPError: the backend could not be reached (its message).
        """
        if self._tools is None:
            try:
                bay = await self.backend.bay()
                # ListMcpTools takes an image, not a session: a handle without an id asks
                # for the image's tools without creating a session.
                probe = AsyncSession(bay, "")
                probe.image_id = self.backend.options.image_id
                listed = await probe.list_mcp_tools()
            except (SessionUnavailable, AgentBayError) as exc:
                raise MCPError(types.INTERNAL_ERROR, f"listing the tools failed: {exc}") from exc
            self._tools = [
                types.Tool(
                    name=tool.name,
                    description=tool.description,
                    input_schema=tool.input_schema or {"type": "object"},
                )
                for tool in listed.tools
                if tool.name not in manage.NAMES
            ]
        return self._tools


async def _live_view(session: AsyncSession) -> str:
    try:
        info = await session.info()
    except AgentBayError as exc:
        raise MCPError(types.INTERNAL_ERROR, str(exc)) from exc
    url = info.data.resource_url if info.success else ""
    if not url:
        raise MCPError(RESOURCE_NOT_FOUND, "this session has no live view")
    return str(url)


async def _file(session: AsyncSession, uri: str) -> str:
    path = "/" + unquote(uri[len(FILES_PREFIX) :]).lstrip("/")
    result = await session.call_mcp_tool("read_file", {"path": path})
    if not result.success:
        raise MCPError(RESOURCE_NOT_FOUND, f"{path}: {result.error_message}")
    return result.data


def _version() -> str:
    from agentbay.cli import version

    return version()
