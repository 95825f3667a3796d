"""``agentbay local serve`` as a child process: the command, a free port, waiting for it to
listen, stopping it.

The end-to-end tests that restart or kill the runtime, and ``make bench``, run it this way,
exactly as users do.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def key_file(data_dir: Path, api_key: str) -> Path:
    """A file (mode 0600) beside ``data_dir`` holding ``api_key``, for ``--api-key-file``."""
    path = data_dir.with_name(data_dir.name + ".api-key")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(api_key + "\n")
    return path


def serve_argv(data_dir: Path, port: int, api_key: str, *extra: str) -> list[str]:
    """The ``agentbay local serve`` command line, with this interpreter, quiet logging; the
    key goes in a file (a key on the command line is visible to every local user)."""
    return [
        sys.executable,
        "-m",
        "agentbay.cli",
        "local",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--api-key-file",
        str(key_file(data_dir, api_key)),
        "--log-level",
        "warning",
        *extra,
    ]


def wait_until_listening(
    process: subprocess.Popen[Any], port: int, timeout_s: float = 60.0
) -> None:
    """Return once the runtime on ``port`` answers HTTP.

    A port that accepts connections is not enough: the listening socket is bound before the
    runtime is built, and the kernel queues connections meanwhile.

    Raises:
        RuntimeError: the process exited first (with its stderr, when captured) or did not
            answer within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _answers_http(port):
            return
        if process.poll() is not None:
            output = process.stderr.read() if process.stderr else ""
            text = output.decode() if isinstance(output, bytes) else output
            raise RuntimeError(f"serve exited with {process.returncode}: {text}")
        time.sleep(0.05)
    raise RuntimeError(f"serve did not answer on port {port} within {timeout_s} s")


def _answers_http(port: int) -> bool:
    """Whether something on ``port`` answers an HTTP request within a second."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return sock.recv(5) == b"HTTP/"
    except OSError:  # refused, reset or timed out: not ready yet
        return False


def stop_serve(process: subprocess.Popen[Any], timeout_s: float = 60.0) -> int:
    """Stop ``serve`` as a user does (Ctrl-C, every session released); its exit status.

    A runtime that has not exited within ``timeout_s`` is killed (status -9).
    """
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@contextlib.contextmanager
def serving(
    data_dir: Path, api_key: str, *extra: str
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``agentbay local serve`` in a child process while the block runs: its endpoint and
    process. Stopped as a user does on the way out, unless the block stopped it already.

    Raises:
        RuntimeError: it exited or did not listen (see ``wait_until_listening``).
    """
    port = free_port()
    process = subprocess.Popen(
        serve_argv(data_dir, port, api_key, *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_listening(process, port)
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            stop_serve(process)
