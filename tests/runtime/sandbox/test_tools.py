"""Every in-sandbox tool: text formats, error paths, timeouts, concurrency (contract c.1-c.3)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

from agentbay_local.sandbox import Sandbox
from tests.runtime.sandbox.conftest import Env

# ---- shell ----


def test_shell_returns_stdout(env: Env, box: Sandbox) -> None:
    # The text for every client; the streams and exit code apart for those that read them.
    assert env.call(box, "shell", command="echo hello", timeout_ms=5000) == {
        "content": [{"type": "text", "text": "hello\n"}],
        "isError": False,
        "structuredContent": {"exit_code": 0, "stdout": "hello\n", "stderr": ""},
    }


def test_shell_runs_in_root_home_with_a_clean_environment(env: Env, box: Sandbox) -> None:
    assert env.sh(box, "pwd") == "/root\n"
    environment = env.sh(box, "env")
    assert "HOME=/root" in environment
    assert "AGENTBAY" not in environment and "PYTEST" not in environment


def test_shell_stderr_only_output_is_returned(env: Env, box: Sandbox) -> None:
    assert env.sh(box, "echo warn >&2") == "warn\n"


def test_shell_failure_reports_exit_code_stderr_and_stdout(env: Env, box: Sandbox) -> None:
    text = env.error(box, "shell", command="echo out; echo oops >&2; exit 3", timeout_ms=5000)
    assert text.startswith("Execution failed. Error code:3 Error message: oops")
    assert "out" in text


#: The session's `sleep` processes, from /proc (a minimal system has no pgrep).
_SLEEP_PIDS = "grep -lsx sleep /proc/[0-9]*/comm | cut -d/ -f3"
_COUNT_SLEEPS = "grep -lsx sleep /proc/[0-9]*/comm | wc -l"


def test_shell_timeout_kills_the_command(env: Env, box: Sandbox) -> None:
    started = time.monotonic()
    text = env.error(
        box, "shell", command="echo early; sleep 30; echo late > /tmp/late", timeout_ms=300
    )
    assert text == (
        "Execution failed. Error code:-1 Error message: [timeout] the command ran longer than"
        " its timeout_ms=300 ms and was stopped; pass a larger timeout_ms, e.g."
        " execute_command(command, timeout_ms=60000) (the 0.9 API's default is 1000 ms)"
        "\nOutput: early\n"
    )
    assert time.monotonic() - started < 2
    # Wait for the kill to be seen (well before the 30 s sleep could end by itself).
    deadline = time.monotonic() + 5
    left = env.sh(box, _COUNT_SLEEPS)
    while left != "0\n" and time.monotonic() < deadline:
        left = env.sh(box, _COUNT_SLEEPS)
    assert left == "0\n", "the timed-out command is still running"
    assert env.sh(box, "ls /tmp/late 2>/dev/null || true") == ""


def test_shell_default_timeout_is_one_second(env: Env, box: Sandbox) -> None:
    assert "[timeout]" in env.error(box, "shell", command="sleep 3")


def test_background_process_does_not_make_the_call_hang(env: Env, box: Sandbox) -> None:
    # Hanging would mean waiting for the background process or for the 60 s timeout; the
    # bound is half of that, far from any machine's speed (this is no speed test).
    started = time.monotonic()
    assert env.sh(box, "sleep 100 & echo started", timeout_ms=60_000) == "started\n"
    assert time.monotonic() - started < 30
    # It keeps running after the call (servers started this way must survive). On a loaded
    # machine the forked shell may not have become `sleep` yet: wait for it, with a deadline.
    waited = f'for i in $(seq 100); do [ "$({_COUNT_SLEEPS})" = 0 ] || break; sleep 0.1; done'
    env.sh(box, waited)
    assert env.sh(box, _COUNT_SLEEPS) == "1\n"
    env.sh(box, f"kill $({_SLEEP_PIDS}); true")


def test_shell_bad_arguments_are_tool_errors(env: Env, box: Sandbox) -> None:
    assert env.error(box, "shell") == "Invalid arguments: 'command' is required"
    assert "'command' must be a string" in env.error(box, "shell", command=5)
    assert "'timeout_ms' must be a number" in env.error(box, "shell", command="x", timeout_ms="1")
    assert env.sh(box, "echo still-alive") == "still-alive\n"


# ---- run_code ----


def test_run_code_python(env: Env, box: Sandbox) -> None:
    assert env.text(box, "run_code", code="print(6 * 7)", language="python", timeout_s=30) == "42\n"


def test_run_code_javascript(env: Env, box: Sandbox) -> None:
    code = "console.log([1, 2, 3].map(x => x * 2).join(','))"
    assert env.text(box, "run_code", code=code, language="javascript", timeout_s=30) == "2,4,6\n"


def test_run_code_errors_and_timeout(env: Env, box: Sandbox) -> None:
    text = env.error(box, "run_code", code="raise ValueError('boom')", language="python")
    assert text.startswith("Execution failed. Error code:1 Error message: Traceback")
    assert "ValueError: boom" in text
    # The tool's own timeout_s (env.error's timeout_s is the host's deadline).
    args = {"code": "print('early', flush=True); import time; time.sleep(5)", "timeout_s": 1}
    answer = env.run(box.call_tool("run_code", {**args, "language": "python"}, timeout_s=20))
    text = answer["content"][0]["text"]
    assert text == (
        "Execution failed. Error code:-1 Error message: [timeout] the code ran longer than its"
        " timeout_s=1 s and was stopped; pass a larger timeout_s, e.g."
        " run_code(code, language, timeout_s=300)\nOutput: early\n"
    )
    text = env.error(box, "run_code", code="x", language="ruby")
    assert text.startswith("Unsupported language: ruby.")


def test_run_code_accepts_programs_larger_than_one_argv_string(env: Env, box: Sandbox) -> None:
    code = "x = 1\n" * 40000 + "print(len('é' * 3))"
    assert env.text(box, "run_code", code=code, language="python", timeout_s=30) == "3\n"


# ---- files ----


def test_write_read_append_and_file_info(env: Env, box: Sandbox) -> None:
    base = "/tmp/t-files"
    assert env.text(box, "create_directory", path=f"{base}/a/b")
    env.text(box, "write_file", path=f"{base}/new/dir/x.txt", content="héllo\n", mode="overwrite")
    env.text(box, "write_file", path=f"{base}/new/dir/x.txt", content="more\n", mode="append")
    assert env.text(box, "read_file", path=f"{base}/new/dir/x.txt") == "héllo\nmore\n"
    info = env.text(box, "get_file_info", path=f"{base}/new/dir/x.txt")
    fields = dict(line.split(": ", 1) for line in info.strip().splitlines())
    assert fields["size"] == str(len("héllo\nmore\n".encode()))
    assert fields["isDirectory"] == "false" and fields["isFile"] == "true"
    assert fields["name"] == "x.txt" and fields["permissions"] == "-rw-r--r--"
    assert fields["modified"].endswith("Z")
    assert "isDirectory: true" in env.text(box, "get_file_info", path=f"{base}/a")
    overwrite = env.text(box, "write_file", path=f"{base}/new/dir/x.txt", content="z")
    assert overwrite and env.text(box, "read_file", path=f"{base}/new/dir/x.txt") == "z"
    assert "mode" in env.error(box, "write_file", path=f"{base}/y", content="z", mode="bogus")


def test_overwrite_is_atomic_and_keeps_the_mode(env: Env, box: Sandbox) -> None:
    env.sh(box, "printf old > /tmp/t-mode && chmod 751 /tmp/t-mode")
    env.text(box, "write_file", path="/tmp/t-mode", content="new", mode="overwrite")
    assert env.sh(box, "stat -c %a /tmp/t-mode") == "751\n"
    assert env.sh(box, "ls -a /tmp | grep -c '\\.t-mode\\.agentbay' || true") == "0\n"


def test_list_directory_format(env: Env, box: Sandbox) -> None:
    env.sh(box, "mkdir -p /tmp/t-list/sub && touch /tmp/t-list/b.txt /tmp/t-list/a.txt")
    assert env.text(box, "list_directory", path="/tmp/t-list") == (
        "[FILE] a.txt\n[FILE] b.txt\n[DIR] sub"
    )
    assert env.text(box, "list_directory", path="/tmp/t-list/sub") == ""


def test_missing_paths_give_clear_errors(env: Env, box: Sandbox) -> None:
    assert env.error(box, "read_file", path="/tmp/nope/x") == (
        "Error: ENOENT: no such file or directory, open '/tmp/nope/x'"
    )
    assert env.error(box, "get_file_info", path="/tmp/nope") == (
        "Error: ENOENT: no such file or directory, stat '/tmp/nope'"
    )
    assert "ENOENT" in env.error(box, "list_directory", path="/tmp/nope")
    assert "EISDIR" in env.error(box, "read_file", path="/tmp")


def test_move_file(env: Env, box: Sandbox) -> None:
    env.sh(box, "mkdir -p /tmp/t-move && echo 1 > /tmp/t-move/a && echo 2 > /tmp/t-move/b")
    env.text(box, "move_file", source="/tmp/t-move/a", destination="/tmp/t-move/c")
    assert env.sh(box, "ls /tmp/t-move") == "b\nc\n"
    text = env.error(box, "move_file", source="/tmp/t-move/b", destination="/tmp/t-move/c")
    assert text.startswith("Error: EEXIST")
    assert "ENOENT" in env.error(box, "move_file", source="/tmp/t-move/zz", destination="/tmp/q")
    # A directory of the image (overlay lower layer): rename gives EXDEV, copy+delete works.
    env.text(box, "move_file", source="/etc/apt", destination="/root/apt-moved")
    assert env.sh(box, "test -d /root/apt-moved && test ! -e /etc/apt && echo ok") == "ok\n"


def test_read_file_offsets_are_utf8_safe_at_any_chunk_size(env: Env, box: Sandbox) -> None:
    text = "".join(f"{i:04d}-é€😀\n" for i in range(3000))
    env.text(box, "write_file", path="/tmp/t-utf8.txt", content=text, mode="overwrite")
    size = len(text.encode())
    for chunk in (51200, 4096, 7, 2, 1):
        if chunk < 100:
            sample = text[:300]
            env.text(box, "write_file", path="/tmp/t-small.txt", content=sample, mode="overwrite")
            path, expected, total = "/tmp/t-small.txt", sample, len(sample.encode())
        else:
            path, expected, total = "/tmp/t-utf8.txt", text, size
        parts = [
            env.text(box, "read_file", path=path, offset=offset, length=min(chunk, total - offset))
            for offset in range(0, total, chunk)
        ]
        assert "".join(parts) == expected, chunk
    assert env.text(box, "read_file", path="/tmp/t-utf8.txt", offset=size + 10, length=5) == ""
    assert "offset" in env.error(box, "read_file", path="/tmp/t-utf8.txt", offset=-1)


def test_read_file_binary_answers_the_exact_bytes_in_base64(env: Env, box: Sandbox) -> None:
    # 0.22's read_file(format="bytes") sends format "binary" and base64-decodes each chunk.
    text = "é€😀" * 10  # a chunk boundary inside a character is kept as bytes, not moved
    env.text(box, "write_file", path="/tmp/t-bin.txt", content=text, mode="overwrite")
    data = text.encode()
    parts = [
        base64.b64decode(
            env.text(box, "read_file", path="/tmp/t-bin.txt", offset=at, length=7, format="binary")
        )
        for at in range(0, len(data), 7)
    ]
    assert b"".join(parts) == data and all(len(part) == 7 for part in parts[:-1])
    whole = env.text(box, "read_file", path="/tmp/t-bin.txt", offset=0, length=0, format="binary")
    assert base64.b64decode(whole) == data
    assert "format" in env.error(box, "read_file", path="/tmp/t-bin.txt", format="bytes")


def test_read_multiple_files_format(env: Env, box: Sandbox) -> None:
    env.sh(box, "printf 'hello a\\n' > /tmp/t-a.txt && printf 'line1\\nline2\\n' > /tmp/t-b.txt")
    text = env.text(box, "read_multiple_files", paths=["/tmp/t-a.txt", "/tmp/t-b.txt", "/tmp/t-z"])
    assert text == (
        "/tmp/t-a.txt: hello a\n"
        "\n---\n"
        "/tmp/t-b.txt: line1\nline2\n"
        "\n---\n"
        "/tmp/t-z: Error - ENOENT: no such file or directory, open '/tmp/t-z'"
    )
    assert "list of strings" in env.error(box, "read_multiple_files", paths="/tmp/t-a.txt")


def test_search_files(env: Env, box: Sandbox) -> None:
    env.sh(
        box,
        "mkdir -p /tmp/t-s/x/node_modules /tmp/t-s/y && touch /tmp/t-s/x/Main.PY "
        "/tmp/t-s/y/other.py /tmp/t-s/x/node_modules/dep.py /tmp/t-s/readme.md",
    )
    found = env.text(box, "search_files", path="/tmp/t-s", pattern="*.py")
    assert found.splitlines() == [
        "/tmp/t-s/x/Main.PY",
        "/tmp/t-s/x/node_modules/dep.py",
        "/tmp/t-s/y/other.py",
    ]
    found = env.text(
        box, "search_files", path="/tmp/t-s", pattern="*.py", excludePatterns="node_modules,y"
    )
    assert found == "/tmp/t-s/x/Main.PY"
    assert env.text(box, "search_files", path="/tmp/t-s", pattern="READ") == "/tmp/t-s/readme.md"
    assert env.call(box, "search_files", path="/tmp/t-s", pattern="zzz") == {
        "content": [{"type": "text", "text": ""}],
        "isError": False,
    }
    assert "ENOENT" in env.error(box, "search_files", path="/tmp/t-none", pattern="x")


def test_edit_file_dry_run_and_errors(env: Env, box: Sandbox) -> None:
    env.text(box, "write_file", path="/tmp/t-edit.txt", content="alpha\nbeta\ngamma\n")
    edits = [{"oldText": "beta", "newText": "BETA"}, {"oldText": "gamma", "newText": "GAMMA"}]
    diff = env.text(box, "edit_file", path="/tmp/t-edit.txt", edits=edits, dryRun=True)
    assert "-beta" in diff and "+BETA" in diff and "+GAMMA" in diff
    assert env.text(box, "read_file", path="/tmp/t-edit.txt") == "alpha\nbeta\ngamma\n"
    env.text(box, "edit_file", path="/tmp/t-edit.txt", edits=edits, dryRun=False)
    assert env.text(box, "read_file", path="/tmp/t-edit.txt") == "alpha\nBETA\nGAMMA\n"
    text = env.error(
        box, "edit_file", path="/tmp/t-edit.txt", edits=[{"oldText": "zzz", "newText": "y"}]
    )
    assert text == "Could not find exact match for edit:\nzzz"
    assert env.text(box, "read_file", path="/tmp/t-edit.txt") == "alpha\nBETA\nGAMMA\n"
    assert "edits" in env.error(box, "edit_file", path="/tmp/t-edit.txt", edits="x")


def _changes(env: Env, box: Sandbox, path: str) -> list[tuple[str, str, str]]:
    events = json.loads(env.text(box, "get_file_change", path=path))
    return [(e["eventType"], e["path"].removeprefix(path), e["pathType"]) for e in events]


def test_get_file_change_reports_what_inotify_reports(env: Env, box: Sandbox) -> None:
    w = "/tmp/t-watch"
    env.sh(box, f"mkdir -p {w} && echo 1 > {w}/keep && echo 1 > {w}/gone && echo 1 > {w}/old")
    assert _changes(env, box, w) == []  # the first call starts watching
    assert _changes(env, box, w) == []
    env.sh(box, f"echo 22 > {w}/keep && echo 3 >> {w}/keep && rm {w}/gone && touch {w}/empty")
    assert _changes(env, box, w) == [
        ("modify", "/keep", "file"),  # overwrite and append: one modify (no repeats)
        ("delete", "/gone", "file"),
        ("create", "/empty", "file"),  # nothing written into it: no modify
    ]
    env.sh(box, f"mkdir -p {w}/d/e && echo n > {w}/d/e/new")
    assert _changes(env, box, w) == [
        ("create", "/d", "directory"),
        ("create", "/d/e", "directory"),  # made before d's own watch: found by a scan
        ("create", "/d/e/new", "file"),
        ("modify", "/d/e/new", "file"),
    ]
    env.sh(box, f"mv {w}/old {w}/d/renamed")
    assert _changes(env, box, w) == [("delete", "/old", "file"), ("create", "/d/renamed", "file")]
    env.sh(box, f"echo again > {w}/d/e/new && rm -r {w}/d/e")
    assert _changes(env, box, w) == [
        ("modify", "/d/e/new", "file"),
        ("delete", "/d/e/new", "file"),
        ("delete", "/d/e", "directory"),
    ]
    # A directory moved out of the tree is a delete; what happens to it later is not reported.
    env.sh(box, f"rm -rf /tmp/t-away && mv {w}/d /tmp/t-away && echo x > /tmp/t-away/f")
    assert _changes(env, box, w) == [("delete", "/d", "directory")]
    env.sh(box, f"mv /tmp/t-away {w}/back")
    assert _changes(env, box, w) == [("create", "/back", "directory")]  # not its contents
    env.sh(box, f"echo y > {w}/back/f2")  # but it is watched from then on
    assert _changes(env, box, w) == [("create", "/back/f2", "file"), ("modify", "/back/f2", "file")]


def test_get_file_change_reports_the_tools_own_writes_as_writes(env: Env, box: Sandbox) -> None:
    w = "/tmp/t-watch-tools"
    env.sh(box, f"mkdir -p {w}")
    assert _changes(env, box, w) == []
    env.text(box, "write_file", path=f"{w}/a.txt", content="one", mode="overwrite")
    assert _changes(env, box, w) == [("create", "/a.txt", "file"), ("modify", "/a.txt", "file")]
    env.text(box, "write_file", path=f"{w}/a.txt", content="two", mode="overwrite")
    env.text(box, "write_file", path=f"{w}/a.txt", content="three", mode="append")
    env.text(box, "edit_file", path=f"{w}/a.txt", edits=[{"oldText": "two", "newText": "2"}])
    assert _changes(env, box, w) == [("modify", "/a.txt", "file")]
    env.text(box, "create_directory", path=f"{w}/sub")
    assert _changes(env, box, w) == [("create", "/sub", "directory")]
    env.text(box, "move_file", source=f"{w}/a.txt", destination=f"{w}/sub/b.txt")
    assert _changes(env, box, w) == [("delete", "/a.txt", "file"), ("create", "/sub/b.txt", "file")]
    # A file is watched through its directory: replacing it atomically is still a modify.
    target = f"{w}/sub/b.txt"
    assert _changes(env, box, target) == []
    env.text(box, "write_file", path=target, content="new", mode="overwrite")
    env.text(box, "write_file", path=f"{w}/sub/other.txt", content="not watched")
    assert _changes(env, box, target) == [("modify", "", "file")]
    assert _changes(env, box, w) == [
        ("modify", "/sub/b.txt", "file"),
        ("create", "/sub/other.txt", "file"),
        ("modify", "/sub/other.txt", "file"),
    ]
    # The watched directory goes: its last events, then an error.
    env.sh(box, f"rm -r {w}")
    changes = _changes(env, box, w)
    # rm deletes the two files in its directory's listing order (the filesystem's choice).
    files = [("delete", "/sub/b.txt", "file"), ("delete", "/sub/other.txt", "file")]
    assert sorted(changes[:2]) == files
    assert changes[2:] == [("delete", "/sub", "directory"), ("delete", "", "directory")]
    assert "ENOENT" in env.error(box, "get_file_change", path=w)


# ---- protocol ----


def test_unknown_tool_and_malformed_args(env: Env, box: Sandbox) -> None:
    assert env.call(box, "tap", x=1) == {
        "content": [{"type": "text", "text": "tool not found: tap"}],
        "isError": True,
    }
    assert env.error(box, "write_file", path=5, content=None).startswith("Invalid arguments")
    answer = env.run(box.call_tool("shell", ["not", "a", "dict"], timeout_s=5))  # type: ignore[arg-type]
    assert answer["isError"] is True
    assert env.sh(box, "echo alive") == "alive\n"


def test_fifty_concurrent_calls_on_one_session(env: Env, box: Sandbox) -> None:
    async def burst() -> list[dict[str, Any]]:
        calls = [
            box.call_tool(
                "shell",
                {"command": f"sleep 0.{i % 5}; echo {i}", "timeout_ms": 10000},
                timeout_s=20,
            )
            for i in range(50)
        ]
        return await asyncio.gather(*calls)

    started = time.monotonic()
    answers = env.run(burst())
    assert [a["content"][0]["text"] for a in answers] == [f"{i}\n" for i in range(50)]
    assert time.monotonic() - started < 10


def test_outer_timeout_never_hangs(env: Env, box: Sandbox) -> None:
    started = time.monotonic()
    answer = env.run(
        box.call_tool("shell", {"command": "sleep 3", "timeout_ms": 10000}, timeout_s=0.3)
    )
    assert (
        answer["isError"] is True and "did not answer within 0.3 s" in answer["content"][0]["text"]
    )
    assert time.monotonic() - started < 1.5
    assert env.sh(box, "echo fine") == "fine\n"
