"""Runs the OFFICIAL client (wuying-agentbay-sdk 0.9.3) against a local runtime; prints JSON.

Executed by tests/runtime/e2e/test_official_client.py with the official client's own
interpreter and AGENTBAY_ENDPOINT / AGENTBAY_API_KEY set; it imports nothing of this project.
The results go to the JSON file named by the first argument.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

# The probes are shared with the SDK's own tests (tests/support); they import the official
# client here, as ``agentbay``.
sys.path.insert(1, str(Path(__file__).resolve().parents[2] / "support"))

import loopback_only  # noqa: F401  (first: nothing below reaches past loopback)
from message_probes import probe_messages
from watch_steps import run_steps  # next to this file

from agentbay import AgentBay  # the official client
from agentbay.context_sync import ContextSync, SyncPolicy
from agentbay.session_params import BrowserContext, CreateSessionParams

#: A page server for the browser flow, started inside the session (pages never leave it).
PAGE_SERVER = r"""
import http.server, os, sys
os.makedirs("/tmp/www", exist_ok=True)
with open("/tmp/www/index.html", "w") as handle:
    handle.write("<title>official</title><h1>served inside the session</h1>")
os.chdir("/tmp/www")
http.server.SimpleHTTPRequestHandler.log_message = lambda *args: None
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
with open("/tmp/www.port.tmp", "w") as handle:
    handle.write(str(server.server_address[1]))
os.rename("/tmp/www.port.tmp", "/tmp/www.port")
server.serve_forever()
"""

results: dict[str, Any] = {}


def record(name: str, value: Any) -> None:
    results[name] = value


def url_query(url: str) -> dict[str, str]:
    """The query of a URL, one value per key."""
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def http_status(url: str) -> int:
    """The status of a GET (loopback URLs the runtime handed out)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def serve_page(session: Any) -> int:
    """Start the page server in the session; answers its port (waited for in the session)."""
    session.file_system.write_file("/tmp/page_server.py", PAGE_SERVER)
    started = session.command.execute_command(
        "nohup python3 /tmp/page_server.py >/dev/null 2>&1 & "
        "for i in $(seq 200); do [ -s /tmp/www.port ] && cat /tmp/www.port && exit 0; "
        "sleep 0.05; done; exit 1",
        timeout_ms=15000,
    )
    return int(started.output.strip())


def browser_flow(bay: AgentBay) -> None:
    """The documented browser flow: create(browser_latest) with a BrowserContext, initialize,
    get_endpoint_url, connect_over_cdp, pages, Browser.close, delete(sync_context=True),
    and the next session with the same context; the agent's tools; a VPC browser."""
    import asyncio

    from playwright.sync_api import sync_playwright

    from agentbay.browser.browser import BrowserOption, BrowserViewport

    profile = bay.context.get("official-browser-profile", create=True).context
    params = CreateSessionParams(
        image_id="browser_latest", browser_context=BrowserContext(profile.id, auto_upload=True)
    )
    first = bay.create(params).session
    record(
        "browser_init", first.browser.initialize(BrowserOption(viewport=BrowserViewport(1200, 800)))
    )
    url = first.browser.get_endpoint_url()
    record("browser_endpoint", url)
    port = serve_page(first)
    with sync_playwright() as playwright:
        browser = playwright.chromium.connect_over_cdp(url)
        context = browser.contexts[0]
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        record("browser_title", page.title())
        record("browser_width", page.evaluate("innerWidth"))
        page.evaluate("document.cookie = 'official=kept; max-age=86400; path=/'")
        cdp = browser.new_browser_cdp_session()
        cdp.send("Browser.close")
        browser.close()
    record("browser_delete", bay.delete(first, sync_context=True).success)

    second = bay.create(params).session
    record("browser_init_again", second.browser.initialize(BrowserOption()))
    port = serve_page(second)
    with sync_playwright() as playwright:
        browser = playwright.chromium.connect_over_cdp(second.browser.get_endpoint_url())
        context = browser.contexts[0]
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        record("browser_cookie", page.evaluate("document.cookie"))
        browser.close()
    agent = second.browser.agent
    record("agent_navigate", asyncio.run(agent.navigate_async(f"http://127.0.0.1:{port}/")))
    record("agent_screenshot", asyncio.run(agent.screenshot_async())[:23])
    record("browser_delete_again", bay.delete(second).success)
    bay.context.delete(profile)

    vpc = bay.create(CreateSessionParams(image_id="browser_latest", is_vpc=True)).session
    record("vpc_browser_init", asyncio.run(vpc.browser.initialize_async(BrowserOption())))
    vpc_url = vpc.browser.get_endpoint_url()
    with sync_playwright() as playwright:
        browser = playwright.chromium.connect_over_cdp(vpc_url)
        record("vpc_browser_contexts", len(browser.contexts))
        browser.close()
    record("vpc_browser_endpoint", vpc_url)
    bay.delete(vpc)


