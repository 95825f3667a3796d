"""Our SDK's 0.22 methods send what 0.22.3 sends: the same steps as the capture driver
(capture_driver.py), run with our SDK against the same recording server (record.py), give
the requests of sdk-0.22.3-new-actions.jsonl field for field.

Left out of the comparison, on purpose: ``SdkStats`` and ``LoginRegionId`` (0.22.3's
telemetry and its default cloud region, which our SDK does not send), ``VpcResource`` (our
create sends 0.9's ``False``; 0.22.3 leaves it out) and session ids (each run's own). The
actions our SDK sends differently by design are not listed: ``ReleaseMcpSession`` for
delete (0.9's action) and ``CallMcpTool`` without ``AutoGenSession`` (0.9's text shape).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from agentbay import (
    AgentBay,
    BetaContextMount,
    BetaContextMountAccessMode,
    BetaContextMountStrategy,
    Config,
    ContextSync,
    CreateSessionParams,
    LifecyclePolicy,
)
from tests.sdk.contract.record import KEY, Recorder
from tests.sdk.contract.wire import load_captures

#: What 0.22.3 sends that our SDK leaves out (see the module docstring).
NOT_COMPARED = {"SdkStats", "LoginRegionId", "VpcResource"}
#: The actions compared, each sent by the same public method in both SDKs.
ACTIONS = (
    "ListSession",
    "GetSessionDetail",
    "RefreshSessionIdleTime",
    "PauseSessionAsync",
    "ResumeSessionAsync",
    "GetAndLoadInternalContext",
    "ClearContext",
    "GetContext",
    "DescribeSessionContexts",
    "BindContexts",
    "CreateNetwork",
    "DescribeNetwork",
    "CreateMcpSession",
)
_COMMON = {"Action", "Format", "Version", "Timestamp", "SignatureNonce"}


def requests(records: list[dict[str, Any]], action: str) -> set[tuple[tuple[str, str], ...]]:
    """The distinct requests of ``action``: form and own query fields, ids normalised."""
    found = set()
    for record in records:
        if record["action"] != action:
            continue
        fields = {
            **record["form"],
            **{k: v for k, v in record["query"].items() if k not in _COMMON},
        }
        normal = {
            name: "<session>" if name == "SessionId" else value
            for name, value in fields.items()
            if name not in NOT_COMPARED
        }
        found.add(tuple(sorted(normal.items())))
    return found


@pytest.fixture(scope="module")
def ours() -> Iterator[list[dict[str, Any]]]:
    """The requests of our SDK going through the capture driver's steps."""
    recorder = Recorder()
    server = ThreadingHTTPServer(("127.0.0.1", 0), recorder.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with AgentBay(api_key=KEY, cfg=Config(endpoint=endpoint, timeout_ms=10000)) as bay:
            created = bay.create(CreateSessionParams(labels={"suite": "capture"}))
            session = created.session
            assert session is not None, created.error_message
            bay.list(status="RUNNING", image_id="linux_latest")
            bay.list(status="RUNNING")
            session.get_status()
            session.keep_alive()
            session.beta_pause(timeout=10, poll_interval=0.05)
            session.beta_resume(timeout=10, poll_interval=0.05)
            session.file_system.get_file_transfer_context_path()
            bay.context.clear_async("ctx-1")
            bay.context.get_clear_status("ctx-1")
            session.context.list_bindings()
            session.context.bind(ContextSync("ctx-1", "/tmp/bound"), wait_for_completion=False)
            session.context.bind(
                BetaContextMount(context_id="ctx-1", path="/mnt/data"),
                ContextSync.new("ctx-2", "/tmp/synced"),
                BetaContextMount(
                    context_id="ctx-3",
                    path="/mnt/ro",
                    access_mode=BetaContextMountAccessMode.READ_ONLY,
                    strategy=BetaContextMountStrategy.PERFORMANCE,
                    source_path="sub/dir",
                ),
                wait_for_completion=False,
            )
            bay.beta_network.get_network_bind_token()
            bay.beta_network.describe("net-rec-1")
            policy = LifecyclePolicy(idle_release_timeout=7, max_runtime=60)
            bay.create(CreateSessionParams(lifecycle_policy=policy))
            bay.create(CreateSessionParams(lifecycle_policy=LifecyclePolicy(manual_release=True)))
            bay.create(CreateSessionParams(idle_release_timeout=90))
            bay.create(CreateSessionParams(beta_network_id="net-rec-1"))
            mounts = [
                BetaContextMount.new("ctx-1", "/mnt/data"),
                BetaContextMount.new(
                    "ctx-3", "/mnt/ro", BetaContextMountAccessMode.READ_ONLY, source_path="sub"
                ),
            ]
            bay.create(CreateSessionParams(beta_context_mounts=mounts))
            bay.list(status="DELETED")
    finally:
        server.shutdown()
        server.server_close()
    yield recorder.records


@pytest.mark.parametrize("action", ACTIONS)
def test_our_sdk_sends_what_022_sends(action: str, ours: list[dict[str, Any]]) -> None:
    theirs = load_captures("sdk-0.22.3-new-actions.jsonl")
    expected = requests(theirs, action)
    assert expected, f"the 0.22.3 capture has no {action}"
    assert requests(ours, action) == expected
