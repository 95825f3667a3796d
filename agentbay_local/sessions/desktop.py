"""The runtime's side of session desktops: screen size, missing programs, screenshot URLs.

The desktop itself (X server, window manager, tools) runs inside each session (see
``sandbox/inside/desktop.py``). ``system_screenshot`` writes its PNG in the session and
answers the file's session path; the runtime answers the caller a signed, expiring URL
for it instead (the cloud answers an object-storage URL), served from the session's files
while the session runs.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentbay.contract import get_logger
from agentbay_local.sandbox.answers import ToolAnswer
from agentbay_local.sandbox.inside.desktop import DEFAULT_SCREEN, REQUIRED_PROGRAMS

if TYPE_CHECKING:
    from agentbay_local.protocol.address import PublicAddress
    from agentbay_local.protocol.signing import UrlSigner
    from agentbay_local.sandbox import SandboxManager
    from agentbay_local.sandbox.handle import Sandbox

log = get_logger("agentbay.local")

#: The signing "method" of screenshot URLs (never valid for context files, nor vice versa).
SCREENSHOT_METHOD = "SCREENSHOT"
#: How long a screenshot URL stays valid.
SCREENSHOT_URL_LIFETIME_S = 3600
#: Largest screenshot served (an 8K screen's PNG is far smaller; a session's file is not).
MAX_SCREENSHOT_BYTES = 256 * 1024 * 1024
#: A screenshot as the in-session tool names it: its desktop's state dir and its file.
_SESSION_PATH = re.compile(r"/tmp/(\.agentbay-desktop-[A-Za-z0-9_]+)/(screenshot_[0-9]+\.png)")
_URL_KEY = re.compile(r"\.agentbay-desktop-[A-Za-z0-9_]+/screenshot_[0-9]+\.png")
_SCREEN = re.compile(r"([0-9]{3,5})x([0-9]{3,5})")


@dataclass(frozen=True)
class Screen:
    """The size every session's display gets."""

    width: int = DEFAULT_SCREEN["width"]
    height: int = DEFAULT_SCREEN["height"]
    dpi: int = DEFAULT_SCREEN["dpi"]

    @classmethod
    def parse(cls, text: str) -> Screen:
        """``WxH`` (e.g. ``1280x800``), each side 320..8192 (ValueError otherwise)."""
        match = _SCREEN.fullmatch(text.strip())
        if not match:
            raise ValueError(f"expected WIDTHxHEIGHT such as 1024x768, got {text!r}")
        width, height = int(match[1]), int(match[2])
        if not (320 <= width <= 8192 and 320 <= height <= 8192):
            raise ValueError(f"each side must be between 320 and 8192 pixels, got {text!r}")
        return cls(width, height)

    def config(self) -> dict[str, int]:
        """What the in-session desktop reads from the tool server's configuration."""
        return {"width": self.width, "height": self.height, "dpi": self.dpi}


def missing_programs() -> list[str]:
    """Required desktop programs the host (hence every session) lacks."""
    return [name for name in REQUIRED_PROGRAMS if shutil.which(name) is None]


def missing_programs_advice() -> str | None:
    """What ``serve`` prints when desktops cannot start (None when they can)."""
    missing = missing_programs()
    if not missing:
        return None
    packages = " ".join(REQUIRED_PROGRAMS[name] for name in missing)
    return (
        f"the desktop tools of linux_latest need {', '.join(missing)}; install them "
        f"(Debian/Ubuntu: apt-get install {packages} xterm mousepad pcmanfm fonts-dejavu-core). "
        "Until then desktop tools answer an error; shell, code and files work."
    )


def screenshot_answer(
    signer: UrlSigner, address: PublicAddress, session_id: str, answer: ToolAnswer
) -> ToolAnswer:
    """The caller's ``system_screenshot`` answer: the session path replaced by a signed URL."""
    if answer.value.get("isError"):
        return answer
    content = answer.value.get("content") or [{}]
    match = _SESSION_PATH.fullmatch(str(content[0].get("text", "")))
    if match is None:
        return ToolAnswer.error("Error: the session's screenshot tool answered no screenshot")
    key = f"{match[1]}/{match[2]}"
    expires = int(time.time()) + SCREENSHOT_URL_LIFETIME_S
    query = signer.query(SCREENSHOT_METHOD, session_id, key, expires)
    url = f"{address.base_url}/screenshots/{session_id}/{key}?{query}"
    return ToolAnswer.text(url)


def screenshot_png(
    signer: UrlSigner,
    sandboxes: SandboxManager,
    session_id: str,
    key: str,
    expires: str,
    signature: str,
) -> bytes | None:
    """The screenshot a signed URL names, or None (bad URL, gone session, no such file).

    Read by descriptor from the session's files (blocking: call it in a worker thread): a
    link the session swaps in for the file or its folder leads inside the session only.
    """
    if not _URL_KEY.fullmatch(key):
        return None
    if not signer.valid(SCREENSHOT_METHOD, session_id, key, expires, signature):
        return None
    sandbox = sandboxes.get(session_id)
    return None if sandbox is None else read_screenshot(sandbox, key)


def read_screenshot(sandbox: Sandbox, key: str) -> bytes | None:
    """The screenshot ``/tmp/<key>`` of a session, or None (no such file, too large)."""
    try:
        with sandbox.files() as session, session.read_file(f"/tmp/{key}") as png:
            size = os.fstat(png.fileno()).st_size
            data = png.read(size + 1) if size <= MAX_SCREENSHOT_BYTES else b""
    except OSError:
        return None
    return data if 0 < len(data) <= MAX_SCREENSHOT_BYTES else None


async def start_at_creation(sandbox: Sandbox) -> None:
    """Start a new session's display now (``serve --start-desktop``); failures are logged
    only: the session works without it, and its desktop tools report the reason."""
    answer = await sandbox.call_tool_answer("desktop_start", {}, timeout_s=30.0)
    if answer.value.get("isError"):
        log.warning("the desktop of %s did not start: %s", sandbox.session_id, answer.value)
