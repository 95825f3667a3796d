"""The managed browser: a page served from inside a session, driven with Playwright over CDP.

Needs Chromium (Debian: ``apt-get install chromium``) for the local runtime and the browser
extra (``pip install 'agentbay-python[browser]'``). Runs unchanged against the AgentBay
cloud: drop ``cfg=...`` and set AGENTBAY_API_KEY.
"""

from __future__ import annotations

import os

from playwright.sync_api import sync_playwright

from agentbay import AgentBay, Config
from agentbay.browser import BrowserOption, BrowserViewport
from agentbay.session_params import CreateSessionParams

#: A tiny web server the session runs on its own loopback (the page never leaves it).
SERVER = """
import http.server, os
os.makedirs("/tmp/site", exist_ok=True)
with open("/tmp/site/index.html", "w") as page:
    page.write("<title>Inside the session</title><h1>Hello from the session</h1>")
os.chdir("/tmp/site")
handler = http.server.SimpleHTTPRequestHandler
http.server.ThreadingHTTPServer(("127.0.0.1", 8000), handler).serve_forever()
"""


def main() -> None:
    endpoint = os.environ.get("AGENTBAY_ENDPOINT", "local")
    with AgentBay(cfg=Config(endpoint=endpoint, timeout_ms=60000)) as agent_bay:
        created = agent_bay.create(CreateSessionParams(image_id="browser_latest"))
        if not created.success:
            raise SystemExit(f"could not create a session: {created.error_message}")
        with created.session as session:
            session.file_system.write_file("/tmp/server.py", SERVER)
            # Started in the background; the loop waits (in the session) until it answers.
            started = session.command.execute_command(
                "nohup python3 /tmp/server.py >/dev/null 2>&1 & for i in $(seq 100); do "
                "(echo > /dev/tcp/127.0.0.1/8000) 2>/dev/null && exit 0; sleep 0.1; done; exit 1",
                timeout_ms=20000,
            )
            if not started.success:
                raise SystemExit(f"the page server did not start: {started.error_message}")
            if not session.browser.initialize(BrowserOption(viewport=BrowserViewport(1280, 800))):
                raise SystemExit("the browser did not start")
            url = session.browser.get_endpoint_url()
            print(f"{'CDP endpoint':<16} {url}")
            with sync_playwright() as playwright:
                browser = playwright.chromium.connect_over_cdp(url)
                context = browser.contexts[0]  # the browser's persistent default context
                page = context.pages[0] if context.pages else context.new_page()
                page.goto("http://127.0.0.1:8000/")
                print(f"{'title':<16} {page.title()}")
                print(f"{'heading':<16} {page.locator('h1').text_content()}")
                print(f"{'window width':<16} {page.evaluate('innerWidth')}")
                print(f"{'screenshot':<16} {len(page.screenshot())} bytes of PNG")
                browser.close()
        print(f"{'deleted':<16} yes (the with block deletes the session and its browser)")


if __name__ == "__main__":
    main()
