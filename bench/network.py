"""Per-session networks: what they cost and whether they hold under load.

``python -m bench.network`` runs this section alone (as root: the direct baseline enters a
session's network namespace); ``make bench`` runs it with the rest (``section_network``).

- create -> first command with ``--network egress`` (a slirp4netns per pooled sandbox)
  against ``--network none`` (the namespace alone), interleaved, two runtimes in one run;
- a keep-alive HTTP request through a ``GetLink`` URL against the same request sent
  directly to the session's server (a socket opened inside the session's namespace);
- 64 concurrent sessions, each with its own server on port 30100 reached through its link
  and an outbound connection through its NAT to a host port allowed with
  ``--allow-host-port`` (the bench's own server on 127.0.0.1): zero errors.

All traffic stays on this machine's loopback and inside the sessions' namespaces.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from agentbay import AgentBay, Config
from agentbay_local.sandbox.inside import syscalls
from bench.harness import Report, Target, ms, p50, pct
from bench.warm import POOL_SIZE, wait_for_warm_pool
from tests.support.spawn import free_port, serve_argv, wait_until_listening

KEY = "akm-bench-network"
SESSIONS = int(os.environ.get("BENCH_NETWORK_SESSIONS", "30"))
REQUESTS = 2000
CONCURRENT = 64
LINK_PORT = 30100
CLONE_NEWNET = 0x40000000
#: A keep-alive HTTP/1.1 server answering every request with a fixed 64-byte body.
SERVER = (
    "import socketserver, sys\n"
    "from http.server import BaseHTTPRequestHandler\n"
    "class H(BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    disable_nagle_algorithm = True  # headers and body go out as two writes\n"
    "    def do_GET(self):\n"
    "        body = b'x' * 64\n"
    "        self.send_response(200)\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "    def log_message(self, *args):\n"
    "        pass\n"
    "socketserver.ThreadingTCPServer.allow_reuse_address = True\n"
    "socketserver.ThreadingTCPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n"
)


def start_runtime(data_dir: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """``agentbay local serve`` with extra flags, in its own process."""
    port = free_port()
    argv = serve_argv(
        data_dir, port, KEY, "--pool-size", str(POOL_SIZE), "--max-sessions", "200", *extra
    )
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until_listening(process, port)
    return process, f"http://127.0.0.1:{port}"


def stop_runtime(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a user stops it (every session released)."""
    process.send_signal(signal.SIGINT)
    process.wait(timeout=120)


def client(endpoint: str) -> AgentBay:
    return AgentBay(api_key=KEY, cfg=Config(endpoint=endpoint, timeout_ms=120000))


def create_and_run(bay: AgentBay) -> float:
    """Seconds from CreateMcpSession to the first command's answer (release not counted)."""
    start = time.perf_counter()
    created = bay.create()
    if not created.success or created.session is None:
        raise SystemExit(f"create failed: {created.error_message}")
    session = created.session
    session.command.execute_command("echo ready", 30000)
    elapsed = time.perf_counter() - start
    session.delete()
    return elapsed


def start_server(session: object, port: int) -> None:
    """Start SERVER in a session and wait (with a deadline) until it listens."""
    fs = session.file_system  # type: ignore[attr-defined]
    command = session.command  # type: ignore[attr-defined]
    fs.write_file("/tmp/bench_server.py", SERVER)
    command.execute_command(f"nohup python3 /tmp/bench_server.py {port} >/dev/null 2>&1 &", 5000)
    probe = (
        f"for i in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && exit 0; "
        "sleep 0.05; done; exit 1"
    )
    if not command.execute_command(probe, 20000).success:
        raise RuntimeError("the bench server did not start in the session")


def socket_in_namespace(pid: int, port: int) -> socket.socket:
    """A socket connected to 127.0.0.1:port inside the network namespace of ``pid``.

    A thread of its own enters the namespace (threads own their namespaces; a socket keeps
    the namespace it was made in), so nothing else of this process moves.
    """
    made: list[socket.socket] = []

    def enter_and_connect() -> None:
        fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        try:
            syscalls.setns(fd, CLONE_NEWNET)
        finally:
            os.close(fd)
        made.append(socket.create_connection(("127.0.0.1", port), timeout=10))

    worker = threading.Thread(target=enter_and_connect)
    worker.start()
    worker.join()
    if not made:
        raise RuntimeError("could not connect inside the session's namespace")
    return made[0]


