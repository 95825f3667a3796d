"""``serve --link-url``: the official client 0.22.3 calls every tool through ``POST
<LinkUrl>/callTool``, and gets what the CallMcpTool route answers (shell's JSON, run_code's
kernel, files in one call), its beta_take_screenshot too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.api import Api
from tests.runtime.e2e.conftest import own_runtime
from tests.support.official import official_python, run_driver

DRIVER = Path(__file__).with_name("official_link_driver.py")
KEY = "akm-link-url"


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRuntime]:
    with own_runtime(tmp_path_factory.mktemp("link"), KEY, link_url=True) as runtime:
        yield runtime


def test_official_022_client_through_link_url(linked: EmbeddedRuntime, tmp_path: Path) -> None:
    got = run_driver(official_python("0.22.3"), DRIVER, linked.endpoint, KEY, tmp_path, 600)
    assert got["link_url"] == linked.endpoint and got["token"] is True
    assert got["get_link_url"] == linked.endpoint
    link, api = got["link"], got["api"]
    # The same answers on both routes; the client's own request ids say which carried them.
    assert link["request_ids"] == ["link-"] and api["request_ids"] != ["link-"]
    assert {k: v for k, v in link.items() if k != "request_ids"} == {
        k: v for k, v in api.items() if k != "request_ids"
    }
    assert link["command"] == [False, 3, "out\n", "err\n"]
    assert link["cwd"] == [True, "/tmp\n"]
    assert link["code"][0] is True and link["code"][2] == ["42"], link["code"]
    assert link["code_error"] == [False, True]
    assert link["write"] is True and link["read"] == [True, 1024 * 1024, True]
    assert link["listed"] is True and link["missing"] == [False, True]
    # The cloud's LinkUrl sessions: beta_take_screenshot works, screenshot() is refused by
    # the client itself.
    assert got["jpeg"] == [True, "image/jpeg", 1024, 768, "ffd8ff"]
    assert got["png"] == [True, "89504e47"]
    assert "does not support `screenshot()`" in got["old_screenshot"]
    # A paused session's tool call is refused with the reason, through the link too.
    assert got["paused"][:2] == [True, False] and "Paused" in got["paused"][2]
    assert got["resumed"] is True and got["after_resume"] == [True, "back\n"]


def test_the_link_route_wants_the_session_token(linked: EmbeddedRuntime) -> None:
    api = Api(linked.endpoint, KEY)
    session = api.create_session()
    created = api.call("GetSession", SessionId=session)
    try:
        token = created["Token"]
        url = f"{created['LinkUrl']}/callTool"
        call = {"tool": "shell", "args": {"command": "echo hi"}, "server": "wuying_shell"}
        for headers, body in (
            ({}, call),
            ({"X-Access-Token": "wrong"}, {**call, "token": "wrong"}),
            ({"X-Access-Token": token}, {**call, "token": "another"}),
        ):
            refused = httpx.post(url, json=body, headers=headers, timeout=30)
            assert refused.status_code == 401, refused.text
        bad = httpx.post(url, content=b"[1]", headers={"X-Access-Token": token}, timeout=30)
        assert bad.status_code == 400 and "JSON object" in bad.json()["message"]
        wrong_server = {**call, "server": "wuying_filesystem", "token": token}
        answer = httpx.post(url, json=wrong_server, headers={"X-Access-Token": token}, timeout=30)
        result = answer.json()["data"]["result"]
        assert answer.status_code == 200 and result["isError"] is True
        assert "belongs to server wuying_shell" in result["content"][0]["text"]
        good = httpx.post(url, json={**call, "token": token}, timeout=30)
        assert good.json()["data"]["result"]["isError"] is False
    finally:
        api.call("ReleaseMcpSession", SessionId=session)
