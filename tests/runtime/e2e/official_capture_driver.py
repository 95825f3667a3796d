"""Runs an OFFICIAL client (0.22.3, or 0.15.2) against a local runtime: the inline captures
(``screenshot``, ``long_screenshot``) of a linux_latest desktop, as its call_mcp_tool sends
them and its beta_take_screenshot reads them (JPEG too: 0.15.2's sends it without the
cloud's LinkUrl, which 0.22.3's wants).

Executed by tests/runtime/e2e/test_desktop_capture.py with the client's own interpreter; it
imports nothing of this project but loopback_only. Results go to the JSON file named by the
first argument.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(1, str(Path(__file__).resolve().parents[2] / "support"))

import loopback_only  # noqa: F401  (first: nothing below reaches past loopback)

from agentbay import AgentBay, CreateSessionParams

results: dict[str, Any] = {}
client = AgentBay()
session = client.create(CreateSessionParams(image_id="linux_latest")).session
shot = session.call_mcp_tool("screenshot", {"format": "png"})
answer = json.loads(shot.data) if shot.success else {}
image = base64.b64decode(answer.get("data", ""))
results["screenshot"] = [
    shot.success,
    shot.error_message,
    answer.get("width"),
    answer.get("height"),
    answer.get("mime_type"),
    image.startswith(b"\x89PNG\r\n\x1a\n"),
]
long = session.call_mcp_tool("long_screenshot", {"format": "png", "max_screens": 2})
results["long_screenshot"] = [long.success, long.error_message]
try:
    jpeg = session.computer.beta_take_screenshot(format="jpg")
    results["beta_take_screenshot"] = [jpeg.success, jpeg.format, jpeg.width, jpeg.height]
    results["jpeg_head"] = base64.b64encode(jpeg.data[:60]).decode()
except Exception as exc:
    results["beta_take_screenshot"] = str(exc)
session.delete()
Path(sys.argv[1]).write_text(json.dumps(results, indent=1))
