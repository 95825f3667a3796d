"""Pages, a proxy and an extension served from inside a session, for the browser tests.

Everything the browser loads comes from inside its own session: a static server, a fake
HTTP proxy (it answers every request itself and reports what it saw), an unpacked extension
folder. No test traffic leaves the machine.
"""

from __future__ import annotations

import json

from agentbay.session import Session

#: A small server started in the session: ``static DIR PORTFILE`` serves DIR; ``proxy
#: PORTFILE [user:password]`` answers every proxied request with what it received.
SERVER_SCRIPT = r"""
import base64, http.server, json, os, sys

mode, port_file = sys.argv[1], sys.argv[-1]
if mode == "static":
    os.chdir(sys.argv[2])
    Handler = http.server.SimpleHTTPRequestHandler
else:
    wanted = sys.argv[2] if len(sys.argv) > 3 else ""
    expected = "Basic " + base64.b64encode(wanted.encode()).decode() if wanted else None

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if expected and self.headers.get("Proxy-Authorization") != expected:
                self.send_response(407)
                self.send_header("Proxy-Authenticate", 'Basic realm="session proxy"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            seen = {"path": self.path, "authorized": bool(expected)}
            body = b"<title>proxied</title><pre id=seen>%s</pre>" % json.dumps(seen).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

Handler.log_message = lambda *args: None
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as handle:
    handle.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
"""

#: A host name the proxy test asks for. The session's /etc/hosts maps it to loopback, so
#: even a browser that ignored its proxy would never look it up outside the machine.
PROXIED_HOST = "pages.agentbay.test"

EXTENSION_MANIFEST = {
    "manifest_version": 3,
    "name": "agentbay test extension",
    "version": "1.0",
    "content_scripts": [
        {"matches": ["<all_urls>"], "js": ["content.js"], "run_at": "document_start"}
    ],
}
EXTENSION_SCRIPT = 'document.documentElement.dataset.agentbayExtension = "loaded";\n'


def _start(session: Session, name: str, argv: str) -> int:
    """Start the server script in the background and wait (in the session) for its port."""
    fs = session.file_system
    assert fs.write_file("/tmp/agentbay-test-server.py", SERVER_SCRIPT).success
    port_file = f"/tmp/{name}.port"
    started = session.command.execute_command(
        f"nohup python3 /tmp/agentbay-test-server.py {argv} {port_file} >/dev/null 2>&1 & "
        f"for i in $(seq 200); do [ -s {port_file} ] && cat {port_file} && exit 0; "
        "sleep 0.05; done; exit 1",
        timeout_ms=15000,
    )
    assert started.success, started.error_message
    return int(started.output.strip())


def serve_pages(session: Session, pages: dict[str, str]) -> int:
    """Write ``pages`` (name -> HTML) to a folder in the session and serve it on loopback."""
    fs = session.file_system
    assert fs.create_directory("/tmp/www").success
    for name, html in pages.items():
        assert fs.write_file(f"/tmp/www/{name}", html).success
    return _start(session, "www", "static /tmp/www")


def serve_proxy(session: Session, credentials: str = "") -> int:
    """Start the fake proxy in the session (requiring ``user:password`` when given)."""
    mapped = session.command.execute_command(
        f"echo '127.0.0.1 {PROXIED_HOST}' >> /etc/hosts", timeout_ms=5000
    )
    assert mapped.success, mapped.error_message
    return _start(session, "proxy", f"proxy {credentials}".strip())


def install_extension(session: Session, folder: str = "/tmp/extensions/agentbay-test") -> None:
    """An unpacked extension whose content script marks every page it runs in."""
    fs = session.file_system
    assert fs.create_directory(folder).success
    assert fs.write_file(f"{folder}/manifest.json", json.dumps(EXTENSION_MANIFEST)).success
    assert fs.write_file(f"{folder}/content.js", EXTENSION_SCRIPT).success
