"""Runs an OFFICIAL client (0.15.2 or 0.22.3) against a local runtime: its beta network service and
sessions created with ``beta_network_id`` (two on one network, one on another, one on none).

Executed by tests/runtime/e2e/test_networks.py with the client's own interpreter; it imports
nothing of this project but loopback_only. The results go to the JSON file named by the
first argument. Every address tried is one the runtime gave a session.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(1, str(Path(__file__).resolve().parents[2] / "support"))

import loopback_only  # noqa: F401  (first: nothing below reaches past loopback)

from agentbay import AgentBay, CreateSessionParams

#: Answers each connection to port 7070 with the session's hostname (its id).
SERVER = (
    "nohup python3 -c \"import socket; s = socket.create_server(('0.0.0.0', 7070)); "
    "exec('while True:\\n c, _ = s.accept(); c.sendall(socket.gethostname().encode()); "
    "c.close()')\" > /dev/null 2>&1 &"
)

results: dict[str, Any] = {}
client = AgentBay()


def fetch(session: Any, host: str) -> str:
    command = (
        'python3 -c "import socket\n'
        "try:\n"
        f" c = socket.create_connection(('{host}', 7070), timeout=3); print(c.recv(100).decode())\n"
        'except OSError as e: print(type(e).__name__)"'
    )
    return str(session.command.execute_command(command, timeout_ms=20000).output).strip()


network = client.beta_network.get_network_bind_token()
results["network"] = [network.success, network.error_message, bool(network.network_token)]
other = client.beta_network.get_network_bind_token()
described = client.beta_network.describe(network.network_id)
results["describe"] = [described.success, described.online]
unknown = client.beta_network.describe("net-nosuchnetwork0000")
results["describe_unknown"] = [unknown.success, unknown.error_message]
refused = client.create(CreateSessionParams(beta_network_id="net-nosuchnetwork0000"))
results["create_unknown"] = [refused.success, refused.error_message]

sessions = {
    name: client.create(CreateSessionParams(beta_network_id=network_id)).session
    for name, network_id in (
        ("server", network.network_id),
        ("peer", network.network_id),
        ("stranger", other.network_id),
        ("loner", None),
    )
}
server = sessions["server"]
server.command.execute_command(SERVER, timeout_ms=20000)
deadline = time.monotonic() + 10
while fetch(server, "127.0.0.1") != server.session_id and time.monotonic() < deadline:
    time.sleep(0.1)
results["server_id"] = server.session_id
results["peer_by_name"] = fetch(sessions["peer"], server.session_id)
results["stranger_by_name"] = fetch(sessions["stranger"], server.session_id)
found = sessions["peer"].command.execute_command(f"getent hosts {server.session_id}", 20000)
server_address = str(found.output).split()[0]
results["server_address"] = server_address
results["peer_by_address"] = fetch(sessions["peer"], server_address)
results["stranger_by_address"] = fetch(sessions["stranger"], server_address)
results["loner_by_address"] = fetch(sessions["loner"], server_address)
results["deleted"] = [s.delete().success for s in sessions.values()]
Path(sys.argv[1]).write_text(json.dumps(results, indent=1))