def main() -> None:
    bay = AgentBay()
    try:
        browser_flow(bay)
    except Exception as exc:  # recorded: the other flows still run
        record("browser_error", f"{type(exc).__name__}: {exc}")
    created = bay.create(
        CreateSessionParams(labels={"suite": "official", "n": "1"}, image_id="linux_latest")
    )
    record("create", {"success": created.success, "error": created.error_message})
    session = created.session
    # Read now: session.info() replaces the session's resource_url with the one it got.
    created_url = url_query(session.resource_url)
    record("set_labels", session.set_labels({"suite": "official", "stage": "two"}).success)
    record("get_labels", session.get_labels().data)
    info = session.info()
    record(
        "info",
        {
            "success": info.success,
            "session_id": info.data.session_id,
            "resource_url": info.data.resource_url,
        },
    )
    got_session = bay.get_session(session.session_id).data
    record(
        "resource_ids",
        {
            "created_url": created_url,
            "info_url": url_query(info.data.resource_url),
            "info_resource_id": info.data.resource_id,
            "get_url": url_query(got_session.resource_url),
            "get_resource_id": got_session.resource_id,
            "get_app_instance_id": got_session.app_instance_id,
            "page_status": http_status(info.data.resource_url),
        },
    )
    record("messages", probe_messages(bay))
    record("get_link", session.get_link("https", 30150).data)
    record("list_ids", bay.list(labels={"suite": "official"}).session_ids)
    record("list_by_labels", bay.list_by_labels({"suite": "official"}).session_ids)
    got = bay.get(session.session_id)
    record("get", {"success": got.success, "error": got.error_message})
    record("tools", sorted(tool.name for tool in session.list_mcp_tools().tools))

    cmd = session.command.execute_command("echo official && uname -s", timeout_ms=5000)
    record("command", {"success": cmd.success, "output": cmd.output})
    names = session.command.execute_command(
        'hostname; cat /etc/hostname; getent hosts "$(hostname)"', timeout_ms=5000
    )
    record("hostname", {"session_id": session.session_id, "output": names.output})
    bad = session.command.execute_command("exit 4", timeout_ms=5000)
    record("command_fail", {"success": bad.success, "error": bad.error_message})
    py = session.code.run_code("print(sum(range(10)))", "python")
    record("python", {"success": py.success, "result": py.result})
    js = session.code.run_code("console.log('js ' + (2 ** 10))", "javascript", timeout_s=30)
    record("javascript", {"success": js.success, "result": js.result})

    fs = session.file_system
    record("mkdir", fs.create_directory("/tmp/official/sub").success)
    big = "".join(f"line {i:06d} ünïcode €\n" for i in range(8000))  # > 3 chunks of 51200
    record("write_big", fs.write_file("/tmp/official/big.txt", big).success)
    read = fs.read_file("/tmp/official/big.txt")
    record("read_big_equal", read.success and read.content == big)
    record("append", fs.write_file("/tmp/official/big.txt", "tail\n", mode="append").success)
    record("read_tail", fs.read_file("/tmp/official/big.txt").content.endswith("€\ntail\n"))
    info = fs.get_file_info("/tmp/official/big.txt")
    record(
        "file_info",
        {
            "success": info.success,
            "size": info.file_info.get("size"),
            "isDirectory": info.file_info.get("isDirectory"),
        },
    )
    record(
        "edit",
        fs.edit_file("/tmp/official/big.txt", [{"oldText": "tail", "newText": "TAIL"}]).success,
    )
    record("edited", fs.read_file("/tmp/official/big.txt").content.endswith("TAIL\n"))
    record("move", fs.move_file("/tmp/official/big.txt", "/tmp/official/sub/moved.txt").success)
    listing = fs.list_directory("/tmp/official")
    record("listing", sorted((e["name"], e["isDirectory"]) for e in listing.entries))
    fs.write_file("/tmp/official/a.txt", "alpha")
    multi = fs.read_multiple_files(["/tmp/official/a.txt", "/tmp/official/sub/moved.txt"])
    record("multi", {"success": multi.success, "a": multi.contents.get("/tmp/official/a.txt")})
    found = fs.search_files("/tmp/official", "moved")
    record("search", {"success": found.success, "matches": found.matches})
    none = fs.search_files("/tmp/official", "nothing-like-this")
    record(
        "search_none",
        {"success": none.success, "matches": none.matches, "error": none.error_message},
    )
    missing = fs.read_file("/tmp/official/missing.txt")
    record("read_missing", {"success": missing.success, "error": missing.error_message})

    events: list[Any] = []
    stop = threading.Event()
    watcher = fs.watch_directory("/tmp/official", lambda evs: events.extend(evs), 0.2, stop)
    watcher.start()
    # A write before the watch's first snapshot gives no event: write a marker until one
    # arrives, so the watched file is created after the snapshot and reported as created.
    deadline = time.time() + 10
    while time.time() < deadline and not events:
        fs.write_file("/tmp/official/.ready", "x")
        poll_end = time.time() + 0.6
        while time.time() < poll_end and not events:
            time.sleep(0.05)
    fs.write_file("/tmp/official/watched.txt", "w")
    deadline = time.time() + 10
    while time.time() < deadline and not any(e.path.endswith("watched.txt") for e in events):
        time.sleep(0.05)
    stop.set()
    watcher.join(5)
    record("watch", sorted({(e.event_type, e.path) for e in events}))
    record("watch_steps", run_steps(session, "/tmp/official-watch"))

    ctx = bay.context.create("official-ctx")
    record(
        "context_create",
        {"success": ctx.success, "name": ctx.context.name if ctx.context else None},
    )
    contexts = bay.context.list()
    record(
        "context_list",
        {"success": contexts.success, "names": [c.name for c in contexts.contexts or []]},
    )
    ctx.context.name = "official-ctx-renamed"
    record("context_update", bay.context.update(ctx.context).success)
    record("context_get", bay.context.get("official-ctx-renamed").success)

    with_ctx = bay.create(
        CreateSessionParams(
            context_syncs=[ContextSync.new(ctx.context_id, "/home/user/data", SyncPolicy())]
        )
    )
    record("create_with_context", {"success": with_ctx.success, "error": with_ctx.error_message})
    if with_ctx.success:
        record("delete_with_context", with_ctx.session.delete().success)

    ghost = "ctx-does-not-exist-0123"
    with_ghost = bay.create(
        CreateSessionParams(
            context_syncs=[
                ContextSync.new(ghost, "/home/user/ghost", SyncPolicy()),
                ContextSync.new(ctx.context_id, "/home/user/data", SyncPolicy()),
            ]
        )
    )
    record("create_with_missing_context", {"success": with_ghost.success})
    if with_ghost.success:
        tasks = with_ghost.session.context.info().context_status_data
        record(
            "missing_context_tasks",
            {
                t.context_id: {"status": t.status, "type": t.task_type, "error": t.error_message}
                for t in tasks
            },
        )
        with_ghost.session.delete()
    absent = bay.context.get_file_download_url(ctx.context_id, "/never/uploaded.bin")
    record(
        "absent_file_url",
        {"success": absent.success, "status": http_status(absent.url) if absent.url else None},
    )
    record("context_delete", bay.context.delete(ctx.context).success)

    vpc = bay.create(CreateSessionParams(is_vpc=True))
    record(
        "vpc_create",
        {"success": vpc.success, "is_vpc": vpc.session.is_vpc if vpc.success else None},
    )
    if vpc.success:
        out = vpc.session.command.execute_command("echo via-vpc", timeout_ms=5000)
        record("vpc_command", {"success": out.success, "output": out.output})
        fs_vpc = vpc.session.file_system
        fs_vpc.write_file("/tmp/vpc.txt", "vpc file")
        record("vpc_read", fs_vpc.read_file("/tmp/vpc.txt").content)
        record("vpc_delete", bay.delete(vpc.session).success)

    user_image = os.environ.get("AGENTBAY_TEST_USER_IMAGE")
    if user_image:  # built by the test with `agentbay local image build` while serving
        for is_vpc in (False, True):
            mine = bay.create(CreateSessionParams(image_id=user_image, is_vpc=is_vpc))
            key = "user_image_vpc" if is_vpc else "user_image"
            record(f"{key}_create", {"success": mine.success, "error": mine.error_message})
            if mine.success:
                out = mine.session.command.execute_command("cat greeting; pwd", timeout_ms=30000)
                record(f"{key}_command", {"success": out.success, "output": out.output})
                record(f"{key}_delete", bay.delete(mine.session).success)

    deleted = session.delete()
    record("delete", {"success": deleted.success, "error": deleted.error_message})
    after = session.command.execute_command("echo gone", timeout_ms=2000)
    record("after_delete", {"success": after.success, "error": after.error_message})


if __name__ == "__main__":
    try:
        main()
    finally:
        # A file, not stdout: the official client prints progress lines of its own.
        with open(sys.argv[1], "w", encoding="utf-8") as handle:
            json.dump(results, handle)
