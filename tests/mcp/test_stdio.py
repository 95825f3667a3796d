"""``agentbay mcp`` over stdio, driven by the ``mcp`` package's own client, against a real
runtime: the tools and their catalogue schemas, each kind of call, images, errors,
cancellation, resources, and the session deleted when the client goes away."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters

from agentbay import AgentBay
from agentbay_local.server import EmbeddedRuntime
from tests.mcp.conftest import labelled, server_argv, server_env, wait_for
from tests.support.pngdecode import decode


def params(runtime: EmbeddedRuntime, *extra: str) -> StdioServerParameters:
    argv = server_argv(runtime, *extra)
    return StdioServerParameters(command=argv[0], args=argv[1:], env=server_env())


def run(runtime: EmbeddedRuntime, body: Callable[[Client], Awaitable[Any]], *extra: str) -> Any:
    async def main() -> Any:
        async with Client(params(runtime, *extra)) as client:
            return await body(client)

    return anyio.run(main)


def text(result: types.CallToolResult) -> str:
    assert len(result.content) == 1, result.content
    item = result.content[0]
    assert isinstance(item, types.TextContent), item
    return item.text


def test_tools_are_the_catalogue_and_session_management(
    runtime: EmbeddedRuntime, bay: AgentBay
) -> None:
    async def body(client: Client) -> types.ListToolsResult:
        return await client.list_tools()

    listed = run(runtime, body)
    tools = {tool.name: tool for tool in listed.tools}
    with bay.create().session as session:
        catalogue = session.list_mcp_tools().tools
    for tool in catalogue:
        assert tools[tool.name].description == tool.description
        assert tools[tool.name].input_schema == tool.input_schema
    assert {
        "session_create",
        "session_list",
        "session_delete",
        "session_info",
        "session_pause",
        "session_resume",
    } <= set(tools)
    assert len(tools) == len(catalogue) + 6


def test_each_kind_of_call_and_the_session_is_deleted_after(
    runtime: EmbeddedRuntime, bay: AgentBay
) -> None:
    async def body(client: Client) -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["shell"] = await client.call_tool("shell", {"command": "echo hi", "timeout_ms": 5000})
        out["write"] = await client.call_tool(
            "write_file", {"path": "/tmp/mcp.txt", "content": "αβγ"}
        )
        out["read"] = await client.call_tool("read_file", {"path": "/tmp/mcp.txt"})
        out["code"] = await client.call_tool(
            "run_code", {"code": "print(6 * 7)", "language": "python"}
        )
        out["missing"] = await client.call_tool("read_file", {"path": "/tmp/no/such/file"})
        out["unknown"] = await client.call_tool("no_such_tool", {})
        out["info"] = json.loads(text(await client.call_tool("session_info", {})))
        out["during"] = labelled(bay, "stdio-kinds")
        return out

    out = run(runtime, body, "--label", "test=stdio-kinds")
    assert text(out["shell"]) == "hi\n" and not out["shell"].is_error
    assert not out["write"].is_error
    assert text(out["read"]) == "αβγ"
    assert text(out["code"]) == "42\n"
    # Tool errors are MCP tool errors carrying the runtime's own message.
    assert out["missing"].is_error and "/tmp/no/such/file" in text(out["missing"])
    assert out["unknown"].is_error and text(out["unknown"]) == "tool not found: no_such_tool"
    assert out["during"] == [out["info"]["session_id"]]
    assert out["info"]["live_view_url"].startswith("http://127.0.0.1:")
    # The client has gone (its pipe closed): the server deletes the session as it exits
    # (the client may return before that delete is through, on a loaded machine).
    wait_for(lambda: labelled(bay, "stdio-kinds") == [], "the session deleted after the client")


def test_screenshot_is_image_content(runtime: EmbeddedRuntime) -> None:
    async def body(client: Client) -> types.CallToolResult:
        return await client.call_tool("system_screenshot", {})

    result = run(runtime, body, "--image", "linux_latest")
    assert not result.is_error, result.content
    image = result.content[0]
    assert isinstance(image, types.ImageContent) and image.mime_type == "image/png"
    width, height, _ = decode(base64.b64decode(image.data))
    assert width > 0 and height > 0


def test_long_output_is_cut_and_says_so(runtime: EmbeddedRuntime) -> None:
    async def body(client: Client) -> types.CallToolResult:
        return await client.call_tool(
            "shell", {"command": "head -c 5000 /dev/zero | tr '\\0' x", "timeout_ms": 5000}
        )

    answer = text(run(runtime, body, "--max-output-chars", "1000"))
    assert answer.startswith("x" * 1000 + "\n[agentbay mcp: output truncated")
    assert "the first 1000 of 5000 characters" in answer


def test_cancelling_a_long_command_leaves_the_server_serving(runtime: EmbeddedRuntime) -> None:
    async def body(client: Client) -> tuple[float, str]:
        with anyio.move_on_after(1.0):
            await client.call_tool("shell", {"command": "sleep 30", "timeout_ms": 60000})
            raise AssertionError("the 30 s command was not cancelled")
        started = time.monotonic()
        after = text(await client.call_tool("shell", {"command": "echo next", "timeout_ms": 5000}))
        return time.monotonic() - started, after

    took, after = run(runtime, body)
    assert after == "next\n"
    assert took < 20, f"the next call waited {took:.1f} s for the cancelled one"


def test_resources_files_and_live_view(runtime: EmbeddedRuntime) -> None:
    async def body(client: Client) -> dict[str, Any]:
        await client.call_tool("write_file", {"path": "/tmp/r.txt", "content": "resource"})
        listed = await client.list_resources()
        templates = await client.list_resource_templates()
        file = await client.read_resource("agentbay://session/files/tmp/r.txt")
        live = await client.read_resource("agentbay://session/live-view")
        try:
            await client.read_resource("agentbay://session/files/tmp/none")
            missing = ""
        except Exception as exc:
            missing = str(exc)
        return {
            "listed": listed,
            "templates": templates,
            "file": file,
            "live": live,
            "missing": missing,
        }

    out = run(runtime, body)
    assert [r.uri for r in out["listed"].resources] == ["agentbay://session/live-view"]
    assert (
        out["templates"].resource_templates[0].uri_template.startswith("agentbay://session/files/")
    )
    assert out["file"].contents[0].text == "resource"
    assert out["live"].contents[0].text.startswith("http://127.0.0.1:")
    assert "/tmp/none" in out["missing"]


def test_session_management_tools(runtime: EmbeddedRuntime, bay: AgentBay) -> None:
    async def body(client: Client) -> dict[str, Any]:
        out: dict[str, Any] = {}
        created = await client.call_tool(
            "session_create", {"image_id": "code_latest", "labels": {"test": "stdio-manage"}}
        )
        out["created"] = json.loads(text(created))
        out["again"] = await client.call_tool("session_create", {})
        out["listed"] = json.loads(
            text(await client.call_tool("session_list", {"labels": {"test": "stdio-manage"}}))
        )
        out["hostname"] = text(await client.call_tool("shell", {"command": "hostname"}))
        out["deleted"] = json.loads(text(await client.call_tool("session_delete", {})))
        out["after_delete"] = labelled(bay, "stdio-manage")
        return out

    out = run(runtime, body)
    sid = out["created"]["session_id"]
    assert out["created"]["image_id"] == "code_latest"
    assert out["again"].is_error and sid in text(out["again"])
    assert out["listed"] == {"session_ids": [sid], "this_client": sid}
    assert out["hostname"].strip() == sid
    assert out["deleted"] == {"deleted": sid}
    assert out["after_delete"] == []


def test_pause_freezes_the_session_and_resume_continues_it(runtime: EmbeddedRuntime) -> None:
    async def body(client: Client) -> dict[str, Any]:
        out: dict[str, Any] = {}
        shell = {"command": "echo $$ > /tmp/pid; echo kept", "timeout_ms": 5000}
        out["before"] = text(await client.call_tool("shell", shell))
        out["paused"] = json.loads(text(await client.call_tool("session_pause", {})))
        out["while_paused"] = await client.call_tool("shell", {"command": "echo no"})
        out["resumed"] = json.loads(text(await client.call_tool("session_resume", {})))
        out["after"] = text(await client.call_tool("read_file", {"path": "/tmp/pid"}))
        return out

    out = run(runtime, body, "--label", "test=stdio-pause")
    assert out["before"].strip() == "kept"
    assert out["paused"]["status"] == "PAUSED"
    assert out["while_paused"].is_error and "paused" in text(out["while_paused"]).lower()
    assert out["resumed"]["status"] == "RUNNING"
    assert out["after"].strip().isdigit()  # the session's files survived the pause


def test_a_session_released_behind_the_server_is_replaced_saying_so(
    runtime: EmbeddedRuntime, bay: AgentBay
) -> None:
    async def body(client: Client) -> tuple[str, types.CallToolResult, list[str]]:
        first = json.loads(text(await client.call_tool("session_info", {})))["session_id"]
        # Released by someone else (as the runtime's idle release does).
        assert bay.get(first).session.delete().success
        answer = await client.call_tool("shell", {"command": "hostname", "timeout_ms": 5000})
        return first, answer, labelled(bay, "stdio-replaced")

    first, answer, during = run(runtime, body, "--label", "test=stdio-replaced")
    assert not answer.is_error, answer.content
    out, note = (item.text for item in answer.content if isinstance(item, types.TextContent))
    assert during == [out.strip()] and out.strip() != first
    assert "released by the backend" in note and out.strip() in note
    wait_for(lambda: labelled(bay, "stdio-replaced") == [], "the replacement deleted after")
