"""A terminal's output held for a newly attached connection (sandbox/inside/terminals.py):
pushed, in order, once the connection names the terminal in a request, or after
``ATTACH_HOLD_S`` at the most; meanwhile a program writing a lot waits instead of filling
the tool server's memory."""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

import pytest

from agentbay_local.sandbox.inside import terminals


class Pushes:
    """What one connection was pushed."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, data: dict[str, Any]) -> bool:
        with self.lock:
            self.items.append(data)
        return True

    def output(self) -> bytes:
        with self.lock:
            chunks = [d["data"] for d in self.items if d["eventType"] == "pty.output"]
        return b"".join(base64.b64decode(chunk) for chunk in chunks)

    def events(self) -> list[str]:
        with self.lock:
            return [d["eventType"] for d in self.items]


def new_terminal() -> terminals.Terminal:
    # No program: these tests hand the output to the terminal as its pump would.
    return terminals.Terminal("pty-test", pid=0, master=-1, cols=80, rows=24)


@pytest.fixture
def long_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hold that does not end by itself within a test."""
    monkeypatch.setattr(terminals, "ATTACH_HOLD_S", 600.0)


@pytest.mark.usefixtures("long_hold")
def test_output_waits_until_the_connection_names_the_terminal() -> None:
    terminal, creator, other = new_terminal(), Pushes(), Pushes()
    terminal.attach(creator, backlog=False)
    terminal.deliver(b"first ")
    terminal.heard_from(other)  # another connection's request is no sign of the creator's
    assert creator.items == []
    terminal.heard_from(creator)
    terminal.deliver(b"second")
    assert creator.output() == b"first second"


@pytest.mark.usefixtures("long_hold")
def test_an_exit_while_held_comes_after_the_held_output() -> None:
    terminal, creator = new_terminal(), Pushes()
    terminal.attach(creator, backlog=False)
    terminal.deliver(b"quick")
    terminal.finish(0)
    assert creator.items == []
    terminal.heard_from(creator)
    assert creator.events() == ["pty.output", "pty.exit"] and creator.output() == b"quick"


def test_the_hold_ends_by_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that never sends a request about the terminal gets its output after the
    hold (the official client's ``create(shell=...)`` followed by ``wait()``)."""
    monkeypatch.setattr(terminals, "ATTACH_HOLD_S", 0.05)
    terminal, creator = new_terminal(), Pushes()
    terminal.attach(creator, backlog=False)
    terminal.deliver(b"quick")
    terminal.finish(0)
    deadline = time.monotonic() + 30
    while len(creator.items) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert creator.events() == ["pty.output", "pty.exit"] and creator.output() == b"quick"


@pytest.mark.usefixtures("long_hold")
def test_a_full_hold_makes_the_writer_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(terminals, "HELD_BYTES", 8)
    terminal, creator = new_terminal(), Pushes()
    terminal.attach(creator, backlog=False)
    terminal.deliver(b"12345678")  # the hold is full
    pump = threading.Thread(target=terminal.deliver, args=(b"9",), daemon=True)
    pump.start()
    pump.join(0.3)
    assert pump.is_alive(), "output beyond HELD_BYTES was taken while held"
    terminal.heard_from(creator)
    pump.join(30)
    assert not pump.is_alive() and creator.output() == b"123456789"
