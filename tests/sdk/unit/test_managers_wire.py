"""Managers whose tools the local runtime does not serve: the exact CallMcpTool each documented
method sends (Name and Args text, in the official key order) and how each answer is parsed.

A recording transport is right here: the point is the bytes on the wire and the parsing of
answers no local image produces (desktop, mobile, OSS, browser agent).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from agentbay._rendered.aio.client import AsyncApiClient
from agentbay._rendered.client import ApiClient
from agentbay._types.browser import ActOptions, BrowserOption, ObserveOptions
from agentbay.aio.session import AsyncSession
from agentbay.session import Session


@dataclass
class Case:
    name: str
    call: Callable[[Any], Any]  # session -> result (awaitable in the async flavour)
    tool: str
    args: str  # the exact Args text
    answer: str  # content[0].text the fake session answers
    check: Callable[[Any], bool]


class FakeBay:
    """Just what a session needs from its client."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.api_key = "k"

    def _forget(self, session_id: str) -> None:
        del session_id


def recorder(
    answers: list[str],
) -> tuple[Callable[[httpx.Request], httpx.Response], list[dict[str, str]]]:
    sent: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        sent.append(form)
        if request.url.params["Action"] == "InitBrowser":
            return httpx.Response(
                200, json={"RequestId": "r", "Success": True, "Data": {"Port": 9222}}
            )
        calls = sum(1 for form in sent if "Name" in form)
        text = answers[min(calls, len(answers)) - 1]
        data = {"content": [{"type": "text", "text": text}], "isError": False}
        return httpx.Response(200, json={"RequestId": "r-1", "Success": True, "Data": data})

    return handler, sent


def sync_session(answers: list[str]) -> tuple[Session, list[dict[str, str]]]:
    handler, sent = recorder(answers)
    api = ApiClient(
        api_key="k",
        endpoint="http://test",
        timeout_s=5,
        max_retries=0,
        transport=httpx.MockTransport(handler),
    )
    return Session(FakeBay(api), "s-1"), sent  # type: ignore[arg-type]


def async_session(answers: list[str]) -> tuple[AsyncSession, list[dict[str, str]]]:
    handler, sent = recorder(answers)
    api = AsyncApiClient(
        api_key="k",
        endpoint="http://test",
        timeout_s=5,
        max_retries=0,
        transport=httpx.MockTransport(handler),
    )
    return AsyncSession(FakeBay(api), "s-1"), sent  # type: ignore[arg-type]


WINDOW = {
    "window_id": 7,
    "title": "Term",
    "pid": 3,
    "child_windows": [{"window_id": 8, "title": "c"}],
}

