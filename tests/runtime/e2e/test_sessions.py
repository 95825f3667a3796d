"""Session-level actions end to end over real HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from agentbay_local.sessions.browser_option import CHROMIUM_CANDIDATES
from tests.runtime.e2e.api import LINK_URL, Api, RpcError
from tests.support.spawn import free_port, serve_argv, stop_serve, wait_until_listening


def test_create_answers_the_cloud_shape(api: Api) -> None:
    data = api.call(
        "CreateMcpSession", ImageId="code_latest", McpPolicyId="pol-1", VpcResource=False
    )
    try:
        assert data["SessionId"].startswith("session-")
        assert data["Success"] is True
        assert data["ResourceUrl"].startswith("http://")
        # The session WebSocket's URL, its token and the tools' servers (its targets).
        assert re.fullmatch(rf"ws://127\.0\.0\.1:\d+/ws/{data['SessionId']}", data["WsUrl"])
        assert data["Token"]
        servers = {tool["name"]: tool["server"] for tool in json.loads(data["ToolList"])}
        assert servers["run_code"] == "wuying_code"
        assert servers["get_file_change"] == "wuying_filesystem"
        got = api.call("GetSession", SessionId=data["SessionId"])
        assert got["SessionId"] == data["SessionId"]
        assert got["VpcResource"] is False
        assert (got["WsUrl"], got["Token"]) == (data["WsUrl"], data["Token"])
    finally:
        api.call("ReleaseMcpSession", SessionId=data["SessionId"])


def test_labels_round_trip_and_filter_listing(api: Api) -> None:
    first = api.create_session(Labels={"project": "lbl-test", "env": "dev"})
    second = api.create_session(Labels={"project": "lbl-test", "env": "prod"})
    try:
        labels = json.loads(api.call("GetLabel", SessionId=first)["Labels"])
        assert labels == {"project": "lbl-test", "env": "dev"}
        api.call("SetLabel", SessionId=first, Labels={"project": "lbl-test", "env": "staging"})
        labels = json.loads(api.call("GetLabel", SessionId=first)["Labels"])
        assert labels == {"project": "lbl-test", "env": "staging"}

        _, page = api.raw("ListSession", Labels={"project": "lbl-test"}, MaxResults=10)
        assert {item["SessionId"] for item in page["Data"]} == {first, second}
        assert page["TotalCount"] == 2
        _, page = api.raw("ListSession", Labels={"project": "lbl-test", "env": "prod"})
        assert [item["SessionId"] for item in page["Data"]] == [second]
        assert page["Data"][0]["SessionStatus"] == "RUNNING"
    finally:
        api.call("ReleaseMcpSession", SessionId=first)
        api.call("ReleaseMcpSession", SessionId=second)


def test_list_pages_with_next_token(api: Api) -> None:
    ids = [api.create_session(Labels={"paging": "yes"}) for _ in range(3)]
    try:
        seen: list[str] = []
        token = ""
        pages = 0
        while True:
            fields = {"Labels": {"paging": "yes"}, "MaxResults": 2}
            if token:
                fields["NextToken"] = token
            _, page = api.raw("ListSession", **fields)
            pages += 1
            assert page["TotalCount"] == 3
            seen += [item["SessionId"] for item in page["Data"]]
            token = page["NextToken"]
            if not token:
                break
        assert pages == 2
        assert seen == ids
    finally:
        for sid in ids:
            api.call("ReleaseMcpSession", SessionId=sid)


def test_released_sessions_leave_the_list(api: Api) -> None:
    sid = api.create_session(Labels={"gone": "soon"})
    api.call("ReleaseMcpSession", SessionId=sid)
    _, page = api.raw("ListSession", Labels={"gone": "soon"})
    assert page["Data"] == []
    with pytest.raises(RpcError):
        api.call("ReleaseMcpSession", SessionId=sid)


def test_bad_next_token(api: Api) -> None:
    with pytest.raises(RpcError) as caught:
        api.call("ListSession", NextToken="garbage!")
    assert caught.value.code == "InvalidParameter.NextToken"


def test_resource_info(api: Api, session_id: str) -> None:
    data = api.call("GetMcpResource", SessionId=session_id)
    assert data["SessionId"] == session_id
    assert set(data["DesktopInfo"]) == {
        "AppId",
        "AuthCode",
        "ConnectionProperties",
        "ResourceId",
        "ResourceType",
        "Ticket",
    }
    assert data["DesktopInfo"]["AuthCode"] == _query(data["ResourceUrl"])["authcode"]


def _query(url: str) -> dict[str, str]:
    parsed = urlsplit(url)
    assert parsed.path.endswith("/mcp.html"), url
    return {key: values[0] for key, values in parse_qs(parsed.query).items()}


def test_resource_url_has_the_cloud_shape(api: Api) -> None:
    """CreateMcpSession, GetSession and GetMcpResource answer `…/mcp.html?authcode=…&resourceId=…`
    with a fresh authcode each time, and stable, non-empty AppInstanceId and ResourceId."""
    created = api.call("CreateMcpSession")
    session_id = created["SessionId"]
    try:
        got = [api.call("GetSession", SessionId=session_id) for _ in range(2)]
        resource = api.call("GetMcpResource", SessionId=session_id)
        urls = [created["ResourceUrl"], got[0]["ResourceUrl"], got[1]["ResourceUrl"]]
        urls.append(resource["ResourceUrl"])
        queries = [_query(url) for url in urls]
        assert len({query["authcode"] for query in queries}) == 4  # fresh in every answer
        resource_id = created["ResourceId"]
        assert resource_id and created["AppInstanceId"]
        assert {query["resourceId"] for query in queries} == {resource_id}
        assert {answer["ResourceId"] for answer in got} == {resource_id}
        assert {answer["AppInstanceId"] for answer in got} == {created["AppInstanceId"]}
        assert resource["DesktopInfo"]["ResourceId"] == resource_id

        page = httpx.get(created["ResourceUrl"], timeout=10)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert session_id in page.text
        forged = created["ResourceUrl"].replace(queries[0]["authcode"], "1.2.3")
        assert httpx.get(forged, timeout=10).status_code == 403
        swapped = resource_id[:-1] + ("1" if resource_id.endswith("0") else "0")
        other = created["ResourceUrl"].replace(resource_id, swapped)
        assert httpx.get(other, timeout=10).status_code == 403  # the code is for one session
    finally:
        api.call("ReleaseMcpSession", SessionId=session_id)
    after = httpx.get(created["ResourceUrl"], timeout=10)
    assert after.status_code == 200 and "RELEASED" in after.text


def test_link_reaches_a_session_port(api: Api, session_id: str) -> None:
    """A server started inside the session is reachable through the GetLink URL."""
    port = 30123
    api.text(
        session_id,
        "shell",
        command=f"nohup python3 -m http.server {port} --bind 127.0.0.1 >/dev/null 2>&1 &",
        timeout_ms=5000,
    )
    url = api.call("GetLink", SessionId=session_id, Port=port, ProtocolType="https")["Url"]
    assert LINK_URL.fullmatch(url), url
    assert api.call("GetLink", SessionId=session_id, Port=port)["Url"] == url  # stable
    for _ in range(100):
        try:
            answer = httpx.get(url, timeout=2)
            if answer.status_code == 502:  # the server is not listening yet
                raise httpx.TransportError("not yet")
            break
        except httpx.TransportError:
            import time

            time.sleep(0.05)
    else:
        pytest.fail("the session's server never answered through the link")
    assert answer.status_code == 200
    assert api.call("GetLink", SessionId=session_id)["Url"].startswith("http://")


def test_list_mcp_tools_reads_the_catalogue(api: Api) -> None:
    tools = json.loads(api.call("ListMcpTools", ImageId="code_latest"))
    names = {tool["name"] for tool in tools}
    assert {"shell", "run_code", "read_file", "get_file_change"} <= names
    assert len(names) == 16
    desktop = {
        tool["name"] for tool in json.loads(api.call("ListMcpTools", ImageId="linux_latest"))
    }
    assert names | {"click_mouse", "system_screenshot", "list_root_windows", "start_app"} <= desktop
    assert {"page_use_navigate", "stopChrome"} <= desktop  # linux_latest serves the browser too
    shell = next(tool for tool in tools if tool["name"] == "shell")
    assert shell["server"] == "wuying_shell"
    assert shell["inputSchema"]["properties"]["command"]["type"] == "string"
    with pytest.raises(RpcError):
        api.call("ListMcpTools", ImageId="no_such_image")


def test_vpc_session_serves_call_tool(api: Api) -> None:
    data = api.call("CreateMcpSession", VpcResource=True)
    sid = data["SessionId"]
    try:
        base = f"http://{data['NetworkInterfaceIp']}:{data['HttpPort']}"
        query = {
            "server": "wuying_shell",
            "tool": "shell",
            "args": json.dumps({"command": "echo vpc", "timeout_ms": 3000}),
            "token": data["Token"],
            "requestId": "vpc-1-abcdefghi",
        }
        answer = httpx.get(f"{base}/callTool", params=query, timeout=30)
        assert answer.status_code == 200
        assert answer.json()["data"]["content"][0]["text"] == "vpc\n"
        assert api.call("GetSession", SessionId=sid)["Token"] == data["Token"]

        bad = httpx.get(f"{base}/callTool", params={**query, "token": "nope"}, timeout=30)
        assert bad.status_code == 401
    finally:
        api.call("ReleaseMcpSession", SessionId=sid)
    gone = httpx.get(f"{base}/callTool", params=query, timeout=30)
    assert gone.status_code == 401


def test_init_browser_is_refused_clearly_without_a_browser(api: Api) -> None:
    session_id = api.create_session(ImageId="code_latest")
    with pytest.raises(RpcError) as caught:
        api.call(
            "InitBrowser",
            SessionId=session_id,
            PersistentPath="/tmp/agentbay_browser",
            BrowserOption={},
        )
    assert "has no browser" in caught.value.answer["Message"]
    assert "browser_latest" in caught.value.answer["Message"]
    api.call("ReleaseMcpSession", SessionId=session_id)


def _path_without_chromium(directory: Path) -> str:
    """A PATH of one directory holding this machine's programs but Chromium: the machine of a
    user who has not installed it."""
    directory.mkdir()
    for entry in [*os.environ["PATH"].split(os.pathsep), "/usr/sbin", "/sbin"]:
        for program in Path(entry).iterdir() if Path(entry).is_dir() else ():
            link = directory / program.name
            if program.name not in CHROMIUM_CANDIDATES and not link.exists():
                link.symlink_to(program)
    return str(directory)


def test_without_chromium_on_the_host_browser_sessions_run_the_images(tmp_path: Path) -> None:
    """Sessions run their image's Chromium: a host without one serves browser_latest."""
    port = free_port()
    process = subprocess.Popen(
        serve_argv(tmp_path / "data", port, "akm-no-chromium"),
        env={**os.environ, "PATH": _path_without_chromium(tmp_path / "bin")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_listening(process, port)
        api = Api(f"http://127.0.0.1:{port}", "akm-no-chromium")
        session_id = api.create_session(ImageId="browser_latest")
        started = api.call("InitBrowser", SessionId=session_id, BrowserOption={})
        assert started["Port"] > 0
        command = "readlink /proc/$(pgrep -o -f -- --remote-debugging-port)/exe"
        assert api.text(session_id, "shell", command=command, timeout_ms=5000).startswith(
            "/usr/lib/chromium/"
        )
        api.call("ReleaseMcpSession", SessionId=session_id)
    finally:
        assert stop_serve(process) == 0


def test_without_chromium_the_host_root_browser_answers_what_to_install(tmp_path: Path) -> None:
    """On the host's / (--host-root) the description's answer: HTTP 400 BrowserUnavailable
    (no server error) naming the command that installs Chromium; other images and tools
    work meanwhile."""
    port = free_port()
    process = subprocess.Popen(
        serve_argv(tmp_path / "data", port, "akm-no-chromium", "--host-root"),
        env={**os.environ, "PATH": _path_without_chromium(tmp_path / "bin")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_listening(process, port)
        api = Api(f"http://127.0.0.1:{port}", "akm-no-chromium")
        with pytest.raises(RpcError) as refused:
            api.create_session(ImageId="browser_latest")
        assert refused.value.status == 400, refused.value.answer
        assert "apt-get install chromium" in refused.value.answer["Message"]
        session_id = api.create_session(ImageId="linux_latest")
        with pytest.raises(RpcError) as caught:
            api.call("InitBrowser", SessionId=session_id, BrowserOption={})
        assert (caught.value.status, caught.value.code) == (400, "BrowserUnavailable")
        assert "apt-get install chromium" in caught.value.answer["Message"]
        assert api.text(session_id, "shell", command="echo works", timeout_ms=5000) == "works\n"
    finally:
        assert stop_serve(process) == 0
