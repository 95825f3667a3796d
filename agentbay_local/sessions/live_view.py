"""The live view of a session's desktop: its ``ResourceUrl`` page, streamed as screenshots.

The page (``/mcp.html?authcode=…&resourceId=…``) shows the desktop and fetches a new frame
as soon as the last one arrived (``/mcp.html/frame``, the same query): the session encodes a
PNG only when the screen changed since the frame the page has (its ETag), else the answer
is a 304. Nothing but the runtime's own HTTP port is involved (no VNC server, no port into
the session). View-only unless the URL asks for input, as the cloud's viewer:
``&input=true`` sends mouse clicks, ``&keyboard=true`` key presses (``/mcp.html/input``).
Every request carries the page's authcode and is checked like the page itself; the authcode
signs how much control its URL may ask for (``Control``: what the runtime grants, serve's
``--live-view-control``), so adding the flags to a view-only URL gets a 403, not input.
"""

from __future__ import annotations

import base64
import html
import json
from typing import TYPE_CHECKING, Any, Literal

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

if TYPE_CHECKING:
    from agentbay_local.protocol.description import Description
    from agentbay_local.sandbox import SandboxManager
    from agentbay_local.sessions.tools import ToolCalls
    from agentbay_local.store import SessionRow

FRAME_PATH = "/mcp.html/frame"
INPUT_PATH = "/mcp.html/input"
#: How long the runtime waits for the session to produce one frame or one input.
_CALL_TIMEOUT_S = 10.0
_BUTTONS = ("left", "right", "middle", "double_left")


def has_desktop(description: Description, row: SessionRow) -> bool:
    """Whether the session's image runs the desktop (its page is then the live view)."""
    return description.image_has_tool(row.image_id, "system_screenshot")


#: How much a live view URL may control: nothing (view only), the mouse, mouse and keyboard.
Control = Literal["none", "mouse", "keyboard"]
CONTROLS: tuple[Control, ...] = ("none", "mouse", "keyboard")


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() == "true"


def requested_control(request: Request) -> Control:
    """What a live view request asks for with its ``input`` and ``keyboard`` flags."""
    if not _flag(request, "input"):
        return "none"
    return "keyboard" if _flag(request, "keyboard") else "mouse"


def allows(granted: Control, requested: Control) -> bool:
    """Whether an authcode granting ``granted`` covers a request for ``requested``."""
    return CONTROLS.index(requested) <= CONTROLS.index(granted)


def page(row: SessionRow, request: Request) -> HTMLResponse:
    """The viewer page for ``row`` (authorised by the caller)."""
    query = request.url.query
    settings = {
        "frame": f"{FRAME_PATH}?{query}",
        "input": f"{INPUT_PATH}?{query}",
        "mouse": _flag(request, "input"),
        "keyboard": _flag(request, "input") and _flag(request, "keyboard"),
    }
    mode = "interactive" if settings["mouse"] else "view only"
    title = html.escape(row.id)
    # JSON inside <script>: "</" must not end the element.
    config = json.dumps(settings).replace("</", "<\\/")
    # The first frame is part of the page (its load event waits for it); the script then
    # keeps fetching new ones.
    first = html.escape(str(settings["frame"]))
    text = _PAGE.replace("{title}", title).replace("{mode}", mode).replace("{first}", first)
    return HTMLResponse(text.replace("{config}", config))


async def frame(sandboxes: SandboxManager, row: SessionRow, request: Request) -> Response:
    """One PNG of the screen, or 304 when it is still the page's (If-None-Match)."""
    sandbox = sandboxes.get(row.id)
    if sandbox is None:
        return JSONResponse({"error": "the session is not running"}, 410)
    etag = request.headers.get("if-none-match", "").strip('"')
    answer = await sandbox.call_tool_answer(
        "desktop_frame", {"etag": etag}, timeout_s=_CALL_TIMEOUT_S
    )
    text = answer.value["content"][0]["text"] if answer.value.get("content") else ""
    if answer.value.get("isError"):
        return JSONResponse({"error": text}, 409)
    data = json.loads(text)
    headers = {"ETag": f'"{data["etag"]}"', "Cache-Control": "no-store"}
    if data.get("unchanged"):
        return Response(status_code=304, headers=headers)
    return Response(base64.b64decode(data["png"]), media_type="image/png", headers=headers)


def _event_call(event: Any, keyboard: bool) -> tuple[str, dict[str, Any]] | str:
    """The tool call for one input event from the page, or why it is refused."""
    if not isinstance(event, dict):
        return "expected a JSON object"
    kind = event.get("type")
    if kind in ("click", "move", "scroll"):
        x, y = event.get("x"), event.get("y")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (x, y)):
            return "x and y must be integers"
        if kind == "move":
            return "move_mouse", {"x": x, "y": y}
        if kind == "scroll":
            direction = "down" if event.get("direction") == "down" else "up"
            return "scroll", {"x": x, "y": y, "direction": direction, "amount": 1}
        button = event.get("button", "left")
        if button not in _BUTTONS:
            return f"button must be one of {', '.join(_BUTTONS)}"
        return "click_mouse", {"x": x, "y": y, "button": button}
    if kind in ("text", "keys") and not keyboard:
        return "keyboard input needs &keyboard=true in the page's URL"
    if kind == "text" and isinstance(event.get("text"), str):
        return "input_text", {"text": event["text"]}
    keys = event.get("keys")
    if kind == "keys" and isinstance(keys, list) and all(isinstance(k, str) for k in keys):
        return "press_keys", {"keys": keys, "hold": False}
    return "unknown event"


