"""The managed browser end to end: real Chromium in browser_latest sessions, real Playwright
over CDP through the session's link, pages served from inside the sessions (offline)."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import struct
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentbay import AgentBay
from agentbay.browser import (
    ActOptions,
    BrowserFingerprint,
    BrowserOption,
    BrowserProxy,
    BrowserScreen,
    BrowserViewport,
    ExtractOptions,
    ObserveOptions,
)
from agentbay.exceptions import BrowserError
from agentbay.extension import ExtensionsService
from agentbay.session import Session
from agentbay.session_params import BrowserContext, CreateSessionParams
from tests.runtime.e2e.api import Api, RpcError
from tests.runtime.e2e.browser_pages import (
    EXTENSION_MANIFEST,
    EXTENSION_SCRIPT,
    PROXIED_HOST,
    install_extension,
    serve_pages,
    serve_proxy,
)
from tests.sdk.contract.wire import description
from tests.support.paths import REPO
from tests.support.system_parts import skip_unless_installed

playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="the browser extra (Playwright) is not installed"
)
skip_unless_installed("libatomic1")  # Playwright drives the image's Chromium

INDEX = "<title>inside</title><h1 id=greeting>hello from the session</h1>"
TALL = "<title>tall</title><body style='margin:0'><div style='height:3000px'>tall</div></body>"


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as running:
        yield running


def browser_session(bay: AgentBay, option: BrowserOption, **params: Any) -> Session:
    created = bay.create(CreateSessionParams(image_id="browser_latest", **params))
    assert created.success, created.error_message
    session = created.session
    assert session.browser.initialize(option), "InitBrowser failed"
    return session


def open_page(browser: Any, url: str) -> Any:
    """The default context's first page (the documented examples' way), at ``url``."""
    context = browser.contexts[0]
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(url)
    return page


@pytest.fixture(scope="module")
def plain(bay: AgentBay) -> Iterator[tuple[Session, int]]:
    """A browser session with the default BrowserOption and pages served inside it."""
    session = browser_session(bay, BrowserOption())
    port = serve_pages(session, {"index.html": INDEX, "tall.html": TALL})
    yield session, port
    bay.delete(session)


def png_size(data_url: str) -> tuple[int, int]:
    prefix = "data:image/png;base64,"
    assert data_url.startswith(prefix), data_url[:40]
    raw = base64.b64decode(data_url[len(prefix) :])
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", raw[16:24])
    return width, height


def test_navigate_evaluate_screenshot_over_cdp(plain: tuple[Session, int], playwright: Any) -> None:
    session, port = plain
    url = session.browser.get_endpoint_url()
    assert url.startswith("ws://") and "/devtools/browser/" in url
    browser = playwright.chromium.connect_over_cdp(url)
    try:
        page = open_page(browser, f"http://127.0.0.1:{port}/")
        assert page.title() == "inside"
        assert page.evaluate("document.getElementById('greeting').textContent") == (
            "hello from the session"
        )
        assert page.evaluate("6 * 7") == 42
        shot = page.screenshot()
        assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        browser.close()  # disconnects; the session's browser keeps running


def test_defaults_are_observable(plain: tuple[Session, int], playwright: Any) -> None:
    session, port = plain
    browser = playwright.chromium.connect_over_cdp(session.browser.get_endpoint_url())
    try:
        page = open_page(browser, f"http://127.0.0.1:{port}/")
        seen = page.evaluate("[innerWidth, screen.width, screen.height, navigator.webdriver]")
        assert seen == [1920, 1920, 1080, True]  # the documented 1920x1080; no stealth
    finally:
        browser.close()


def test_second_init_answers_the_same_port_and_link(plain: tuple[Session, int], api: Api) -> None:
    session, _ = plain
    first = api.call("InitBrowser", SessionId=session.session_id, BrowserOption={})
    again = api.call("InitBrowser", SessionId=session.session_id, BrowserOption={})
    assert first["Port"] == again["Port"]
    assert api.call("GetLink", SessionId=session.session_id)["Url"] == (
        session.browser.get_endpoint_url()
    )


def run_coroutine(coroutine: Any) -> Any:
    """Run a coroutine on a thread of its own (sync Playwright holds this thread's loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_agent_tools_navigate_and_screenshot(plain: tuple[Session, int]) -> None:
    session, port = plain
    agent = session.browser.agent
    answer = run_coroutine(agent.navigate_async(f"http://127.0.0.1:{port}/tall.html"))
    assert not answer.startswith("Navigation failed"), answer
    viewport = png_size(agent.screenshot(full_page=False, quality=100))
    full = png_size(agent.screenshot(full_page=True, quality=100))
    assert viewport[0] == 1920 and viewport[1] < 3000
    assert full[1] == 3000  # the whole page (its width less the scrollbar)
    clip = png_size(
        agent.screenshot(quality=100, clip={"x": 0, "y": 0, "width": 200, "height": 80})
    )
    assert clip == (200, 80)
    jpeg = agent.screenshot()
    assert jpeg.startswith("data:image/jpeg;base64,/9j/")
    failed = run_coroutine(agent.navigate_async("http://127.0.0.1:1/"))
    assert failed.startswith("Navigation failed") and "net::ERR_" in failed
    assert run_coroutine(agent.close_async()) is True


def test_model_tools_need_the_cloud(plain: tuple[Session, int], api: Api) -> None:
    session, _ = plain
    agent = session.browser.agent
    assert agent.observe(ObserveOptions(instruction="find the greeting")) == (False, [])
    with pytest.raises(BrowserError, match="AgentBay cloud"):
        agent.act(ActOptions(action="click the greeting"))
    from pydantic import BaseModel

    class Greeting(BaseModel):
        text: str

    with pytest.raises(BrowserError, match="AgentBay cloud"):
        agent.extract(ExtractOptions(instruction="the greeting", schema=Greeting))
    raw = api.tool(session.session_id, "page_use_observe", context_id=0, instruction="x")
    assert raw["isError"] is True
    assert "needs the AgentBay cloud" in raw["content"][0]["text"]


def test_list_tools_has_the_browser_server(api: Api) -> None:
    tools = json.loads(api.call("ListMcpTools", ImageId="browser_latest"))
    servers = {tool["name"]: tool["server"] for tool in tools}
    assert servers["page_use_navigate"] == servers["stopChrome"] == "wuying_browser"
    assert servers["shell"] == "wuying_shell"
    listed = {name for name, server in servers.items() if server == "wuying_browser"}
    # Every tool of the catalogue's browser server, as the description lists them.
    catalogued = {
        t["name"] for t in description()["x-mcp-tools"] if t["server"] == "wuying_browser"
    }
    assert listed == catalogued


def test_internal_tools_are_not_callable(plain: tuple[Session, int], api: Api) -> None:
    session, _ = plain
    answer = api.tool(session.session_id, "browser_start", binary="/bin/sh")
    assert answer["isError"] is True and "tool not found" in answer["content"][0]["text"]


def test_stopped_or_crashed_browser_starts_again(bay: AgentBay, api: Api, playwright: Any) -> None:
    session = browser_session(bay, BrowserOption())
    try:
        port = api.call("InitBrowser", SessionId=session.session_id, BrowserOption={})["Port"]
        first_url = session.browser.get_endpoint_url()
        killed = session.command.execute_command(
            # By process name: the shell's own command line must not match.
            "pkill -KILL -x chromium; "
            "for i in $(seq 100); do pgrep -x chromium >/dev/null || exit 0; "
            "sleep 0.05; done; exit 1",
            timeout_ms=10000,
        )
        assert killed.success, killed.error_message
        again = api.call("InitBrowser", SessionId=session.session_id, BrowserOption={})
        assert again["Port"] == port  # the link's port stays; the browser behind it is new
        url = api.call("GetLink", SessionId=session.session_id)["Url"]
        assert url != first_url
        browser = playwright.chromium.connect_over_cdp(url)
        assert browser.contexts[0] is not None
        browser.close()
        stop = api.tool(session.session_id, "stopChrome")
        assert stop["isError"] is False
        assert api.call("InitBrowser", SessionId=session.session_id, BrowserOption={})["Port"]
    finally:
        bay.delete(session)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"proxies": [{"type": "wuying", "strategy": "polling"}]}, "AgentBay cloud service"),
        ({"proxies": [{"type": "custom"}]}, "needs server"),
        ({"viewport": {"width": "wide", "height": 600}}, "viewport.width"),
        ({"fingerprint": {"devices": ["fridge"]}}, "fridge"),
        ({"useStealth": "yes"}, "useStealth"),
        ({"extensionPath": "relative/dir"}, "absolute"),
    ],
)
def test_invalid_options_are_refused_before_starting(
    api: Api, option: dict[str, Any], message: str
) -> None:
    session_id = api.create_session(ImageId="browser_latest")
    try:
        with pytest.raises(RpcError) as caught:
            api.call("InitBrowser", SessionId=session_id, BrowserOption=option)
        assert caught.value.answer["Code"].startswith("InvalidParameter")
        assert message in caught.value.answer["Message"]
        # Nothing started: the link is still the session page, not a CDP endpoint.
        assert api.call("GetLink", SessionId=session_id)["Url"].startswith("http://")
    finally:
        api.call("ReleaseMcpSession", SessionId=session_id)


