"""The session management tools: create (image, labels), list, delete, info, pause, resume.

Pause and resume are the SDK's ``beta_pause``/``beta_resume`` (0.22's names): on the local
runtime a paused session's processes are frozen with their memory kept in RAM; on the cloud
the cloud decides what a pause keeps.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import mcp_types as types

from agentbay.exceptions import AgentBayError
from agentbay_mcp.results import tool_error
from agentbay_mcp.sessions import SessionSlot, SessionUnavailable

_LABELS = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "description": 'Labels as names and values, e.g. {"project": "demo"}.',
}

#: The management tools as MCP tools (names do not clash with the catalogue's).
TOOLS: list[types.Tool] = [
    types.Tool(
        name="session_create",
        description=(
            "Create this client's session from an image, with labels (without this, the "
            "first tool call creates one from the server's default image). Fails if this "
            "client has a session already: delete it first."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "image_id": {
                    "type": "string",
                    "description": "linux_latest, code_latest, browser_latest or a user image",
                },
                "labels": _LABELS,
            },
        },
    ),
    types.Tool(
        name="session_list",
        description="List the ids of the sessions this API key can see, filtered by labels.",
        input_schema={"type": "object", "properties": {"labels": _LABELS}},
    ),
    types.Tool(
        name="session_delete",
        description=(
            "Delete a session: by default this client's own (the next tool call creates a "
            "new one), or another by its id."
        ),
        input_schema={"type": "object", "properties": {"session_id": {"type": "string"}}},
    ),
    types.Tool(
        name="session_info",
        description=(
            "This client's session: its id, image and live view URL (creates the session if "
            "there is none yet)."
        ),
        input_schema={"type": "object", "properties": {}},
    ),
]

TOOLS += [
    types.Tool(
        name="session_pause",
        description=(
            "Pause this client's session: its processes are frozen, its files and memory kept; "
            "tool calls fail until session_resume."
        ),
        input_schema={"type": "object", "properties": {}},
    ),
    types.Tool(
        name="session_resume",
        description=(
            "Resume this client's paused session: every process continues where it stopped."
        ),
        input_schema={"type": "object", "properties": {}},
    ),
]

NAMES = frozenset(tool.name for tool in TOOLS)
#: Seconds between two status reads while a pause or resume completes (the SDK's default of
#: 2 s is for batch jobs; a person waits on this one).
STATE_POLL_S = 0.2


def _labels(args: dict[str, Any]) -> dict[str, str]:
    labels = args.get("labels") or {}
    if not isinstance(labels, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in labels.items()
    ):
        raise SessionUnavailable("labels must be an object of string names and values")
    return labels


def _text(value: Any) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=json.dumps(value))])


async def _create(slot: SessionSlot, args: dict[str, Any]) -> types.CallToolResult:
    image = args.get("image_id")
    if image is not None and not isinstance(image, str):
        raise SessionUnavailable("image_id must be a string")
    session = await slot.create(image or None, _labels(args))
    return _text({"session_id": session.session_id, "image_id": session.image_id})


async def _list(slot: SessionSlot, args: dict[str, Any]) -> types.CallToolResult:
    bay = await slot.backend.bay()
    listed = await bay.list(labels=_labels(args) or None)
    if not listed.success:
        raise SessionUnavailable(f"listing sessions failed: {listed.error_message}")
    current = slot.current.session_id if slot.current is not None else None
    return _text({"session_ids": listed.session_ids, "this_client": current})


async def _delete(slot: SessionSlot, args: dict[str, Any]) -> types.CallToolResult:
    wanted = args.get("session_id")
    if wanted is not None and not isinstance(wanted, str):
        raise SessionUnavailable("session_id must be a string")
    current = slot.current
    if not wanted or (current is not None and wanted == current.session_id):
        return _text({"deleted": await slot.delete()})
    bay = await slot.backend.bay()
    found = await bay.get(wanted)
    if not found.success or found.session is None:
        raise SessionUnavailable(f"session {wanted}: {found.error_message}")
    deleted = await found.session.delete()
    if not deleted.success:
        raise SessionUnavailable(f"deleting {wanted}: {deleted.error_message}")
    return _text({"deleted": wanted})


async def _info(slot: SessionSlot, args: dict[str, Any]) -> types.CallToolResult:
    del args
    session = await slot.session()
    info = await session.info()
    return _text(
        {
            "session_id": session.session_id,
            "image_id": session.image_id,
            "live_view_url": info.data.resource_url if info.success else None,
        }
    )


async def _change_state(slot: SessionSlot, verb: str) -> types.CallToolResult:
    """Pause or resume this client's session (``verb``), waiting for its new state."""
    current = slot.current
    if current is None:
        raise SessionUnavailable(f"this client has no session to {verb}")
    change = current.beta_pause if verb == "pause" else current.beta_resume
    outcome = await change(poll_interval=STATE_POLL_S)
    if not outcome.success:
        raise SessionUnavailable(f"{verb} of {current.session_id} failed: {outcome.error_message}")
    return _text({"session_id": current.session_id, "status": outcome.status})


async def _pause(slot: SessionSlot, args: dict[str, Any]) -> types.CallToolResult:
    del args
    return await _change_state(slot, "pause")


async def _resume(slot: SessionSlot, args: dict[str, Any]) -> types.CallToolResult:
    del args
    return await _change_state(slot, "resume")


_HANDLERS: dict[str, Callable[[SessionSlot, dict[str, Any]], Awaitable[types.CallToolResult]]] = {
    "session_create": _create,
    "session_list": _list,
    "session_delete": _delete,
    "session_info": _info,
    "session_pause": _pause,
    "session_resume": _resume,
}


async def call(slot: SessionSlot, name: str, args: dict[str, Any]) -> types.CallToolResult:
    """Run one management tool; a failure is a tool error with the backend's message."""
    try:
        return await _HANDLERS[name](slot, args)
    except (SessionUnavailable, AgentBayError) as exc:
        return tool_error(str(exc))
