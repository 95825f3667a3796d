"""Runs the OFFICIAL client 0.22.3 (wuying-agentbay-sdk) against a local runtime over the
session WebSocket: terminals (session.pty), streaming run_code and pushed watch_directory,
plus the socket's handshake refusals.

Executed by tests/runtime/e2e/test_official_streams.py with the client's own interpreter;
it imports nothing of this project but loopback_only. Results go to the JSON file named by
the first argument.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(1, str(Path(__file__).resolve().parents[2] / "support"))

import loopback_only  # noqa: F401  (first: nothing below reaches past loopback)

from agentbay import AgentBay, CreateSessionParams

results: dict[str, Any] = {}
client = AgentBay()


def record(name: str, value: Any) -> None:
    results[name] = value


class Screen:
    """What a terminal printed, waited on with a deadline."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.lock = threading.Condition()

    def on_data(self, chunk: bytes) -> None:
        with self.lock:
            self.data += chunk
            self.lock.notify_all()

    def wait_for(self, text: str, timeout_s: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout_s
        with self.lock:
            while text.encode() not in self.data:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.lock.wait(left)
            return True


created = client.create(CreateSessionParams(image_id="code_latest"))
assert created.success, created.error_message
session = created.session
record("has_ws_url", session.ws_url.startswith("ws://"))


# ---- terminals ----
class LateHandles(dict):  # type: ignore[type-arg]
    """The client's table of terminal handles, each entry made 0.4 s late: the caller's
    thread held up after the answer to pty.create/connect, as on a loaded machine (the
    client drops output of a terminal it has no handle of; the server once held a new
    terminal's output only 50 ms)."""

    def __setitem__(self, key: Any, value: Any) -> None:
        time.sleep(0.4)
        super().__setitem__(key, value)


session.pty._handles = LateHandles(session.pty._handles)
# A quick command: the client sends nothing about it after the answer.
quick_screen = Screen()
quick = session.pty.create(shell="echo quick-first-output", on_data=quick_screen.on_data)
record("pty_late_handle_output", quick_screen.wait_for("quick-first-output"))
try:
    record("pty_late_handle_exit", quick.wait(timeout_s=15))
except TimeoutError:
    record("pty_late_handle_exit", None)

screen = Screen()
term = session.pty.create(cols=100, rows=30, envs={"GREETING": "hello"}, on_data=screen.on_data)
term.send_input(b"echo $GREETING-$((6*7)) $TERM; stty size\n")
record("pty_echo", screen.wait_for("hello-42 xterm-256color"))
record("pty_size", screen.wait_for("30 100"))
term.send_input(b"trap 'echo WINCHED $(stty size)' WINCH\n")
# The output of a command after the trap, not the terminal's echo of the typed line (that
# comes as soon as the line arrives, maybe before the trap is set): the resize waits for it.
term.send_input(b"echo trap-set-$((40+2))\n")
screen.wait_for("trap-set-42")
term.resize(120, 40)
record("pty_winch", screen.wait_for("WINCHED 40 120"))
term.send_input(b"python3 -q\n")
term.send_input(b"print(6 * 7 * 100)\n")
record("pty_python_repl", screen.wait_for("4200"))
term.send_input(b"exit()\n")
record("pty_listed", term.pty_session_id in [item.pty_session_id for item in session.pty.list()])
term.send_input(b"exit 7\n")
record("pty_exit_code", term.wait(timeout_s=15))

cwd_screen = Screen()
placed = session.pty.create(cwd="/usr", shell="pwd; sleep 60", on_data=cwd_screen.on_data)
record("pty_cwd_command", cwd_screen.wait_for("/usr"))
session.pty.kill(placed.pty_session_id)
listed = [item.pty_session_id for item in session.pty.list()]
record("pty_killed_gone", placed.pty_session_id not in listed)

# Re-attach: output written while no one is attached comes first on connect.
later = session.pty.create(
    shell="sh -c 'while [ ! -e /tmp/go ]; do sleep 0.05; done; "
    "echo written-while-away; touch /tmp/wrote; sleep 60'"
)
later.disconnect()
session.file_system.write_file("/tmp/go", "")
deadline = time.monotonic() + 15
while time.monotonic() < deadline and not session.file_system.get_file_info("/tmp/wrote").success:
    time.sleep(0.05)
back = Screen()
again = session.pty.connect(later.pty_session_id, on_data=back.on_data)
record("pty_backlog", back.wait_for("written-while-away"))
again.kill()

# ---- streaming run_code ----
stamps: list[tuple[str, float, str]] = []
began = time.monotonic()
code = (
    "import sys, time\n"
    "print('first', flush=True)\n"
    "time.sleep(1.0)\n"
    "print('oops', file=sys.stderr, flush=True)\n"
    "time.sleep(0.3)\n"  # two pipes: order between them is known only when writes are apart
    "print('last')\n"
)
ran = session.code.run_code(
    code,
    "python",
    stream_beta=True,
    on_stdout=lambda chunk: stamps.append(("out", time.monotonic() - began, chunk)),
    on_stderr=lambda chunk: stamps.append(("err", time.monotonic() - began, chunk)),
)
ended = time.monotonic() - began
record("code_success", ran.success)
record("code_chunks", [[kind, text] for kind, _, text in stamps])
record("code_first_before_end", bool(stamps) and stamps[0][1] < ended - 0.5)
failed = session.code.run_code("raise SystemExit(3)", "python", stream_beta=True)
record("code_failed", [failed.success, bool(failed.error_message)])
slow = session.code.run_code("import time; time.sleep(30)", "python", timeout_s=1, stream_beta=True)
record("code_timeout", [slow.success, "timeout" in (slow.error_message or "").lower()])
kept = session.code.run_code("x = 6 * 7", "python", stream_beta=True)
shown = session.code.run_code("x", "python", stream_beta=True)
record("code_kernel_state", [kept.success, [r.text for r in shown.results if r.is_main_result]])

# ---- pushed watch_directory ----
session.file_system.create_directory("/tmp/watched")
seen: list[tuple[float, Any]] = []
# A polling interval of 60 s: events seen sooner than that were pushed.
monitor = session.file_system.watch_directory(
    "/tmp/watched", lambda events: seen.extend((time.monotonic(), e) for e in events), 60.0
)
monitor.start()
monitor.ready_event.wait(30)
deadline = time.monotonic() + 15
written_at = 0.0
while time.monotonic() < deadline and not any(e.path.endswith("pushed.txt") for _, e in seen):
    if not written_at or time.monotonic() - written_at > 3:  # subscribing is under way
        session.file_system.write_file("/tmp/watched/pushed.txt", "x")
        written_at = time.monotonic()
    time.sleep(0.05)
record("watch_pushed", sorted({(e.event_type, e.path) for _, e in seen}))
monitor.stop_event.set()
monitor.join(10)


# ---- the handshake ----
async def handshake(token: str | None) -> str:
    import websockets

    headers = {} if token is None else {"X-Access-Token": token}
    try:
        async with websockets.connect(session.ws_url, additional_headers=headers) as sock:
            await sock.close()
            return "open"
    except websockets.exceptions.InvalidStatus as exc:
        return str(exc.response.status_code)


other = client.create(CreateSessionParams(image_id="code_latest")).session
record(
    "handshakes",
    [
        asyncio.run(handshake(None)),
        asyncio.run(handshake("not-a-token")),
        asyncio.run(handshake(other.token)),
        asyncio.run(handshake(session.token)),
    ],
)
other.delete()
session.delete()
Path(sys.argv[1]).write_text(json.dumps(results))