@pytest.fixture(scope="module")
def dressed(bay: AgentBay) -> Iterator[tuple[Session, int]]:
    """A browser session started with every BrowserOption field set (and a proxy and an
    extension from inside the session)."""
    created = bay.create(CreateSessionParams(image_id="browser_latest"))
    assert created.success, created.error_message
    session = created.session
    install_extension(session)
    proxy_port = serve_proxy(session, credentials="agent:s3cret")
    port = serve_pages(session, {"index.html": INDEX})
    option = BrowserOption(
        use_stealth=True,
        user_agent="AgentBayTest/1.0 (local)",
        viewport=BrowserViewport(width=1000, height=700),
        screen=BrowserScreen(width=1300, height=900),
        fingerprint=BrowserFingerprint(locales=["de-DE"]),
        proxies=[
            BrowserProxy("custom", f"127.0.0.1:{proxy_port}", username="agent", password="s3cret")
        ],
    )
    assert session.browser.initialize(option)
    yield session, port
    bay.delete(session)


@pytest.fixture(scope="module")
def dressed_page(dressed: tuple[Session, int], playwright: Any) -> Iterator[Any]:
    session, port = dressed
    browser = playwright.chromium.connect_over_cdp(session.browser.get_endpoint_url())
    yield open_page(browser, f"http://127.0.0.1:{port}/")
    browser.close()


