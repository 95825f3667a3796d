"""Networks sessions share (CreateNetwork, ``NetworkId`` at create): what joining costs and
what the runtime's switch carries.

- create with a ``NetworkId`` against a plain create, interleaved (the difference is the
  member's interface, made by a short helper, and the hosts files written);
- small request/answer round trips from one member to another over ``net0`` against the
  same round trips to a server on the session's own loopback;
- a 64 MiB stream from one member to another against the same stream over loopback.

Every figure is measured inside the sessions (a Python client in the session), so the
baseline and the network share everything but the path. ``python -m bench.shared_network``
runs this section alone; ``make bench`` runs it with the rest (``section_shared_network``).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from agentbay import AgentBay, Config, CreateSessionParams
from bench.harness import Report, Target, ms, p50
from bench.warm import POOL_SIZE, wait_for_warm_pool

CREATES = 8
#: Answers each line it reads with the same line; takes one stream at a time too.
ECHO = (
    "import socket, threading\n"
    "def serve(c):\n"
    "    while True:\n"
    "        data = c.recv(1 << 20)\n"
    "        if not data: break\n"
    "        if data[:1] == b'p': c.sendall(data)\n"
    "    c.close()\n"
    "s = socket.create_server(('0.0.0.0', 7171))\n"
    "while True:\n"
    "    c, _ = s.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\n"
    "    threading.Thread(target=serve, args=(c,), daemon=True).start()\n"
)
#: Round trips (b'p...') and a bulk stream (b'b...') to HOST; prints JSON.
CLIENT = (
    "import json, socket, sys, time\n"
    "host = sys.argv[1]\n"
    "deadline = time.monotonic() + 10\n"
    "while True:  # the echo server may still be starting\n"
    "    try: c = socket.create_connection((host, 7171), timeout=10); break\n"
    "    except OSError:\n"
    "        if time.monotonic() > deadline: raise\n"
    "        time.sleep(0.05)\n"
    "c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\n"
    "samples = []\n"
    "for _ in range(1000):\n"
    "    t = time.perf_counter(); c.sendall(b'p' * 32); c.recv(64)\n"
    "    samples.append(time.perf_counter() - t)\n"
    "c.close()\n"
    "samples.sort()\n"
    "c = socket.create_connection((host, 7171), timeout=10)\n"
    "block = b'b' * (1 << 20)\n"
    "t = time.perf_counter()\n"
    "for _ in range(64): c.sendall(block)\n"
    "c.shutdown(socket.SHUT_WR); c.recv(1)\n"
    "took = time.perf_counter() - t\n"
    "print(json.dumps({'rtt': samples[len(samples) // 2], 'mib_s': 64 / took}))\n"
)


def _measure(session: object, host: str) -> dict[str, float]:
    result = session.command.execute_command(  # type: ignore[attr-defined]
        f"python3 /root/client.py {host}", 120_000
    )
    assert result.success, result.error_message
    return json.loads(result.output)  # type: ignore[no-any-return]


def section_shared_network(report: Report, bay: AgentBay, runtime_pid: int, data_dir: Path) -> None:
    """The three comparisons of the module docstring, on one runtime (its process and data
    dir: each create starts from a warm pool and a runtime at rest)."""
    network = bay.beta_network.get_network_bind_token().network_id
    joined: list[float] = []
    plain: list[float] = []
    for round_number in range(CREATES):
        kinds = [
            (CreateSessionParams(beta_network_id=network), joined),
            (CreateSessionParams(), plain),
        ]
        for params, samples in kinds[:: 1 if round_number % 2 else -1]:
            wait_for_warm_pool(runtime_pid, data_dir / "sessions", POOL_SIZE)
            start = time.perf_counter()
            session = bay.create(params).session
            samples.append(time.perf_counter() - start)
            session.delete()
    server = bay.create(CreateSessionParams(beta_network_id=network)).session
    client = bay.create(CreateSessionParams(beta_network_id=network)).session
    try:
        for session in (server, client):
            session.file_system.write_file("/root/echo.py", ECHO)
            session.file_system.write_file("/root/client.py", CLIENT)
            session.command.execute_command("nohup python3 /root/echo.py >/dev/null 2>&1 &")
        local = _measure(client, "127.0.0.1")
        remote = _measure(client, server.session_id)
    finally:
        server.delete()
        client.delete()
    report.table(
        "Networks sessions share",
        ["measure", "network", "baseline", "ratio"],
        [
            [
                "create (p50)",
                ms(p50(joined)),
                ms(p50(plain)),
                f"{p50(joined) / p50(plain):.2f}x",
            ],
            [
                "round trip, 32 bytes (p50 of 1000)",
                ms(remote["rtt"]),
                ms(local["rtt"]),
                f"{remote['rtt'] / local['rtt']:.1f}x",
            ],
            [
                "stream, 64 MiB",
                f"{remote['mib_s']:.0f} MiB/s",
                f"{local['mib_s']:.0f} MiB/s",
                f"{remote['mib_s'] / local['mib_s']:.2f}x",
            ],
        ],
        f"{CREATES} creates with and without a NetworkId, alternating, each from a warm "
        "pool; then, from inside one "
        "member, TCP round trips and a stream to another member over net0 (the runtime's "
        "switch) against the same to a server on its own loopback (baseline).",
    )
    report.target(
        Target(
            "join a network at create",
            "<= 2x a plain create p50",
            f"{p50(joined) / p50(plain):.2f}x",
            p50(joined) <= 2 * p50(plain),
        )
    )


def main() -> None:
    """This section alone, against a runtime of its own; prints the tables."""
    from bench.__main__ import KEY, start_runtime
    from bench.network import stop_runtime

    report = Report()
    with tempfile.TemporaryDirectory(prefix="agentbay-bench-networks-") as scratch:
        process, endpoint = start_runtime(Path(scratch))
        try:
            bay = AgentBay(api_key=KEY, cfg=Config(endpoint=endpoint, timeout_ms=60000))
            section_shared_network(report, bay, process.pid, Path(scratch))
            bay.close()
        finally:
            stop_runtime(process)
    print(report.markdown("# Networks sessions share"))


if __name__ == "__main__":
    main()
