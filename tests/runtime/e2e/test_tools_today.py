"""The tools 0.22 added, in a real session over HTTP: delete_file, set_env/get_env (seen by
later commands), get_metrics (measured inside the session's namespaces)."""

from __future__ import annotations

import json

from tests.runtime.e2e.api import Api


def test_delete_file(api: Api, session_id: str) -> None:
    api.text(
        session_id, "shell", command="echo x > /tmp/gone && mkdir -p /tmp/dir", timeout_ms=5000
    )
    assert api.text(session_id, "delete_file", path="/tmp/gone").startswith("Successfully")
    exists = api.text(session_id, "shell", command="test -e /tmp/gone; echo $?", timeout_ms=5000)
    assert exists == "1\n"
    missing = api.tool(session_id, "delete_file", path="/tmp/gone")
    assert missing["isError"] is True and "ENOENT" in missing["content"][0]["text"]
    directory = api.tool(session_id, "delete_file", path="/tmp/dir")
    assert directory["isError"] is True and "EISDIR" in directory["content"][0]["text"]


def test_env_is_seen_by_later_commands(api: Api, session_id: str) -> None:
    envs = [{"key": "GREETING", "value": "hello world"}, {"key": "EMPTY", "value": ""}]
    api.text(session_id, "set_env", envs=envs)
    seen = api.text(session_id, "shell", command='echo "$GREETING|${EMPTY-unset}"', timeout_ms=5000)
    assert seen == "hello world|\n"
    code = api.text(
        session_id, "run_code", code="import os; print(os.environ['GREETING'])", language="python"
    )
    assert code == "hello world\n"
    assert json.loads(api.text(session_id, "get_env", keys=["GREETING", "NOPE"])) == {
        "GREETING": "hello world"
    }
    assert json.loads(api.text(session_id, "get_env"))["GREETING"] == "hello world"
    bad = api.tool(session_id, "set_env", envs=[{"key": "1BAD", "value": "x"}])
    assert bad["isError"] is True
    assert json.loads(api.text(session_id, "get_env", keys=["1BAD"])) == {}


def test_metrics_in_the_cloud_shape(api: Api, session_id: str) -> None:
    metrics = json.loads(api.text(session_id, "get_metrics"))
    assert set(metrics) == {
        "cpu_count",
        "cpu_used_pct",
        "mem_total",
        "mem_used",
        "disk_total",
        "disk_used",
        "rx_rate_kbyte_per_s",
        "tx_rate_kbyte_per_s",
        "rx_used_kbyte",
        "tx_used_kbyte",
        "timestamp",
    }
    assert metrics["cpu_count"] >= 1 and 0 <= metrics["cpu_used_pct"] <= 100
    assert 0 < metrics["mem_used"] < metrics["mem_total"]
    assert 0 < metrics["disk_used"] <= metrics["disk_total"]
    # A process spinning in the session shows as CPU use.
    api.text(
        session_id,
        "shell",
        command="nohup timeout 10 sh -c 'while :; do :; done' > /dev/null 2>&1 &",
        timeout_ms=5000,
    )
    busy = json.loads(api.text(session_id, "get_metrics"))
    assert busy["cpu_used_pct"] > metrics["cpu_used_pct"]


def test_shell_as_0_13_reads_it(api: Api, session_id: str) -> None:
    """0.13+ send AutoGenSession with every CallMcpTool and read shell's text as
    {stdout, stderr, exit_code}; 0.9.3 (without it) keeps getting the output as text."""
    command = "echo out; echo err >&2; exit 3"
    args = {"command": command, "timeout_ms": 5000}
    today = api.call(
        "CallMcpTool", SessionId=session_id, Name="shell", Args=args, AutoGenSession=False
    )
    assert today["isError"] is True
    assert json.loads(today["content"][0]["text"]) == {
        "stdout": "out\n",
        "stderr": "err\n",
        "exit_code": 3,
    }
    ok = api.call(
        "CallMcpTool",
        SessionId=session_id,
        Name="shell",
        Args={**args, "command": "pwd; echo $ONLY", "cwd": "/usr", "envs": {"ONLY": "x"}},
        AutoGenSession=False,
    )
    assert json.loads(ok["content"][0]["text"]) == {
        "stdout": "/usr\nx\n",
        "stderr": "",
        "exit_code": 0,
    }
    missing = api.tool(session_id, "shell", command="true", cwd="/no/such/dir", timeout_ms=5000)
    assert missing["isError"] is True and "No such file" in missing["content"][0]["text"]
    assert api.text(session_id, "shell", command="echo plain", timeout_ms=5000) == "plain\n"
