"""Runs the OFFICIAL client 0.22.3's context flows that depend on where the cloud keeps a
context's files: listing what a session synced by its path in the session, and browser
extensions (ExtensionsService, BrowserContext's extension_option) unpacked under
/tmp/extensions/<id>/ and loaded by the browser.

Executed by tests/runtime/e2e/test_official_contexts.py with the client's own interpreter; it
imports nothing of this project but loopback_only. The results go to the JSON file named by
the first argument.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(1, str(Path(__file__).resolve().parents[2] / "support"))

import loopback_only  # noqa: F401  (first: nothing below reaches past loopback)

from agentbay import (  # the official client
    AgentBay,
    BrowserContext,
    BrowserOption,
    ContextSync,
    CreateSessionParams,
    ExtensionsService,
    SyncPolicy,
)

results: dict[str, Any] = {}
bay = AgentBay()


def shell(session: Any, command: str) -> str:
    got = session.command.execute_command(command, timeout_ms=20000)
    return str(got.output) if got.success else f"error: {got.error_message}"


def until(probe: Any, timeout_s: float = 30.0) -> Any:
    """Poll ``probe`` until it answers something true or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    value = probe()
    while not value and time.monotonic() < deadline:
        time.sleep(0.1)
        value = probe()
    return value


def listing_by_session_path() -> None:
    """The suite's test_context_sync_immediate_file_availability, step for step."""
    context = bay.context.create(f"immediate-{time.time_ns()}")
    mount = ContextSync.new(context.context_id, "/tmp/sync-test", SyncPolicy.default())
    session = bay.create(CreateSessionParams(image_id="code_latest", context_syncs=[mount])).session
    try:
        shell(session, "mkdir -p /tmp/sync-test/sub && echo two > /tmp/sync-test/sub/two.txt")
        shell(session, "dd if=/dev/zero of=/tmp/sync-test/large_test_file.txt bs=1M count=5")
        results["sync"] = session.context.sync().success
        listed = bay.context.list_files(context.context_id, "/tmp/sync-test", 1, 10)
        results["listed"] = sorted(
            [e.file_path, e.file_name, e.file_type, e.size] for e in listed.entries
        )
        deeper = bay.context.list_files(context.context_id, "/tmp/sync-test/sub", 1, 10)
        results["listed_sub"] = [e.file_path for e in deeper.entries]
        url = bay.context.get_file_download_url(
            context.context_id, "/tmp/sync-test/sub/two.txt"
        ).url
        with urllib.request.urlopen(url, timeout=30) as answer:
            results["downloaded"] = answer.read().decode()
    finally:
        session.delete()
        bay.context.delete(context.context)


def extension_zip(folder: Path, name: str) -> str:
    """An MV3 extension with a background service worker (a target CDP lists)."""
    path = folder / f"{name}.zip"
    manifest = {
        "manifest_version": 3,
        "name": name,
        "version": "1.0",
        "background": {"service_worker": "background.js"},
    }
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr("manifest.json", json.dumps(manifest))
        bundle.writestr("background.js", f"self.extensionName = {name!r};\n")
    return str(path)


def loaded_extensions(endpoint: str) -> list[str]:
    """The ids of the extensions whose service worker runs, from the DevTools target list
    reached through the session's CDP link (its HTTP side)."""
    parsed = urlparse(endpoint)
    token = parsed.path.split("/")[1]
    with urllib.request.urlopen(f"http://{parsed.netloc}/{token}/json/list", timeout=10) as got:
        targets = json.load(got)
    return sorted(
        {
            urlparse(t["url"]).netloc
            for t in targets
            if t.get("url", "").startswith("chrome-extension://")
        }
    )


def extensions() -> None:
    """The suite's test_extension_browser_integration, up to its checks of the internet."""
    service = ExtensionsService(bay, f"extensions-{time.time_ns()}")
    profile = bay.context.get(f"profile-{time.time_ns()}", create=True).context
    folder = Path(tempfile.mkdtemp())
    made = [service.create(extension_zip(folder, f"test_ext_{i}")) for i in (1, 2, 3)]
    results["listed_extensions"] = sorted(e.id for e in service.list())
    results["made"] = [e.id for e in made]
    chosen = [e.id for e in made[:2]]
    option = service.create_extension_option(chosen)
    params = CreateSessionParams(
        image_id="browser_latest",
        browser_context=BrowserContext(profile.id, auto_upload=True, extension_option=option),
    )
    session = bay.create(params).session
    try:
        tasks = session.context.info().context_status_data
        results["tasks"] = sorted([t.path, t.status] for t in tasks)
        results["ls"] = sorted(shell(session, "ls -A /tmp/extensions").split())
        results["manifests"] = [
            shell(
                session,
                f"test -f /tmp/extensions/{i.removesuffix('.zip')}/manifest.json && echo yes",
            ).strip()
            for i in chosen
        ]
        results["initialized"] = session.browser.initialize(
            BrowserOption(extension_path="/tmp/extensions/")
        )
        endpoint = session.browser.get_endpoint_url()
        # Service workers start a moment after the browser: poll until two are listed.
        results["loaded"] = until(lambda: (ids := loaded_extensions(endpoint))[1:] and ids)
    finally:
        session.delete(sync_context=True)
        for extension in made:
            service.delete(extension.id)
        results["after_delete"] = sorted(e.id for e in service.list())
        service.cleanup()
        bay.context.delete(profile)


def main() -> None:
    listing_by_session_path()
    extensions()
    Path(sys.argv[1]).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
