"""The async SDK (AsyncAgentBay, AsyncSession, async managers) end to end."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from agentbay import AsyncAgentBay, Config
from agentbay.context_sync import ContextSync, SyncPolicy
from agentbay.exceptions import SessionError
from agentbay.session_params import CreateSessionParams
from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.conftest import API_KEY


def client(runtime: EmbeddedRuntime) -> AsyncAgentBay:
    return AsyncAgentBay(api_key=API_KEY, cfg=Config(endpoint=runtime.endpoint, timeout_ms=60000))


def test_async_session_lifecycle(runtime: EmbeddedRuntime) -> None:
    async def main() -> None:
        async with client(runtime) as bay:
            created = await bay.create(CreateSessionParams(labels={"sdk": "async-life"}))
            assert created.success, created.error_message
            async with created.session as session:
                listed = await bay.list(labels={"sdk": "async-life"})
                assert listed.session_ids == [session.session_id]
                assert (await bay.get(session.session_id)).success
                assert (await session.set_labels({"a": "b"})).success
                assert (await session.get_labels()).data == {"a": "b"}
                assert (await session.info()).data.session_id == session.session_id
                assert (await session.get_link_async("wss", 30199)).data.startswith("ws://")
                with pytest.raises(SessionError):
                    await session.get_link(port=30200)
                tools = await session.list_mcp_tools()
                assert "run_code" in {tool.name for tool in tools.tools}
                sid = session.session_id
            assert (await bay.list(labels={"sdk": "async-life"})).session_ids == []
            assert not (await bay.get(sid)).success

    asyncio.run(main())


def test_async_managers(runtime: EmbeddedRuntime, tmp_path: Path) -> None:
    async def main() -> None:
        async with client(runtime) as bay, (await bay.create()).session as session:
            out = await session.command.execute_command("echo async", 5000)
            assert out.output == "async\n"
            code = await session.code.run_code("print(1 + 1)", "python")
            assert code.result == "2\n"
            fs = session.file_system
            # 180,000 characters, 234,000 bytes: four write chunks, in order, and five read
            # chunks, fetched concurrently; every line differs, so order is checked.
            text = "".join(f"{i:05d} αβγ\n" for i in range(18_000))
            assert (await fs.write_file("/tmp/a.txt", text)).success
            assert (await fs.read_file("/tmp/a.txt")).content == text
            into_dir = await fs.write_file("/tmp", text)
            assert not into_dir.success
            assert into_dir.error_message == (await fs.write_file("/tmp", "x")).error_message
            assert (await fs.list_directory("/tmp")).success
            assert (await fs.search_files("/tmp", "a.txt")).matches == ["/tmp/a.txt"]
            source = tmp_path / "blob"
            source.write_bytes(os.urandom(1024 * 1024))
            up = await fs.upload_file(str(source), "/tmp/blob")
            assert up.success, up.error
            down = await fs.download_file("/tmp/blob", str(tmp_path / "back"))
            assert down.success, down.error
            assert (tmp_path / "back").read_bytes() == source.read_bytes()

    asyncio.run(main())


def test_many_concurrent_async_calls_share_one_client(runtime: EmbeddedRuntime) -> None:
    async def main() -> None:
        async with client(runtime) as bay:
            sessions = [(await bay.create()).session for _ in range(4)]
            try:
                calls = [
                    s.command.execute_command(f"echo {i}", 20000)
                    for i in range(50)
                    for s in sessions
                ]
                results = await asyncio.gather(*calls)
                assert all(r.success for r in results), [
                    r.error_message for r in results if not r.success
                ]
            finally:
                await asyncio.gather(*(s.delete() for s in sessions))

    asyncio.run(main())


def test_async_context_sync(runtime: EmbeddedRuntime) -> None:
    async def main() -> None:
        async with client(runtime) as bay:
            context = (await bay.context.create("async-ctx")).context
            params = CreateSessionParams(
                context_syncs=[ContextSync.new(context.id, "/data", SyncPolicy())]
            )
            first = (await bay.create(params)).session
            await first.file_system.write_file("/data/x.txt", "from first")
            synced = await first.context.sync()
            assert synced.success
            await first.delete()
            second = (await bay.create(params)).session
            assert (await second.file_system.read_file("/data/x.txt")).content == "from first"
            await second.delete()
            assert (await bay.context.delete(context)).success

    asyncio.run(main())


def test_one_client_works_across_event_loops(runtime: EmbeddedRuntime) -> None:
    bay = client(runtime)

    async def list_sessions() -> bool:
        return (await bay.list()).success

    assert asyncio.run(list_sessions())
    assert asyncio.run(list_sessions()), "a second asyncio.run must get its own pooled client"
    asyncio.run(bay.close())