def test_option_user_agent(dressed_page: Any) -> None:
    assert dressed_page.evaluate("navigator.userAgent") == "AgentBayTest/1.0 (local)"


def test_option_viewport_and_screen(dressed_page: Any) -> None:
    assert dressed_page.evaluate("[innerWidth, screen.width, screen.height]") == [1000, 1300, 900]


def test_option_stealth(dressed_page: Any) -> None:
    assert dressed_page.evaluate("navigator.webdriver") is False


def test_option_fingerprint_locale(dressed_page: Any) -> None:
    assert dressed_page.evaluate("navigator.language") == "de-DE"


def test_option_extension_content_script(dressed_page: Any) -> None:
    assert dressed_page.evaluate("document.documentElement.dataset.agentbayExtension") == "loaded"


def extension_mark(session: Session, playwright: Any) -> Any:
    """What the test extension's content script marked on a page served in the session."""
    port = serve_pages(session, {"index.html": INDEX})
    browser = playwright.chromium.connect_over_cdp(session.browser.get_endpoint_url())
    try:
        page = open_page(browser, f"http://127.0.0.1:{port}/")
        return page.evaluate("document.documentElement.dataset.agentbayExtension")
    finally:
        browser.close()


def test_extension_written_after_create_is_loaded_by_initialize(
    bay: AgentBay, playwright: Any
) -> None:
    created = bay.create(CreateSessionParams(image_id="browser_latest"))
    assert created.success, created.error_message
    session = created.session
    try:
        install_extension(session)  # after create: the browser may already be running
        assert session.browser.initialize(BrowserOption())
        assert extension_mark(session, playwright) == "loaded"
    finally:
        bay.delete(session)


def test_extensions_service_zips_reach_the_browser(
    bay: AgentBay, playwright: Any, tmp_path: Path
) -> None:
    """0.22's extension flow through this SDK: each ZIP in a context at
    /tmp/extensions/<id>.zip, the chosen one (not the other) unpacked into the session's
    /tmp/extensions/<id>/ at create, and loaded by the browser."""
    service = ExtensionsService(bay, f"extensions-{uuid.uuid4().hex[:8]}")
    zips = {"marked": tmp_path / "marked.zip", "other": tmp_path / "other.zip"}
    for name, path in zips.items():
        with zipfile.ZipFile(path, "w") as bundle:
            bundle.writestr("manifest.json", json.dumps({**EXTENSION_MANIFEST, "name": name}))
            bundle.writestr("content.js", EXTENSION_SCRIPT)
    chosen, other = (service.create(str(path)) for path in zips.values())
    profile = bay.context.get(f"profile-{uuid.uuid4().hex[:8]}", create=True).context
    option = service.create_extension_option([chosen.id])
    session = browser_session(
        bay, BrowserOption(), browser_context=BrowserContext(profile.id, extension_option=option)
    )
    try:
        listed = session.command.execute_command("ls -A /tmp/extensions", 5000)
        assert listed.output.split() == [chosen.id.removesuffix(".zip")]
        assert extension_mark(session, playwright) == "loaded"
    finally:
        bay.delete(session)
        assert {e.id for e in service.list()} == {chosen.id, other.id}  # the context keeps both
        service.cleanup()
        bay.context.delete(profile)


