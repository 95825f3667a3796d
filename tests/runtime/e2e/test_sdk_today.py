"""Our SDK's 0.22 session methods end to end, sync and async: get_status, keep_alive,
beta_pause/beta_resume (a paused session's commands fail, resume continues it)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from agentbay import AgentBay, AsyncAgentBay, Config
from agentbay.context_sync import ContextSync
from agentbay.session_params import CreateSessionParams, LifecyclePolicy
from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.conftest import API_KEY


def test_status_keep_alive_pause_resume(bay: AgentBay) -> None:
    labels = {"sdk-today": uuid.uuid4().hex}
    session = bay.create(CreateSessionParams(labels=labels)).session
    sid = session.session_id
    assert session.get_status().status == "RUNNING"
    assert sid in bay.list(status="RUNNING", image_id="linux_latest").session_ids
    assert sid not in bay.list(image_id="code_latest").session_ids
    wrong = bay.list(status="running")
    assert wrong.success is False and wrong.error_message.startswith("Invalid status 'running'")
    assert session.keep_alive().success is True
    session.command.execute_command("echo kept > /tmp/kept", 5000)
    paused = session.beta_pause(timeout=60, poll_interval=0.1)
    assert (paused.success, paused.status, paused.error_message) == (True, "PAUSED", "")
    assert sid in bay.list(status="PAUSED").session_ids
    assert session.get_status().status == "PAUSED"
    refused = session.command.execute_command("echo no", 5000)
    assert refused.success is False and "paused" in refused.error_message
    resumed = session.beta_resume(timeout=60, poll_interval=0.1)
    assert (resumed.success, resumed.status) == (True, "RUNNING")
    assert session.command.execute_command("cat /tmp/kept", 5000).output == "kept\n"
    assert session.delete().success
    gone = session.get_status()
    assert (gone.success, gone.status) == (True, "FINISH")  # as the cloud after a delete
    assert bay.get(sid).success is False
    assert bay.list(labels=labels, status="DELETED").session_ids == [sid]
    assert session.keep_alive().success is False


def test_async_status_pause_resume(runtime: EmbeddedRuntime) -> None:
    async def main() -> None:
        cfg = Config(endpoint=runtime.endpoint, timeout_ms=60000)
        async with AsyncAgentBay(api_key=API_KEY, cfg=cfg) as bay:
            session = (await bay.create()).session
            assert (await session.get_status()).status == "RUNNING"
            assert (await session.keep_alive()).success
            assert (await session.beta_pause(timeout=60, poll_interval=0.1)).status == "PAUSED"
            resumed = await session.beta_resume(timeout=60, poll_interval=0.1)
            assert resumed.success and resumed.status == "RUNNING"
            await session.delete()
            assert (await session.get_status()).status == "FINISH"

    asyncio.run(main())


def test_lifecycle_policy_at_create(bay: AgentBay, runtime: EmbeddedRuntime) -> None:
    with pytest.raises(ValueError, match="cannot be set when manual_release=True"):
        LifecyclePolicy(manual_release=True, max_runtime=3)
    with pytest.raises(ValueError, match="must be a positive integer"):
        LifecyclePolicy(idle_release_timeout=0)
    with pytest.raises(ValueError, match="Cannot set both"):
        CreateSessionParams(idle_release_timeout=5, lifecycle_policy=LifecyclePolicy())
    idle = bay.create(CreateSessionParams(idle_release_timeout=2)).session
    manual = bay.create(CreateSessionParams(lifecycle_policy=LifecyclePolicy(manual_release=True)))
    deadline = time.monotonic() + 60
    while idle.get_status().status != "FINISH":  # released by the runtime once idle for 2 s
        assert time.monotonic() < deadline, "the idle session was not released"
        time.sleep(0.2)
    assert manual.session.get_status().status == "RUNNING"
    assert manual.session.delete().success


def test_env_metrics_and_command_options(bay: AgentBay) -> None:
    with bay.create().session as session:
        assert session.env.set({"TODAY_VAR": "set by the SDK"}).success
        assert session.env.get(["TODAY_VAR"]).envs == {"TODAY_VAR": "set by the SDK"}
        assert "TODAY_VAR" in session.env.get().envs
        with pytest.raises(ValueError, match="envs must not be empty"):
            session.env.set({})
        assert session.command.execute_command("echo $TODAY_VAR", 5000).output == "set by the SDK\n"
        placed = session.command.run("pwd; echo $ONCE", 5000, cwd="/usr", envs={"ONCE": "yes"})
        assert placed.output == "/usr\nyes\n"
        assert session.command.exec("echo ${ONCE-unset}", 5000).output == "unset\n"
        with pytest.raises(ValueError, match="Invalid environment variables"):
            session.command.execute_command("true", envs={"N": 1})  # type: ignore[dict-item]
        metrics = session.get_metrics()
        assert metrics.success and metrics.metrics is not None
        assert metrics.metrics.mem_total > 0 and metrics.metrics.cpu_count > 0
        assert metrics.raw["mem_used"] == metrics.metrics.mem_used
        assert session.fs is session.filesystem is session.files is session.file_system


def test_async_env_and_metrics(runtime: EmbeddedRuntime) -> None:
    async def main() -> tuple[str, int]:
        cfg = Config(endpoint=runtime.endpoint, timeout_ms=60000)
        async with AsyncAgentBay(api_key=API_KEY, cfg=cfg) as bay:
            session = (await bay.create()).session
            async with session:
                await session.env.set({"A": "1"})
                out = await session.command.execute_command("echo $A$B", 5000, envs={"B": "2"})
                metrics = await session.get_metrics()
                assert metrics.metrics is not None
                return out.output, metrics.metrics.mem_total

    output, memory = asyncio.run(main())
    assert output == "12\n" and memory > 0


def test_contexts_bound_listed_and_cleared(bay: AgentBay) -> None:
    context = bay.context.get(f"today-{uuid.uuid4().hex[:8]}", create=True).context
    assert context is not None
    with bay.create().session as session:
        session.file_system.write_file("/tmp/seed.txt", "seed")
        bound = session.context.bind(ContextSync(context.id, "/tmp/bound"))
        assert bound.success, bound.error_message
        listed = session.context.list_bindings()
        assert listed.success
        assert [(b.context_id, b.path) for b in listed.bindings if b.context_id == context.id] == [
            (context.id, "/tmp/bound")
        ]
        assert session.fs.write("/tmp/bound/one.txt", "1").success
        assert asyncio.run(session.context.sync()).success
        files = bay.context.list_files(context.id, "/tmp/bound")  # as the cloud keeps it
        assert [entry.file_path for entry in files.entries] == ["/tmp/bound/one.txt"]
        assert session.file_system.rm("/tmp/seed.txt").success
        assert session.fs.read("/tmp/seed.txt").success is False
        refused = session.file_system.delete("/tmp")
        assert refused.success is False and refused.error_message
        assert session.context.bind().error_message == "No contexts provided"
    cleared = bay.context.clear(context.id, timeout=30, poll_interval=0.1)
    assert (cleared.success, cleared.status, cleared.context_id) == (True, "available", context.id)
    assert bay.context.list_files(context.id, "/").entries == []
    assert bay.context.get_clear_status(context.id).status == "available"
    unknown = bay.context.get_clear_status("ctx-nosuchcontext")
    assert unknown.success is False and "NotFound" in unknown.error_message
    bay.context.delete(context)


def test_async_context_bind_and_clear(runtime: EmbeddedRuntime) -> None:
    async def main() -> tuple[list[str], str | None]:
        cfg = Config(endpoint=runtime.endpoint, timeout_ms=60000)
        async with AsyncAgentBay(api_key=API_KEY, cfg=cfg) as bay:
            context = (await bay.context.get(f"today-{uuid.uuid4().hex[:8]}", create=True)).context
            assert context is not None
            session = (await bay.create()).session
            async with session:
                assert (await session.context.bind(ContextSync(context.id, "/tmp/b"))).success
                paths = [b.path for b in (await session.context.list_bindings()).bindings]
                assert (await session.fs.write("/tmp/b/x", "x")).success
                assert (await session.file_system.delete("/tmp/b/x")).success
            cleared = await bay.context.clear(context.id, poll_interval=0.1)
            await bay.context.delete(context)
            return paths, cleared.status

    paths, status = asyncio.run(main())
    assert "/tmp/b" in paths and status == "available"


def test_client_level_pause_and_the_transfer_context_path(bay: AgentBay) -> None:
    with bay.create().session as session:
        assert bay.beta_pause(session, timeout=60, poll_interval=0.1).status == "PAUSED"
        assert bay.beta_resume(session, timeout=60, poll_interval=0.1).status == "RUNNING"
        assert session.file_system.get_file_transfer_context_path() == "/tmp/file-transfer"