async def send_input(tools: ToolCalls, row: SessionRow, request: Request) -> Response:
    """Apply one mouse or keyboard event, if the page's URL allows input."""
    if not _flag(request, "input"):
        return JSONResponse({"error": "this view is view-only (no &input=true)"}, 403)
    try:
        event = json.loads(await request.body())
    except ValueError:
        return JSONResponse({"error": "the body is not JSON"}, 400)
    call = _event_call(event, _flag(request, "keyboard"))
    if isinstance(call, str):
        return JSONResponse({"error": call}, 400)
    answer = await tools.call(row.id, call[0], call[1])
    text = answer.value["content"][0]["text"] if answer.value.get("content") else ""
    status = 409 if answer.value.get("isError") else 200
    return JSONResponse({"result": text}, status)


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
  html, body { margin: 0; background: #1b1b1b; color: #ddd; font: 13px sans-serif; }
  #screen { display: block; max-width: 100%; outline: none; }
  #bar { padding: 4px 8px; }
</style></head>
<body>
<img id="screen" alt="the session's desktop" tabindex="0" src="{first}">
<div id="bar">{title} &middot; {mode} &middot; <span id="status">connecting</span></div>
<script>
const config = {config};
const screen = document.getElementById("screen");
const status = document.getElementById("status");
const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
let etag = "";
async function frames() {
  for (;;) {
    try {
      const headers = etag ? {"If-None-Match": etag} : {};
      const answer = await fetch(config.frame, {headers, cache: "no-store"});
      if (answer.status === 200) {
        etag = answer.headers.get("ETag") || "";
        const url = URL.createObjectURL(await answer.blob());
        await new Promise((done) => {
          screen.onload = done;
          screen.onerror = done;
          screen.src = url;
        });
        if (screen.dataset.last) URL.revokeObjectURL(screen.dataset.last);
        screen.dataset.last = url;
        status.textContent = "live";
      } else if (answer.status !== 304) {
        status.textContent = (await answer.json()).error || answer.statusText;
        if (answer.status === 410 || answer.status === 403) return;
        await sleep(1000);
      }
    } catch (error) {
      status.textContent = "reconnecting";
      await sleep(1000);
    }
    await sleep(100);
  }
}
function point(event) {
  const box = screen.getBoundingClientRect();
  return {
    x: Math.max(0, Math.floor((event.clientX - box.left) * screen.naturalWidth / box.width)),
    y: Math.max(0, Math.floor((event.clientY - box.top) * screen.naturalHeight / box.height)),
  };
}
function send(event) {
  fetch(config.input, {method: "POST", body: JSON.stringify(event)}).catch(() => {});
}
const KEYS = {Enter: "Enter", Tab: "Tab", Backspace: "Backspace", Delete: "Delete",
  Escape: "Escape", Home: "Home", End: "End", PageUp: "PageUp", PageDown: "PageDown",
  ArrowUp: "ArrowUp", ArrowDown: "ArrowDown", ArrowLeft: "ArrowLeft", ArrowRight: "ArrowRight",
  " ": "Space"};
const click = (e, button) => send({type: "click", ...point(e), button});
if (config.mouse) {
  screen.addEventListener("click", (e) => click(e, "left"));
  screen.addEventListener("dblclick", (e) => click(e, "double_left"));
  screen.addEventListener("contextmenu", (e) => {
    e.preventDefault();
    click(e, "right");
  });
  screen.addEventListener("wheel", (e) => {
    e.preventDefault();
    send({type: "scroll", ...point(e), direction: e.deltaY > 0 ? "down" : "up"});
  });
}
if (config.keyboard) {
  screen.addEventListener("keydown", (e) => {
    const modifiers = [e.ctrlKey && "Ctrl", e.altKey && "Alt", e.metaKey && "Win"].filter(Boolean);
    if (["Control", "Alt", "Shift", "Meta"].includes(e.key)) return;
    e.preventDefault();
    if (!modifiers.length && e.key.length === 1) { send({type: "text", text: e.key}); return; }
    const single = e.key.length === 1;
    const named = /^F[0-9]+$/.test(e.key) ? e.key : null;
    const key = KEYS[e.key] || named || (single ? e.key.toLowerCase() : null);
    const shift = e.shiftKey && !single ? ["Shift"] : [];
    if (key) send({type: "keys", keys: [...modifiers, ...shift, key]});
  });
  screen.addEventListener("click", () => screen.focus());
}
frames();
</script>
</body></html>
"""
