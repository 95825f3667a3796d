"""This SDK over the session WebSocket, sync and async: terminals (session.pty), streaming
run_code, streaming and background shell commands, pushed watch_directory."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from agentbay import AgentBay, AsyncAgentBay, Config
from agentbay.pty import PtyError
from agentbay.session_params import CreateSessionParams
from agentbay_local.sandbox.inside import terminals
from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.conftest import API_KEY, own_runtime


class Screen:
    """What a terminal printed, waited on with a deadline."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.cond = threading.Condition()

    def on_data(self, chunk: bytes) -> None:
        with self.cond:
            self.data += chunk
            self.cond.notify_all()

    def wait_for(self, text: str, timeout_s: float = 15.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: text.encode() in self.data, timeout_s)


def test_a_terminals_first_output_waits_for_a_late_handle(
    bay: AgentBay, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a loaded machine the caller may attach the new terminal's handle well after the
    server began sending its output (it holds it ``ATTACH_HOLD_S`` at the most): none of it
    is lost."""
    from agentbay.pty import Pty

    answered = Pty._call

    def slow_caller(self: Pty, data: dict, timeout_s: float = 30.0) -> dict:  # type: ignore[type-arg]
        result = answered(self, data, timeout_s)
        if data.get("method") == "pty.create":
            # The caller's thread held up after the answer came, past the server's hold.
            time.sleep(terminals.ATTACH_HOLD_S + 1.0)
        return result

    monkeypatch.setattr(Pty, "_call", slow_caller)
    with bay.create(CreateSessionParams(image_id="code_latest")).session as session:
        flood = Screen()
        bulk = session.pty.create(
            shell="stty raw -echo; head -c 3000000 /dev/zero; echo; echo done",
            on_data=flood.on_data,
        )
        assert bulk.wait(60) == 0
        assert flood.data.count(b"\0") == 3_000_000
        assert flood.data.rstrip().endswith(b"done")


def test_terminals(bay: AgentBay) -> None:
    with bay.create(CreateSessionParams(image_id="code_latest")).session as session:
        screen = Screen()
        term = session.pty.create(cols=90, rows=20, envs={"WHO": "sdk"}, on_data=screen.on_data)
        term.send_input("echo hi-$WHO; stty size\n")
        assert screen.wait_for("hi-sdk") and screen.wait_for("20 90")
        term.resize(100, 33)
        term.send_input("stty size\n")
        assert screen.wait_for("33 100")
        other = session.pty.create(shell="sleep 60")
        listed = {item.pty_session_id for item in session.pty.list()}
        assert {term.pty_session_id, other.pty_session_id} <= listed
        other.kill()
        assert other.wait(15) == -9
        term.send_input("exit 5\n")
        assert term.wait(15) == 5
        flood = Screen()  # every byte of a bulk write arrives, the first ones too
        bulk = session.pty.create(
            shell="stty raw -echo; head -c 5000000 /dev/zero", on_data=flood.on_data
        )
        assert bulk.wait(60) == 0
        assert len(flood.data) == 5_000_000 and not flood.data.strip(b"\0")
        try:
            session.pty.create(cols=0)
        except PtyError as exc:
            assert "Invalid terminal size" in str(exc)
        else:
            raise AssertionError("a terminal of 0 columns was made")


def test_streaming_code_and_commands(bay: AgentBay) -> None:
    with bay.create(CreateSessionParams(image_id="code_latest")).session as session:
        chunks: list[tuple[str, str]] = []
        ran = session.code.run_code(
            "import sys\nprint('one')\nprint('two', file=sys.stderr)\n",
            "python",
            on_stdout=lambda text: chunks.append(("out", text)),
            on_stderr=lambda text: chunks.append(("err", text)),
        )
        assert ran.success and ran.result == "one\n", ran
        assert "".join(text for kind, text in chunks if kind == "err") == "two\n"
        session.code.run_code("y = 21", "python", stream_beta=True)
        assert session.code.run_code("y * 2", "python", stream_beta=True).result == "42"
        streamed: list[str] = []
        done = session.command.execute_command(
            "echo a; echo b >&2; exit 4", 10_000, on_stdout=streamed.append
        )
        assert not done.success and done.exit_code == 4
        assert (done.stdout, done.stderr, "".join(streamed)) == ("a\n", "b\n", "a\n")
        seen = threading.Event()
        handle = session.command.run_background(
            "echo started; sleep 60", on_stdout=lambda text: seen.set()
        )
        assert handle is not None
        assert seen.wait(15)
        handle.kill()
        assert not handle.wait(15) and handle.exit_code == -9


def test_pushed_watch(bay: AgentBay) -> None:
    with bay.create(CreateSessionParams(image_id="code_latest")).session as session:
        session.file_system.create_directory("/tmp/w")
        seen: list[tuple[str, str]] = []
        arrived = threading.Event()

        def changed(events: list) -> None:  # type: ignore[type-arg]
            seen.extend((event.event_type, event.path) for event in events)
            arrived.set()

        # A polling interval of an hour: what arrives was pushed.
        monitor = session.file_system.watch_directory("/tmp/w", changed, interval=3600)
        monitor.start()
        assert monitor.ready_event.wait(15)
        deadline = time.monotonic() + 15
        while ("create", "/tmp/w/new.txt") not in seen and time.monotonic() < deadline:
            session.file_system.write_file("/tmp/w/new.txt", "x")
            arrived.wait(1.0)
        monitor.stop_event.set()
        monitor.join(10)
        assert ("create", "/tmp/w/new.txt") in seen


def test_async_flavour(runtime: EmbeddedRuntime) -> None:
    async def main() -> None:
        cfg = Config(endpoint=runtime.endpoint, timeout_ms=60000)
        async with AsyncAgentBay(api_key=API_KEY, cfg=cfg) as bay:
            created = await bay.create(CreateSessionParams(image_id="code_latest"))
            async with created.session as session:
                screen = Screen()
                term = await session.pty.create(on_data=screen.on_data)
                await term.send_input("echo async-$((2+3))\n")
                assert await asyncio.to_thread(screen.wait_for, "async-5")
                await term.send_input("exit 3\n")
                assert await term.wait(15) == 3
                out: list[str] = []
                ran = await session.code.run_code("print(42)", "python", on_stdout=out.append)
                assert ran.success and "".join(out) == "42\n"
                done = await session.command.execute_command("echo x", 5000, on_stdout=out.append)
                assert done.success and done.stdout == "x\n"

    asyncio.run(main())


def test_full_screen_programs(bay: AgentBay) -> None:
    """top and vim draw, take keys and quit in a terminal (the image's own programs)."""
    with bay.create(CreateSessionParams(image_id="code_latest")).session as session:
        found = session.command.execute_command("command -v top vim", 5000).output.split()
        if len(found) < 2:
            pytest.skip(f"the session's image lacks top or vim (found: {found})")
        screen = Screen()
        top = session.pty.create(cols=120, rows=40, shell="top -d 0.2", on_data=screen.on_data)
        assert screen.wait_for("load average"), bytes(screen.data[-2000:])
        top.send_input("q")
        assert top.wait(15) == 0
        editor = Screen()
        vim = session.pty.create(shell="vim -u NONE -N /tmp/edited.txt", on_data=editor.on_data)
        assert editor.wait_for("edited.txt"), bytes(editor.data[-2000:])
        vim.send_input("ihello from vim\x1b:wq\r")
        assert vim.wait(15) == 0
        assert session.file_system.read_file("/tmp/edited.txt").content == "hello from vim\n"


def test_terminals_survive_a_pause(bay: AgentBay) -> None:
    """A pause closes the socket; after resume, connect finds the same program running."""
    with bay.create(CreateSessionParams(image_id="code_latest")).session as session:
        before = Screen()
        ticker = session.pty.create(
            shell="i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.05; done",
            on_data=before.on_data,
        )
        assert before.wait_for("tick-3")
        assert session.beta_pause().success
        assert session.beta_resume().success
        after = Screen()
        session.pty.connect(ticker.pty_session_id, on_data=after.on_data)
        assert after.wait_for("tick-")  # the backlog first: ticks from before the pause
        counts = [
            int(word[5:]) for word in bytes(after.data).decode().split() if word[5:].isdigit()
        ]
        newest = max(counts)
        assert after.wait_for(f"tick-{newest + 5}")  # and it goes on counting: the same shell
        ticker.kill()


def test_unisolated_sessions_stream_too(tmp_path: Path) -> None:
    """An --unisolated runtime: a terminal starts in the session's working directory (its
    HOME is the pool's, renamed since), and code and commands stream."""
    with own_runtime(tmp_path / "unisolated", API_KEY, isolated=False) as runtime:
        cfg = Config(endpoint=runtime.endpoint, timeout_ms=60000)
        with AgentBay(api_key=API_KEY, cfg=cfg) as unisolated:
            session = unisolated.create(CreateSessionParams(image_id="code_latest")).session
            with session:
                screen = Screen()
                term = session.pty.create(on_data=screen.on_data)
                term.send_input("echo uni-$((3*3))\nexit 2\n")
                assert term.wait(15) == 2 and screen.wait_for("uni-9")
                out: list[str] = []
                assert session.code.run_code("print(1)", "python", on_stdout=out.append).success
                assert session.command.execute_command("echo a", 5000, on_stdout=out.append).success
                assert out == ["1\n", "a\n"]