CASES = [
    Case(
        "oss env_init",
        lambda s: s.oss.env_init("id", "secret"),
        "oss_env_init",
        '{"access_key_id": "id", "access_key_secret": "secret", "security_token": null}',
        "configured",
        lambda r: r.success and r.client_config == "configured",
    ),
    Case(
        "oss upload",
        lambda s: s.oss.upload("b", "o", "/p"),
        "oss_upload",
        '{"bucket": "b", "object": "o", "path": "/p"}',
        "done",
        lambda r: r.content == "done",
    ),
    Case(
        "oss upload_anonymous",
        lambda s: s.oss.upload_anonymous("https://u", "/p"),
        "oss_upload_annon",
        '{"url": "https://u", "path": "/p"}',
        "ok",
        lambda r: r.success,
    ),
    Case(
        "oss download",
        lambda s: s.oss.download("b", "o", "/p"),
        "oss_download",
        '{"bucket": "b", "object": "o", "path": "/p"}',
        "ok",
        lambda r: r.content == "ok",
    ),
    Case(
        "oss download_anonymous",
        lambda s: s.oss.download_anonymous("https://u", "/p"),
        "oss_download_annon",
        '{"url": "https://u", "path": "/p"}',
        "ok",
        lambda r: r.success,
    ),
    Case(
        "computer click_mouse",
        lambda s: s.computer.click_mouse(1, 2, "right"),
        "click_mouse",
        '{"x": 1, "y": 2, "button": "right"}',
        "",
        lambda r: r.data is True,
    ),
    Case(
        "computer move_mouse",
        lambda s: s.computer.move_mouse(3, 4),
        "move_mouse",
        '{"x": 3, "y": 4}',
        "",
        lambda r: r.success,
    ),
    Case(
        "computer drag_mouse",
        lambda s: s.computer.drag_mouse(1, 2, 3, 4),
        "drag_mouse",
        '{"from_x": 1, "from_y": 2, "to_x": 3, "to_y": 4, "button": "left"}',
        "",
        lambda r: r.success,
    ),
    Case(
        "computer scroll",
        lambda s: s.computer.scroll(5, 6, "down", 3),
        "scroll",
        '{"x": 5, "y": 6, "direction": "down", "amount": 3}',
        "",
        lambda r: r.success,
    ),
    Case(
        "computer get_cursor_position",
        lambda s: s.computer.get_cursor_position(),
        "get_cursor_position",
        "{}",
        '{"x":512,"y":384}',
        lambda r: r.data == {"x": 512, "y": 384},
    ),
    Case(
        "computer get_screen_size",
        lambda s: s.computer.get_screen_size(),
        "get_screen_size",
        "{}",
        '{"dpiScalingFactor":1.0,"height":768,"width":1024}',
        lambda r: r.data["width"] == 1024,
    ),
    Case(
        "computer press_keys",
        lambda s: s.computer.press_keys(["Ctrl", "a"]),
        "press_keys",
        '{"keys": ["Ctrl", "a"], "hold": false}',
        "",
        lambda r: r.success,
    ),
    Case(
        "computer release_keys",
        lambda s: s.computer.release_keys(["Ctrl"]),
        "release_keys",
        '{"keys": ["Ctrl"]}',
        "",
        lambda r: r.success,
    ),
    Case(
        "computer input_text",
        lambda s: s.computer.input_text("héllo"),
        "input_text",
        '{"text": "héllo"}',
        "",
        lambda r: r.success,
    ),
    Case(
        "computer screenshot",
        lambda s: s.computer.screenshot(),
        "system_screenshot",
        "{}",
        "https://oss/x.png",
        lambda r: r.data == "https://oss/x.png",
    ),
    Case(
        "computer list_root_windows",
        lambda s: s.computer.list_root_windows(),
        "list_root_windows",
        '{"timeout_ms": 3000}',
        json.dumps([WINDOW]),
        lambda r: r.windows[0].window_id == 7 and r.windows[0].child_windows[0].window_id == 8,
    ),
    Case(
        "computer get_active_window",
        lambda s: s.computer.get_active_window(),
        "get_active_window",
        '{"timeout_ms": 3000}',
        json.dumps(WINDOW),
        lambda r: r.window.title == "Term",
    ),
    Case(
        "computer activate_window",
        lambda s: s.computer.activate_window(7),
        "activate_window",
        '{"window_id": 7}',
        "",
        lambda r: r.success,
    ),
    Case(
        "computer resize_window",
        lambda s: s.computer.resize_window(7, 800, 600),
        "resize_window",
        '{"window_id": 7, "width": 800, "height": 600}',
        "",
        lambda r: r.success,
    ),
    Case(
        "computer focus_mode",
        lambda s: s.computer.focus_mode(True),
        "focus_mode",
        '{"on": true}',
        "",
        lambda r: r.success,
    ),
    Case(
        "computer get_installed_apps",
        lambda s: s.computer.get_installed_apps(),
        "get_installed_apps",
        '{"start_menu": true, "desktop": false, "ignore_system_apps": true}',
        '[{"name": "Editor", "start_cmd": "edit"}]',
        lambda r: r.data[0].name == "Editor",
    ),
    Case(
        "computer start_app",
        lambda s: s.computer.start_app("edit"),
        "start_app",
        '{"start_cmd": "edit"}',
        '[{"pname": "edit", "pid": 42}]',
        lambda r: r.data[0].pid == 42,
    ),
    Case(
        "computer stop_app_by_pid",
        lambda s: s.computer.stop_app_by_pid(42),
        "stop_app_by_pid",
        '{"pid": 42}',
        "",
        lambda r: r.success,
    ),
    Case(
        "mobile tap",
        lambda s: s.mobile.tap(10, 20),
        "tap",
        '{"x": 10, "y": 20}',
        "",
        lambda r: r.success,
    ),
    Case(
        "mobile swipe",
        lambda s: s.mobile.swipe(1, 2, 3, 4),
        "swipe",
        '{"start_x": 1, "start_y": 2, "end_x": 3, "end_y": 4, "duration_ms": 300}',
        "",
        lambda r: r.success,
    ),
    Case(
        "mobile send_key",
        lambda s: s.mobile.send_key(4),
        "send_key",
        '{"key": 4}',
        "",
        lambda r: r.success,
    ),
    Case(
        "mobile get_all_ui_elements",
        lambda s: s.mobile.get_all_ui_elements(),
        "get_all_ui_elements",
        '{"timeout_ms": 2000}',
        '[{"text": "OK", "children": [{"className": "B"}]}]',
        lambda r: r.elements[0]["index"] == -1 and r.elements[0]["children"][0]["className"] == "B",
    ),
    Case(
        "mobile start_app",
        lambda s: s.mobile.start_app("monkey", activity=".Main"),
        "start_app",
        '{"start_cmd": "monkey", "activity": ".Main"}',
        "[]",
        lambda r: r.data == [],
    ),
    Case(
        "mobile set_resolution_lock",
        lambda s: s.mobile.set_resolution_lock(True),
        "shell",
        '{"command": "setprop sys.wuying.lockres 1", "timeout_ms": 1000}',
        "",
        lambda r: r is None,
    ),
    Case(
        "agent get_task_status",
        lambda s: s.agent.get_task_status("t-1"),
        "flux_get_task_status",
        '{"task_id": "t-1"}',
        '{"task_id": "t-1", "status": "running"}',
        lambda r: r.output == '{"task_id": "t-1", "status": "running"}',
    ),
    Case(
        "agent terminate_task",
        lambda s: s.agent.terminate_task("t-1"),
        "flux_terminate_task",
        '{"task_id": "t-1"}',
        '{"task_id": "t-1", "status": "terminated"}',
        lambda r: r.task_status == "terminated",
    ),
    Case(
        "agent execute_task",
        lambda s: s.agent.execute_task("do it", 1),
        "flux_execute_task",
        '{"task": "do it"}',
        '{"task_id": "t-9", "status": "finished", "product": "done"}',
        lambda r: r.task_id == "t-9" and r.task_result == "done",
    ),
    # No match: the cloud answers an empty text, older servers the line "No matches found";
    # both are a successful search with no results (as in the later official SDKs).
    Case(
        "file_system search_files empty answer",
        lambda s: s.file_system.search_files("/d", "zzz"),
        "search_files",
        '{"path": "/d", "pattern": "zzz"}',
        "",
        lambda r: r.success is True and r.matches == [] and r.error_message == "",
    ),
    Case(
        "file_system search_files No matches found",
        lambda s: s.file_system.search_files("/d", "zzz"),
        "search_files",
        '{"path": "/d", "pattern": "zzz"}',
        "No matches found",
        lambda r: r.success is True and r.matches == [] and r.error_message == "",
    ),
]


