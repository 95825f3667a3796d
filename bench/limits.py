"""The machine's own limits, measured in the same run as the figures compared with them.

A loopback HTTP round trip on a kept-alive connection (a bare socket server answering a fixed
response, the cheapest exchange an SDK call can be), fork+exec of ``bash -c 'echo x'`` (the
least a shell tool call can cost) and copying bytes in memory (the least moving a file can).
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import threading

from bench.harness import p50, timed

_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"


def _answer_forever(listener: socket.socket) -> None:
    connection, _ = listener.accept()
    with connection:
        while True:
            request = b""
            while b"\r\n\r\n" not in request:
                block = connection.recv(65536)
                if not block:
                    return
                request += block
            connection.sendall(_ANSWER)


def http_round_trip_s(calls: int) -> float:
    """Median seconds of a GET to a minimal loopback server with http.client, kept alive."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        server = threading.Thread(target=_answer_forever, args=(listener,), daemon=True)
        server.start()
        client = http.client.HTTPConnection("127.0.0.1", listener.getsockname()[1], timeout=10)

        def call() -> None:
            client.request("GET", "/")
            client.getresponse().read()

        try:
            return p50(timed(call, calls, warmup=10))
        finally:
            client.close()
            server.join(timeout=10)


def spawn_echo_s(runs: int) -> float:
    """Median seconds of fork+exec of ``bash -c 'echo x'`` until it has exited."""
    argv = ["bash", "-c", "echo x"]
    return p50(timed(lambda: subprocess.run(argv, stdout=subprocess.DEVNULL, check=True), runs))


def copy_bytes_per_s(size: int, repeats: int = 9) -> float:
    """Bytes per second of copying ``size`` bytes in memory (median of ``repeats``)."""
    data = bytearray(size)
    return size / p50(timed(lambda: bytes(data), repeats, warmup=1))
