"""Contexts never lose data silently: every failure the SDK user can meet is reported, with why.

Driven through this project's SDK against the real runtime (real sessions, real HTTP).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from agentbay import AgentBay
from agentbay.context import Context
from agentbay.context_sync import ContextSync
from agentbay.session_params import CreateSessionParams
from tests.runtime.e2e.api import Api, RpcError


def _name() -> str:
    return f"safety-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def context(bay: AgentBay) -> Iterator[Context]:
    made = bay.context.create(_name())
    assert made.success, made.error_message
    yield made.context  # type: ignore[misc]
    bay.context.delete(made.context, force=True)  # type: ignore[arg-type]


def test_a_context_synced_by_a_running_session_is_not_deleted_unless_forced(
    bay: AgentBay, context: Context
) -> None:
    made = bay.create(CreateSessionParams(context_syncs=[ContextSync(context.id, "/root/keep")]))
    assert made.success, made.error_message
    session = made.session
    try:
        refused = bay.context.delete(context)
        assert refused.success is False
        assert session.session_id in refused.error_message
        assert "InvalidContext.InUse" in refused.error_message
        assert "force=True" in refused.error_message
        assert bay.context.get(context.name).success  # still there
    finally:
        assert session.delete().success
    # Once the session is gone nothing depends on it: an ordinary delete works.
    assert bay.context.delete(context).success


def test_force_deletes_a_context_in_use(bay: AgentBay, context: Context) -> None:
    made = bay.create(CreateSessionParams(context_syncs=[ContextSync(context.id, "/root/keep")]))
    assert made.success, made.error_message
    try:
        assert bay.context.delete(context, force=True).success
        assert not bay.context.get(context.name).success
    finally:
        made.session.delete()


def test_a_missing_context_fails_sync_and_delete_with_the_reason(bay: AgentBay) -> None:
    missing = "ctx-" + uuid.uuid4().hex[:16]
    made = bay.create(CreateSessionParams(context_syncs=[ContextSync(missing, "/root/gone")]))
    # As with the official client: the session is made; what depends on the context says why.
    assert made.success, made.error_message
    session = made.session
    try:
        result = asyncio.run(session.context.sync())
        assert result.success is False
        assert f"context {missing} (/root/gone) failed: The context {missing} does not exist." in (
            result.error_message
        ), result.error_message
        kept = session.delete(sync_context=True)
        assert kept.success is False
        assert f"Session {session.session_id} was not deleted" in kept.error_message
        assert f"The context {missing} does not exist." in kept.error_message
        assert session.command.execute_command("true").success  # still running: nothing lost
    finally:
        assert session.delete().success


def test_a_failed_upload_is_reported_with_its_reason(bay: AgentBay, context: Context) -> None:
    # The synced path is a file the session cannot read: the upload fails, and says why.
    made = bay.create(CreateSessionParams(context_syncs=[ContextSync(context.id, "/root/data")]))
    assert made.success, made.error_message
    session = made.session
    try:
        assert session.command.execute_command(
            "mkdir -p /root/data && echo x > /root/data/f && chmod 000 /root/data", 5000
        ).success
        result = asyncio.run(session.context.sync())
        if result.success:
            pytest.skip("the runtime reads a mode-000 folder here (it runs with CAP_DAC_OVERRIDE)")
        assert "failed:" in result.error_message and context.id in result.error_message
    finally:
        session.delete()


def test_list_files_of_an_unknown_context_is_a_result(bay: AgentBay) -> None:
    listed = bay.context.list_files("ctx-" + uuid.uuid4().hex[:16], "/")
    assert listed.success is False
    assert "InvalidContext.NotFound" in listed.error_message
    url = bay.context.get_file_upload_url("ctx-nope", "/a")
    assert url.success is False and "InvalidContext.NotFound" in url.error_message
    gone = bay.context.delete_file("ctx-nope", "/a")
    assert gone.success is False and "InvalidContext.NotFound" in gone.error_message
    renamed = bay.context.update(Context(id="ctx-nope", name="x"))
    assert renamed.success is False and "InvalidContext.NotFound" in renamed.error_message


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("a\x00b", "must not contain '\\x00'"),
        ("a/b", "must not contain '/'"),
        ("../up", "must not contain '/'"),
        ("..", "must not be '..'"),
        ("x" * 256, "is 256 characters long; at most 255"),
        ("tab\there", "must not contain '\\t'"),
    ],
)
def test_context_names_are_checked_like_the_clouds(
    bay: AgentBay, api: Api, name: str, why: str
) -> None:
    made = bay.context.create(name)
    assert made.success is False
    assert why in made.error_message, made.error_message
    good = bay.context.create(_name())
    try:
        with pytest.raises(RpcError) as caught:
            api.call("ModifyContext", Id=good.context_id, Name=name)
        assert why in str(caught.value)
    finally:
        bay.context.delete(good.context)  # type: ignore[arg-type]