def _first(sent: list[dict[str, str]]) -> dict[str, str]:
    calls = [form for form in sent if "Name" in form]
    return calls[0]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_sync_wire_and_parsing(case: Case) -> None:
    session, sent = sync_session([case.answer])
    result = case.call(session)
    call = _first(sent)
    assert (call["Name"], call["Args"], call["SessionId"]) == (case.tool, case.args, "s-1")
    assert case.check(result), result


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_async_wire_and_parsing(case: Case) -> None:
    async def main() -> Any:
        session, sent = async_session([case.answer])
        result = await case.call(session)
        return result, sent

    result, sent = asyncio.run(main())
    call = _first(sent)
    assert (call["Name"], call["Args"]) == (case.tool, case.args)
    assert case.check(result), result


def test_invalid_buttons_are_refused_before_any_request() -> None:
    session, sent = sync_session([""])
    with pytest.raises(ValueError):
        session.computer.click_mouse(1, 1, "side")
    with pytest.raises(ValueError):
        session.computer.drag_mouse(1, 1, 2, 2, "double_left")
    with pytest.raises(ValueError):
        session.computer.scroll(1, 1, "sideways")
    assert sent == []


def test_tool_errors_become_failed_results() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        data = {"content": [{"type": "text", "text": "no display"}], "isError": True}
        return httpx.Response(200, json={"RequestId": "r-2", "Success": True, "Data": data})

    api = ApiClient(
        api_key="k",
        endpoint="http://test",
        timeout_s=5,
        max_retries=0,
        transport=httpx.MockTransport(handler),
    )
    session = Session(FakeBay(api), "s-1")  # type: ignore[arg-type]
    result = session.computer.move_mouse(1, 1)
    assert result.success is False and result.request_id == "r-2"
    assert result.error_message == "Error in response: no display"
    with pytest.deprecated_call():
        session.window.list_root_windows()


def test_browser_agent_act_and_observe() -> None:
    session, sent = sync_session(
        [
            '{"task_id": "a-1"}',
            '{"is_done": true, "success": true, "steps": ["clicked"]}',
            json.dumps(
                [{"selector": "#b", "description": "b", "method": "click", "arguments": '{"x": 1}'}]
            ),
        ]
    )
    assert session.browser.initialize(BrowserOption())
    act = session.browser.agent.act(ActOptions(action="click the button"))
    assert act.success and json.loads(act.message) == ["clicked"]
    ok, found = session.browser.agent.observe(ObserveOptions(instruction="find buttons"))
    assert ok and found[0].arguments == {"x": 1}
    names = [form.get("Name") for form in sent]
    assert names == [None, "page_use_act_async", "page_use_get_act_result", "page_use_observe"]
    assert sent[1]["Args"] == '{"context_id": 0, "action": "click the button"}'
    browser_option = json.loads(sent[0]["BrowserOption"])
    assert browser_option == {
        "useStealth": False,
        "solveCaptchas": False,
        "extensionPath": "/tmp/extensions/",
    }
