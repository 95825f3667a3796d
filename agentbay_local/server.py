"""Running the runtime: in the foreground (``agentbay local serve``) or in a background thread.

The in-process start is what ``endpoint="local"`` uses: an ephemeral loopback port, a generated
key, and a stop at interpreter exit that releases every session.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import shutil
import signal
import socket
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from agentbay_local.api.app import build_app
from agentbay_local.runtime import Runtime, RuntimeOptions

#: How long an in-process start may take before it is reported as failed.
START_TIMEOUT_S = 60.0


def bind_listener(host: str, port: int) -> socket.socket:
    """The runtime's listening socket on ``host:port`` (0: a free port); OSError if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on accepted sockets whose proto
    # says TCP, and with proto 0 Nagle's algorithm plus delayed ACKs add 40 ms to every answer
    # written in two parts (headers, then body).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def _config(runtime: Runtime, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        build_app(runtime),
        log_level=log_level,
        lifespan="on",
        timeout_keep_alive=30,
        timeout_graceful_shutdown=10,
        access_log=False,
        # Nothing sits in front of the runtime: X-Forwarded-* would only be spoofable.
        proxy_headers=False,
    )


#: The signals that stop a foreground runtime (Ctrl-C, a service manager's stop).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_signals_held() -> Iterator[list[int]]:
    """While the block runs, Ctrl-C and SIGTERM are recorded in the list it gets, not raised.

    Python's own handler raises KeyboardInterrupt wherever the main thread happens to be;
    inside a finalizer (an asyncio transport's ``__del__``) it is printed and dropped, and
    the runtime would serve on after the user asked it to stop. Recorded, a stop is seen
    wherever it came: before the server starts, or handed to it (``serve_foreground``).
    """
    received: list[int] = []
    previous = {number: signal.signal(number, _record_into(received)) for number in STOP_SIGNALS}
    try:
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _record_into(received: list[int]) -> Callable[[int, object], None]:
    def record(number: int, _frame: object) -> None:
        received.append(number)

    return record


class _Server(uvicorn.Server):
    """uvicorn's server, which also stops for the signals recorded before it caught them."""

    def __init__(self, config: uvicorn.Config, received: list[int]) -> None:
        super().__init__(config)
        self._received = received

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        with super().capture_signals():
            for number in list(self._received):
                self.handle_exit(number, None)
            yield


def serve_foreground(
    runtime: Runtime, sock: socket.socket, received: list[int], log_level: str = "info"
) -> None:
    """Serve ``runtime`` on ``sock`` (from ``bind_listener``) until Ctrl-C / SIGTERM, those
    ``received`` already (``stop_signals_held``) included; every session is released on the
    way out."""
    server = _Server(_config(runtime, log_level), received)
    asyncio.run(server.serve(sockets=[sock]))


@dataclass
class EmbeddedRuntime:
    """A runtime serving from a daemon thread of this process."""

    endpoint: str
    api_key: str
    data_dir: Path
    _server: uvicorn.Server
    _thread: threading.Thread
    _remove_data_dir: bool = False

    def stop(self) -> None:
        """Stop serving and release every session (idempotent)."""
        if self._thread.is_alive():
            self._server.should_exit = True
            self._thread.join(timeout=30)
        if self._remove_data_dir and not self._thread.is_alive():
            from agentbay_local.sandbox.layout import unmount_tree

            # Never walk into a session overlay (a view of /): detach anything left first.
            unmount_tree(self.data_dir)
            shutil.rmtree(self.data_dir, ignore_errors=True)


def start_in_thread(options: RuntimeOptions, *, remove_data_dir: bool = False) -> EmbeddedRuntime:
    """Start a runtime in a background thread; returns once it answers requests.

    ``remove_data_dir`` deletes the data dir after the runtime stopped (for scratch dirs).
    """
    sock = bind_listener(options.host, options.port)
    options.port = sock.getsockname()[1]
    runtime = Runtime(options)
    server = uvicorn.Server(_config(runtime, "warning"))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to the starting thread below
            failure.append(exc)

    thread = threading.Thread(target=run, name="agentbay-local-runtime", daemon=True)
    thread.start()
    deadline = threading.Event()
    for _ in range(int(START_TIMEOUT_S / 0.01)):
        if server.started or not thread.is_alive():
            break
        deadline.wait(0.01)
    if not server.started:
        server.should_exit = True
        reason = f": {failure[0]}" if failure else ""
        raise RuntimeError(f"the local runtime did not start{reason}")
    embedded = EmbeddedRuntime(
        endpoint=runtime.base_url,
        api_key=options.api_keys[0],
        data_dir=options.data_dir,
        _server=server,
        _thread=thread,
        _remove_data_dir=remove_data_dir,
    )
    _stop_at_exit(embedded.stop)
    return embedded


def _stop_at_exit(stop: Callable[[], None]) -> None:
    """Run ``stop`` when the interpreter exits, while thread pools still accept work.

    Plain ``atexit`` handlers run after ``concurrent.futures`` has shut its pools down, and
    releasing sessions needs them (asyncio.to_thread); threading's exit hooks run before.
    """
    register = getattr(threading, "_register_atexit", None)
    if register is None:  # not CPython: best effort
        atexit.register(stop)
    else:
        register(stop)
