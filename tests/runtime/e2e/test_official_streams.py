"""The official client 0.22.3, unchanged, over the session WebSocket of `agentbay local serve`:
terminals, streaming run_code, pushed watch_directory, and the handshake's refusals
(driver: official_streams_driver.py)."""

from __future__ import annotations

from pathlib import Path

from tests.support.official import official_python, run_driver
from tests.support.spawn import serving

DRIVER = Path(__file__).with_name("official_streams_driver.py")
KEY = "akm-official-streams"


def test_official_client_streams(tmp_path: Path) -> None:
    python = official_python("0.22.3")
    with serving(tmp_path / "serve", KEY) as (endpoint, _process):
        got = run_driver(python, DRIVER, endpoint, KEY, tmp_path, timeout_s=300)
    assert got["has_ws_url"]
    # Its handles made late (the caller held up after each answer): nothing is lost.
    assert got["pty_late_handle_output"] and got["pty_late_handle_exit"] == 0, got
    assert got["pty_echo"] and got["pty_size"], got
    assert got["pty_winch"], got
    assert got["pty_python_repl"], got
    assert got["pty_listed"]
    assert got["pty_exit_code"] == 7
    assert got["pty_cwd_command"]
    assert got["pty_killed_gone"]
    assert got["pty_backlog"]
    assert got["code_success"]
    # In the order written (print writes its text and its newline apart: chunks are joined).
    merged: list[list[str]] = []
    for kind, text in got["code_chunks"]:
        if merged and merged[-1][0] == kind:
            merged[-1][1] += text
        else:
            merged.append([kind, text])
    assert merged == [["out", "first\n"], ["err", "oops\n"], ["out", "last\n"]]
    assert got["code_first_before_end"]
    assert got["code_failed"] == [False, True]
    assert got["code_timeout"] == [False, True]
    assert got["code_kernel_state"] == [True, ["42"]]  # the session's kernel: state kept
    assert ["create", "/tmp/watched/pushed.txt"] in got["watch_pushed"], got["watch_pushed"]
    assert got["handshakes"] == ["401", "401", "403", "open"]