def session_pid(session_id: str) -> int:
    """Host PID of a process of a session (all share its namespaces), by its cgroup."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cgroups = Path(f"/proc/{entry}/cgroup").read_text()
        except OSError:
            continue
        if session_id in cgroups:
            return int(entry)
    raise RuntimeError(f"no process found for {session_id}")


def request_seconds(connection: http.client.HTTPConnection, path: str, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        connection.request("GET", path)
        answer = connection.getresponse()
        answer.read()
        samples.append(time.perf_counter() - start)
        if answer.status != 200:
            raise RuntimeError(f"request failed with HTTP {answer.status}")
    return samples


def section_create(
    report: Report, none: tuple[AgentBay, int, Path], egress: tuple[AgentBay, int, Path]
) -> None:
    """Create -> first command on each runtime (client, its PID, its data dir), warm pools."""

    def warm_create(runtime: tuple[AgentBay, int, Path]) -> float:
        # Both at rest: the other runtime's refill would compete for the CPU too.
        for _, pid, data_dir in (none, egress):
            wait_for_warm_pool(pid, data_dir / "sessions", POOL_SIZE)
        return create_and_run(runtime[0])

    for runtime in (none, egress):
        warm_create(runtime)
    none_s: list[float] = []
    egress_s: list[float] = []
    for _ in range(SESSIONS):  # interleaved, so load changes hit both alike
        none_s.append(warm_create(none))
        egress_s.append(warm_create(egress))
    ratio = p50(egress_s) / p50(none_s)
    report.table(
        f"Create -> first command by network policy ({SESSIONS} sessions each, interleaved, "
        "warm pools)",
        ["--network", "p50", "p95"],
        [
            ["none (namespace, loopback only)", ms(p50(none_s)), ms(pct(none_s, 0.95))],
            ["egress (namespace + slirp4netns)", ms(p50(egress_s)), ms(pct(egress_s, 0.95))],
        ],
    )
    report.target(
        Target(
            "create -> first command, egress vs none",
            "<= 1.10x",
            f"{ratio:.2f}x ({ms(p50(egress_s))} vs {ms(p50(none_s))})",
            ratio <= 1.10,
        )
    )


def section_link(report: Report, bay: AgentBay) -> None:
    session = bay.create().session
    try:
        start_server(session, LINK_PORT)
        url = session.get_link(port=LINK_PORT).data
        parts = urlsplit(url)
        pid = session_pid(session.session_id)
        direct = http.client.HTTPConnection("127.0.0.1", LINK_PORT, timeout=10)
        direct.sock = socket_in_namespace(pid, LINK_PORT)
        linked = http.client.HTTPConnection(parts.hostname or "", parts.port or 0, timeout=10)
        direct_s: list[float] = []
        link_s: list[float] = []
        request_seconds(direct, "/", 100)  # warm-up
        request_seconds(linked, parts.path, 100)
        for _ in range(REQUESTS // 100):  # interleaved blocks
            direct_s += request_seconds(direct, "/", 100)
            link_s += request_seconds(linked, parts.path, 100)
        direct.close()
        linked.close()
    finally:
        session.delete()
    added = p50(link_s) - p50(direct_s)
    report.table(
        f"A keep-alive HTTP GET (64-byte answer), {REQUESTS} each, interleaved",
        ["path", "p50", "p95"],
        [
            ["direct, inside the session's namespace", ms(p50(direct_s)), ms(pct(direct_s, 0.95))],
            ["through the GetLink URL", ms(p50(link_s)), ms(pct(link_s, 0.95))],
        ],
    )
    report.target(
        Target("request through a link, added p50", "<= 0.3 ms", ms(added), added <= 0.0003)
    )


def section_concurrent(report: Report, bay: AgentBay, host_port: int) -> None:
    errors = 0

    def one(_: int) -> int:
        created = bay.create()
        if not created.success:
            return 1
        session = created.session
        failures = 0
        try:
            start_server(session, LINK_PORT)
            url = urlsplit(session.get_link(port=LINK_PORT).data)
            linked = http.client.HTTPConnection(url.hostname or "", url.port or 0, timeout=30)
            for _ in range(10):
                try:
                    request_seconds(linked, url.path, 1)
                except (OSError, RuntimeError, http.client.HTTPException):
                    failures += 1
            linked.close()
            out = session.command.execute_command(
                f"exec 3<>/dev/tcp/10.0.2.2/{host_port} && head -c 2 <&3", 20000
            )
            failures += 0 if out.success and out.output == "ok" else 1
        except Exception:
            failures += 1
        finally:
            session.delete()
        return failures

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        errors = sum(pool.map(one, range(CONCURRENT)))
    elapsed = time.perf_counter() - start
    report.table(
        f"{CONCURRENT} concurrent sessions, each: its server on {LINK_PORT} through its link "
        "(10 requests) and one outbound connection through its NAT",
        ["sessions", "wall time", "errors"],
        [[str(CONCURRENT), f"{elapsed:.1f} s", str(errors)]],
    )
    report.target(
        Target(
            f"{CONCURRENT} concurrent sessions with networks",
            "zero errors",
            f"{errors} errors",
            errors == 0,
        )
    )


def host_server() -> tuple[socket.socket, threading.Thread]:
    """A server on the host's loopback answering "ok" (what --allow-host-port opens)."""
    server = socket.create_server(("127.0.0.1", 0), backlog=256)

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                connection.sendall(b"ok")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, thread


def section_network(report: Report) -> None:
    """Every measurement of this module, on runtimes of its own."""
    scratch = Path(tempfile.mkdtemp(prefix="agentbay-bench-network-"))
    allowed, _ = host_server()
    host_port = allowed.getsockname()[1]
    none_process, none_endpoint = start_runtime(scratch / "none", "--network", "none")
    egress_process, egress_endpoint = start_runtime(
        scratch / "egress", "--allow-host-port", str(host_port)
    )
    try:
        with client(none_endpoint) as none_bay, client(egress_endpoint) as egress_bay:
            section_create(
                report,
                (none_bay, none_process.pid, scratch / "none"),
                (egress_bay, egress_process.pid, scratch / "egress"),
            )
            section_link(report, egress_bay)
            section_concurrent(report, egress_bay, host_port)
    finally:
        stop_runtime(none_process)
        stop_runtime(egress_process)
        allowed.close()


if __name__ == "__main__":
    section_network(Report())
