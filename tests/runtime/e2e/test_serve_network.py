"""``agentbay local serve`` network flags, as users run them: --network none, bad ports."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.runtime.e2e.api import Api
from tests.support.spawn import free_port, serve_argv, stop_serve, wait_until_listening


def test_network_none_gives_sessions_loopback_only(tmp_path: Path) -> None:
    port = free_port()
    argv = serve_argv(tmp_path, port, "k1", "--network", "none", "--pool-size", "1")
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until_listening(process, port)
        api = Api(f"http://127.0.0.1:{port}", "k1")
        session_id = api.create_session()
        interfaces = api.text(session_id, "shell", command="ls /sys/class/net", timeout_ms=5000)
        assert interfaces.split() == ["lo"]
        routes = api.text(session_id, "shell", command="cat /proc/net/route", timeout_ms=5000)
        assert len(routes.splitlines()) == 1  # the header only: no way out
    finally:
        stop_serve(process)


def test_bad_host_port_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    argv = serve_argv(tmp_path, free_port(), "k1", "--allow-host-port", "70000")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--allow-host-port: '70000' is not a port (1-65535)" in done.stderr
    assert "Traceback" not in done.stderr
