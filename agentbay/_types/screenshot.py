"""Inline screenshots (0.22's ``beta_take_screenshot``/``beta_take_long_screenshot``): the
result class, argument checks and the decoding of the tools' JSON answers, with 0.22.3's
messages."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Protocol

from agentbay._types.response import ApiResponse
from agentbay.exceptions import AgentBayError

_MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "jpeg": b"\xff\xd8\xff"}


@dataclass
class ScreenshotResult(ApiResponse):
    """An image taken inline: ``data`` its bytes, ``type``/``mime_type``/``width``/``height``
    as the tool answered them."""

    success: bool = False
    error_message: str = ""
    type: str = ""
    data: bytes = b""
    mime_type: str = ""
    width: int | None = None
    height: int | None = None


def image_format(format: str) -> str:
    """``png`` or ``jpeg`` (``jpg`` too); ValueError otherwise (0.22's message)."""
    fmt = (format or "").strip().lower()
    fmt = "jpeg" if fmt == "jpg" else fmt
    if fmt not in _MAGIC:
        raise ValueError("Invalid format: must be 'png', 'jpeg', or 'jpg'")
    return fmt


def check_long_screenshot(max_screens: int, quality: int | None) -> None:
    """0.22's argument checks of ``beta_take_long_screenshot``."""
    whole = isinstance(max_screens, int) and not isinstance(max_screens, bool)
    if not whole or not 2 <= max_screens <= 10:
        raise ValueError("Invalid max_screens: must be an integer in [2, 10]")
    if quality is not None and (not isinstance(quality, int) or not 1 <= quality <= 100):
        raise ValueError("Invalid quality: must be an integer in [1, 100]")


class ToolOutcome(Protocol):
    """What a manager's tool call answers (``ToolCallResult``, sync or async flavour)."""

    success: bool
    data: str
    error_message: str
    request_id: str


def decode_screenshot(result: ToolOutcome, fmt: str, failure: str) -> ScreenshotResult:
    """The image of a ``screenshot``/``long_screenshot`` answer; AgentBayError (``failure``:
    what the message starts with when the tool failed) when there is none."""
    if not result.success:
        raise AgentBayError(f"{failure}: {result.error_message}")
    text = result.data.strip() if isinstance(result.data, str) else ""
    if not text:
        raise AgentBayError("Screenshot tool returned empty data")
    if not text.startswith("{"):
        raise AgentBayError("Screenshot tool returned non-JSON data")
    try:
        answer = json.loads(text)
    except ValueError as exc:
        raise AgentBayError(f"Invalid screenshot JSON: {exc}") from exc
    if not isinstance(answer, dict):
        raise AgentBayError("Invalid screenshot JSON: expected object")
    encoded, kind, mime = answer.get("data"), answer.get("type"), answer.get("mime_type")
    if not isinstance(encoded, str) or not encoded.strip():
        raise AgentBayError("Screenshot JSON missing base64 field")
    for name, value in (("type", kind), ("mime_type", mime)):
        if not isinstance(value, str) or not value.strip():
            raise AgentBayError(f"Invalid screenshot JSON: expected non-empty string {name!r}")
    width, height = answer.get("width"), answer.get("height")
    for name, value in (("width", width), ("height", height)):
        if value is not None and not isinstance(value, int):
            raise AgentBayError(f"Invalid screenshot JSON: expected integer {name!r}")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AgentBayError(f"Failed to decode screenshot data: {exc}") from exc
    if not raw.startswith(_MAGIC[fmt]):
        raise AgentBayError(f"Screenshot data does not match expected format '{fmt}'")
    expected = f"image/{fmt}"
    if str(mime).strip().lower() != expected:
        raise AgentBayError(
            "Screenshot JSON mime_type does not match expected format: "
            f"expected {expected!r}, got {mime!r}"
        )
    return ScreenshotResult(
        request_id=result.request_id,
        success=True,
        type=str(kind),
        data=raw,
        mime_type=str(mime),
        width=width,
        height=height,
    )
