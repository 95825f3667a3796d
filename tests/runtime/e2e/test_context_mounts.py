"""Direct context mounts (0.22's BetaContextMount, ``PersistenceDataList`` entries of
``Type`` ``mount``): the local runtime refuses them whole, at create and at BindContexts,
with ``Unsupported.ContextMount``; nothing is created or bound (a mount taken as a sync
would break its promises: writes kept at once and shared, READ_ONLY, SourcePath). Through
the wire, our SDK (sync and async) and the official client 0.22.3."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentbay import (
    AgentBay,
    AsyncAgentBay,
    BetaContextMount,
    BetaContextMountAccessMode,
    Config,
    ContextSync,
    CreateSessionParams,
)
from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.api import Api, RpcError
from tests.runtime.e2e.conftest import API_KEY
from tests.support.official import official_python, run_driver

DRIVER = Path(__file__).with_name("official_mount_driver.py")
REFUSAL = "Direct context mounts (BetaContextMount"


def mount_entry(context_id: str, path: str, access: str = "readWrite") -> dict[str, object]:
    """A mount as 0.22.3 sends it."""
    config = {"AccessMode": access, "StorageMode": "standard", "SourcePath": ""}
    return {"ContextId": context_id, "Path": path, "Type": "mount", "MountConfig": config}


@pytest.fixture
def context_id(api: Api) -> Iterator[str]:
    made = api.call("GetContext", Name=f"mount-{uuid.uuid4().hex[:8]}", AllowCreate=True)
    yield str(made["Id"])
    api.call("DeleteContext", Id=made["Id"])


def test_create_with_a_mount_is_refused_and_starts_nothing(api: Api, context_id: str) -> None:
    before = api.call("ListSession")
    with pytest.raises(RpcError) as refused:
        api.create_session(PersistenceDataList=[mount_entry(context_id, "/mnt/data")])
    assert refused.value.code == "Unsupported.ContextMount"
    message = refused.value.answer["Message"]
    assert REFUSAL in message and context_id in message
    assert api.call("ListSession") == before


def test_bind_with_a_mount_binds_nothing(api: Api, session_id: str, context_id: str) -> None:
    with pytest.raises(RpcError) as refused:
        api.call(
            "BindContexts",
            SessionId=session_id,
            PersistenceDataList=[
                {"ContextId": context_id, "Path": "/root/synced"},
                mount_entry(context_id, "/mnt/ro", "readOnly"),
            ],
        )
    assert refused.value.code == "Unsupported.ContextMount"
    assert api.call("DescribeSessionContexts", SessionId=session_id) == []


def test_our_sdk_reports_the_refusal(bay: AgentBay, context_id: str) -> None:
    mount = BetaContextMount(context_id, "/mnt/data")
    created = bay.create(CreateSessionParams(beta_context_mounts=[mount]))
    assert not created.success and REFUSAL in created.error_message
    session = bay.create().session
    assert session is not None
    try:
        read_only = BetaContextMountAccessMode.READ_ONLY
        bound = session.context.bind(
            ContextSync.new(context_id, "/tmp/synced"),
            BetaContextMount.new(context_id, "/mnt/ro", read_only),
        )
        assert not bound.success and "Unsupported.ContextMount" in bound.error_message
        assert session.context.list_bindings().bindings == []
    finally:
        session.delete()


def test_our_async_sdk_reports_the_refusal(runtime: EmbeddedRuntime, context_id: str) -> None:
    async def run() -> tuple[bool, str]:
        cfg = Config(endpoint=runtime.endpoint, timeout_ms=60000)
        async with AsyncAgentBay(api_key=API_KEY, cfg=cfg) as bay:
            mount = BetaContextMount(context_id, "/mnt/data")
            created = await bay.create(CreateSessionParams(beta_context_mounts=[mount]))
            return created.success, created.error_message

    success, message = asyncio.run(run())
    assert not success and REFUSAL in message


def test_official_0223_client_gets_the_refusal(runtime: EmbeddedRuntime, tmp_path: Path) -> None:
    got = run_driver(official_python("0.22.3"), DRIVER, runtime.endpoint, API_KEY, tmp_path, 300)
    assert got["create_success"] is False and REFUSAL in got["create_error"]
    assert got["sessions_added"] == 0
    assert got["bind_success"] is False and "Unsupported.ContextMount" in got["bind_error"]
    assert got["bindings"] == []
