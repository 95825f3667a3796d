"""The official client 0.22.3's context flows that depend on the cloud's layout of a context
(each file under its path in the session), unchanged, against the runtime: what the official
suite's test_context_sync_immediate_file_availability and
test_extension_browser_integration do."""

from __future__ import annotations

from pathlib import Path

from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.conftest import API_KEY
from tests.support.official import official_python, run_driver

DRIVER = Path(__file__).with_name("official_contexts_driver.py")


def test_official_context_listing_and_extensions(runtime: EmbeddedRuntime, tmp_path: Path) -> None:
    python = official_python("0.22.3")
    got = run_driver(python, DRIVER, runtime.endpoint, API_KEY, tmp_path, 600)

    # A session's upload is listed under the session's path, as the suite lists it.
    assert got["sync"] is True
    assert got["listed"] == [
        ["/tmp/sync-test/large_test_file.txt", "large_test_file.txt", "file", 5 * 1024 * 1024],
        ["/tmp/sync-test/sub", "sub", "folder", 0],
    ]
    assert got["listed_sub"] == ["/tmp/sync-test/sub/two.txt"]
    assert got["downloaded"] == "two\n"

    # Extensions: the two chosen (by white list) of the context's three are unpacked into
    # /tmp/extensions/<id>/ (the ZIPs removed) and the browser loads exactly those.
    made = got["made"]
    assert got["listed_extensions"] == sorted(made)
    assert ["/tmp/extensions/", "Success"] in got["tasks"]
    assert got["ls"] == sorted(i.removesuffix(".zip") for i in made[:2])
    assert got["manifests"] == ["yes", "yes"]
    assert got["initialized"] is True
    assert isinstance(got["loaded"], list) and len(got["loaded"]) == 2, got["loaded"]
    assert got["after_delete"] == []
