"""Every in-session tool of linux_latest through CallMcpTool, over real HTTP."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

from tests.runtime.e2e.api import Api


def test_shell_output_exit_code_and_timeout(api: Api, session_id: str) -> None:
    assert api.text(session_id, "shell", command="echo hello", timeout_ms=5000) == "hello\n"
    failed = api.tool(session_id, "shell", command="echo oops >&2; exit 3", timeout_ms=5000)
    assert failed["isError"] is True
    assert "3" in failed["content"][0]["text"] and "oops" in failed["content"][0]["text"]
    slow = api.tool(session_id, "shell", command="sleep 5", timeout_ms=300)
    assert slow["isError"] is True
    assert "timeout" in slow["content"][0]["text"]


def test_run_code_python(api: Api, session_id: str) -> None:
    out = api.text(session_id, "run_code", code="print(6 * 7)", language="python", timeout_s=30)
    assert out.strip() == "42"
    broken = api.tool(session_id, "run_code", code="raise SystemExit(5)", language="python")
    assert broken["isError"] is True


def test_run_code_javascript(api: Api, session_id: str) -> None:
    out = api.text(
        session_id,
        "run_code",
        code="console.log([1,2,3].map(x => x * 2).join(','))",
        language="javascript",
        timeout_s=30,
    )
    assert out.strip() == "2,4,6"


def test_file_tools(api: Api, session_id: str) -> None:
    base = "/tmp/e2e-files"
    api.text(session_id, "create_directory", path=f"{base}/sub")
    api.text(session_id, "write_file", path=f"{base}/a.txt", content="héllo\n", mode="overwrite")
    api.text(session_id, "write_file", path=f"{base}/a.txt", content="more\n", mode="append")
    info = api.text(session_id, "get_file_info", path=f"{base}/a.txt")
    lines = dict(line.split(": ", 1) for line in info.strip().splitlines())
    assert lines["size"] == str(len("héllo\nmore\n".encode()))
    assert lines["isDirectory"] == "false"
    assert api.text(session_id, "read_file", path=f"{base}/a.txt", offset=0, length=0) == (
        "héllo\nmore\n"
    )
    listing = api.text(session_id, "list_directory", path=base)
    assert "[DIR] sub" in listing and "[FILE] a.txt" in listing

    api.text(
        session_id,
        "edit_file",
        path=f"{base}/a.txt",
        edits=[{"oldText": "more", "newText": "less"}],
        dryRun=True,
    )
    assert "more" in api.text(session_id, "read_file", path=f"{base}/a.txt", offset=0, length=0)
    api.text(
        session_id,
        "edit_file",
        path=f"{base}/a.txt",
        edits=[{"oldText": "more", "newText": "less"}],
        dryRun=False,
    )
    assert "less" in api.text(session_id, "read_file", path=f"{base}/a.txt", offset=0, length=0)

    api.text(session_id, "move_file", source=f"{base}/a.txt", destination=f"{base}/sub/b.txt")
    found = api.text(session_id, "search_files", path=base, pattern="b.txt")
    assert found.strip().splitlines() == [f"{base}/sub/b.txt"]
    none = api.tool(session_id, "search_files", path=base, pattern="zzz-nothing")
    assert none["content"] == [{"type": "text", "text": ""}] and none["isError"] is False

    api.text(session_id, "write_file", path=f"{base}/c.txt", content="c1\nc2", mode="overwrite")
    multiple = api.text(
        session_id, "read_multiple_files", paths=[f"{base}/sub/b.txt", f"{base}/c.txt"]
    )
    assert f"{base}/sub/b.txt: héllo" in multiple
    assert "---" in multiple

    assert json.loads(api.text(session_id, "get_file_change", path=base)) == []
    api.text(session_id, "write_file", path=f"{base}/new.txt", content="x", mode="overwrite")
    events = json.loads(api.text(session_id, "get_file_change", path=base))
    assert {"eventType": "create", "path": f"{base}/new.txt", "pathType": "file"} in events


def test_read_file_in_chunks_like_the_sdk(api: Api, session_id: str) -> None:
    text = "".join(f"{i:05d}-é€😀\n" for i in range(12000))
    path = "/tmp/chunks.txt"
    for start in range(0, len(text), 51200):
        mode = "overwrite" if start == 0 else "append"
        api.text(
            session_id, "write_file", path=path, content=text[start : start + 51200], mode=mode
        )
    size = len(text.encode())
    info = api.text(session_id, "get_file_info", path=path)
    assert f"size: {size}" in info
    parts = [
        api.text(
            session_id, "read_file", path=path, offset=offset, length=min(51200, size - offset)
        )
        for offset in range(0, size, 51200)
    ]
    assert "".join(parts) == text


def test_missing_file_is_a_tool_error(api: Api, session_id: str) -> None:
    result = api.tool(session_id, "read_file", path="/tmp/does/not/exist", offset=0, length=0)
    assert result["isError"] is True
    assert result["content"][0]["text"]


def test_tool_the_image_lacks(api: Api) -> None:
    session_id = api.create_session(ImageId="code_latest")
    try:
        result = api.tool(session_id, "click_mouse", x=1, y=1, button="left")
    finally:
        api.call("ReleaseMcpSession", SessionId=session_id)
    assert result == {
        "content": [{"type": "text", "text": "tool not found: click_mouse"}],
        "isError": True,
    }


def test_bad_args_are_tool_errors_not_crashes(api: Api, session_id: str) -> None:
    result = api.tool(session_id, "write_file", path=5, content=None)
    assert result["isError"] is True
    assert (
        api.text(session_id, "shell", command="echo still-alive", timeout_ms=3000)
        == "still-alive\n"
    )


def test_many_concurrent_calls_on_one_session(api: Api, session_id: str) -> None:
    def one(i: int) -> str:
        return api.text(session_id, "shell", command=f"echo {i}", timeout_ms=10000)

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(one, range(64)))
    assert answers == [f"{i}\n" for i in range(64)]


def test_session_writes_do_not_reach_the_host(api: Api, session_id: str) -> None:
    marker = f"/tmp/agentbay-e2e-host-escape-{os.getpid()}"
    api.text(session_id, "write_file", path=marker, content="inside", mode="overwrite")
    api.text(session_id, "shell", command="echo x > /etc/agentbay-e2e-escape", timeout_ms=3000)
    assert not os.path.exists(marker)
    assert not os.path.exists("/etc/agentbay-e2e-escape")


def test_sessions_do_not_see_each_other(api: Api, session_id: str) -> None:
    other = api.create_session()
    try:
        api.text(other, "write_file", path="/root/secret.txt", content="mine", mode="overwrite")
        peek = api.tool(session_id, "read_file", path="/root/secret.txt", offset=0, length=0)
        assert peek["isError"] is True
        hostname = api.text(session_id, "shell", command="hostname", timeout_ms=3000).strip()
        assert hostname == session_id
        processes = api.text(
            session_id, "shell", command="ls /proc | grep -c '^[0-9]'", timeout_ms=3000
        )
        assert int(processes) < 20, "a session must only see its own processes"
    finally:
        api.call("ReleaseMcpSession", SessionId=other)
