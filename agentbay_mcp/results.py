"""A tool's answer as MCP content: text (cut, saying so, past a limit), screenshots as images,
failures as MCP tool errors with the backend's message."""

from __future__ import annotations

import base64
import binascii

import httpx
import mcp_types as types

from agentbay.model.response import McpToolResult

#: A screenshot's signed URL is fetched within this many seconds...
SCREENSHOT_FETCH_TIMEOUT_S = 30.0
#: ...and may be at most this large.
SCREENSHOT_MAX_BYTES = 32 * 1024 * 1024
_DATA_IMAGE = "data:image/"


class ScreenshotFetchError(Exception):
    """A screenshot's URL could not be fetched as an image."""


def tool_error(message: str) -> types.CallToolResult:
    """An MCP tool error (``isError``) whose text is ``message``."""
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)


def cut(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` characters and a line saying what was left out."""
    if len(text) <= limit:
        return text
    return (
        text[:limit] + f"\n[agentbay mcp: output truncated: the first {limit} of {len(text)} "
        "characters are shown; write the output to a file and read it in parts for the rest]"
    )


def _data_url_image(text: str) -> types.ImageContent | None:
    """``data:image/<type>;base64,...`` as image content (browser screenshots), else None."""
    header, sep, payload = text.partition(",")
    if not sep or not header.endswith(";base64"):
        return None
    mime = header[len("data:") : -len(";base64")]
    try:
        base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None
    return types.ImageContent(data=payload, mime_type=mime)


async def _fetch_image(url: str) -> types.ImageContent:
    """The image at a screenshot's signed URL (the cloud's OSS URL, the runtime's own)."""
    try:
        async with (
            httpx.AsyncClient(timeout=SCREENSHOT_FETCH_TIMEOUT_S) as client,
            client.stream("GET", url) as answer,
        ):
            if answer.status_code != 200:
                raise ScreenshotFetchError(f"HTTP {answer.status_code}")
            body = bytearray()
            async for chunk in answer.aiter_bytes():
                body += chunk
                if len(body) > SCREENSHOT_MAX_BYTES:
                    raise ScreenshotFetchError(f"larger than {SCREENSHOT_MAX_BYTES} bytes")
            mime = answer.headers.get("content-type", "image/png").split(";")[0].strip()
    except httpx.HTTPError as exc:
        raise ScreenshotFetchError(str(exc) or type(exc).__name__) from exc
    if not mime.startswith("image/"):
        raise ScreenshotFetchError(f"not an image ({mime})")
    return types.ImageContent(data=base64.b64encode(bytes(body)).decode("ascii"), mime_type=mime)


async def tool_result(name: str, result: McpToolResult, max_chars: int) -> types.CallToolResult:
    """The MCP result of one catalogue tool call.

    A screenshot tool's URL is fetched and answered as image content (with the URL as text);
    a ``data:image`` answer is decoded the same way; any other answer is text, cut at
    ``max_chars``. A failed call is a tool error with the backend's message.
    """
    if not result.success:
        return tool_error(result.error_message or f"{name} failed")
    text = result.data
    if text.startswith(_DATA_IMAGE):
        image = _data_url_image(text)
        if image is not None:
            return types.CallToolResult(content=[image])
    if name.endswith("screenshot") and text.startswith(("http://", "https://")):
        try:
            image = await _fetch_image(text)
        except ScreenshotFetchError as exc:
            return tool_error(f"{name} answered {text}, which could not be fetched: {exc}")
        return types.CallToolResult(content=[image, types.TextContent(text=text)])
    return types.CallToolResult(content=[types.TextContent(text=cut(text, max_chars))])