def test_option_proxy_with_credentials(dressed_page: Any) -> None:
    dressed_page.goto(f"http://{PROXIED_HOST}/via-proxy?x=1")
    seen = json.loads(dressed_page.locator("#seen").text_content())
    assert seen == {"path": f"http://{PROXIED_HOST}/via-proxy?x=1", "authorized": True}


def test_cookies_persist_across_sessions_through_a_browser_context(
    bay: AgentBay, playwright: Any
) -> None:
    context = bay.context.get("browser-profile-e2e", create=True).context
    params = {"browser_context": BrowserContext(context.id, auto_upload=True)}
    first = browser_session(bay, BrowserOption(), **params)
    port = serve_pages(first, {"index.html": INDEX})
    browser = playwright.chromium.connect_over_cdp(first.browser.get_endpoint_url())
    page = open_page(browser, f"http://127.0.0.1:{port}/")
    page.evaluate("document.cookie = 'kept=across-sessions; max-age=86400; path=/'")
    assert "kept=across-sessions" in page.evaluate("document.cookie")
    # The official client's order: close the browser over CDP, then delete with sync.
    browser.new_browser_cdp_session().send("Browser.close")
    browser.close()
    assert bay.delete(first, sync_context=True).success

    second = browser_session(bay, BrowserOption(), **params)
    try:
        port = serve_pages(second, {"index.html": INDEX})
        browser = playwright.chromium.connect_over_cdp(second.browser.get_endpoint_url())
        page = open_page(browser, f"http://127.0.0.1:{port}/")  # cookies ignore the port
        assert "kept=across-sessions" in page.evaluate("document.cookie")
        browser.close()
    finally:
        bay.delete(second)
        bay.context.delete(context)


def test_vpc_style_endpoint_reaches_the_same_browser(
    plain: tuple[Session, int], api: Api, playwright: Any
) -> None:
    session, port = plain
    router = api.call("InitBrowser", SessionId=session.session_id, BrowserOption={})["Port"]
    via_link = playwright.chromium.connect_over_cdp(session.browser.get_endpoint_url())
    direct = playwright.chromium.connect_over_cdp(f"ws://127.0.0.1:{router}")
    try:
        page = open_page(via_link, f"http://127.0.0.1:{port}/?marker=vpc")
        seen = [p.url for p in direct.contexts[0].pages]
        assert page.url in seen  # one browser behind both endpoints
    finally:
        direct.close()
        via_link.close()


def test_two_browser_sessions_see_only_their_own_pages_and_servers(
    bay: AgentBay, playwright: Any
) -> None:
    sessions = [browser_session(bay, BrowserOption()) for _ in range(2)]
    try:
        ports = [serve_pages(s, {"index.html": f"<title>{s.session_id}</title>"}) for s in sessions]
        browsers = [
            playwright.chromium.connect_over_cdp(s.browser.get_endpoint_url()) for s in sessions
        ]
        for index, browser in enumerate(browsers):
            page = open_page(browser, f"http://127.0.0.1:{ports[index]}/")
            assert page.title() == sessions[index].session_id
        for index, browser in enumerate(browsers):
            urls = [p.url for p in browser.contexts[0].pages]
            assert urls == [f"http://127.0.0.1:{ports[index]}/"]  # not the other's page
            other = ports[1 - index]
            if other != ports[index]:  # the other session's server is not reachable here
                with pytest.raises(playwright_sync.Error):
                    browser.contexts[0].pages[0].goto(f"http://127.0.0.1:{other}/", timeout=10000)
        for browser in browsers:
            browser.close()
    finally:
        for s in sessions:
            bay.delete(s)


def test_release_ends_the_browser_and_its_links(bay: AgentBay, api: Api) -> None:
    import socket

    session = browser_session(bay, BrowserOption())
    router = api.call("InitBrowser", SessionId=session.session_id, BrowserOption={})["Port"]
    url = session.browser.get_endpoint_url()
    socket.create_connection(("127.0.0.1", router), timeout=5).close()
    assert bay.delete(session).success
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", router), timeout=5).close()
    # The link answers (other sessions use its listener) but no longer knows this browser.
    answer = httpx.get(url.replace("ws://", "http://", 1), timeout=10)
    assert answer.status_code == 404
    with pytest.raises(RpcError):
        api.call("InitBrowser", SessionId=session.session_id, BrowserOption={})


def test_the_browser_example_runs(runtime: Any) -> None:
    import os
    import subprocess
    import sys

    from tests.runtime.e2e.conftest import API_KEY

    example = REPO / "examples" / "browser.py"
    env = {**os.environ, "AGENTBAY_ENDPOINT": runtime.endpoint, "AGENTBAY_API_KEY": API_KEY}
    run = subprocess.run(
        [sys.executable, str(example)], env=env, capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Hello from the session" in run.stdout
    assert "window width     1280" in run.stdout
