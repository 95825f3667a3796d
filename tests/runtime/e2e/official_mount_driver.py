"""Runs the OFFICIAL client 0.22.3's direct context mounts (BetaContextMount) against the
runtime: at create (CreateSessionParams(beta_context_mounts=...)) and on a running session
(session.context.bind, a read-only mount beside a sync).

Executed by tests/runtime/e2e/test_context_mounts.py with the client's own interpreter; it
imports nothing of this project but loopback_only. The results go to the JSON file named by
the first argument.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(1, str(Path(__file__).resolve().parents[2] / "support"))

import loopback_only  # noqa: F401  (first: nothing below reaches past loopback)

from agentbay import (  # the official client
    AgentBay,
    BetaContextMount,
    BetaContextMountAccessMode,
    ContextSync,
    CreateSessionParams,
)

results: dict[str, Any] = {}
bay = AgentBay()
context = bay.context.get(f"mount-{Path.cwd().name[-8:]}", create=True).context
mounted = bay.create(
    CreateSessionParams(beta_context_mounts=[BetaContextMount(context.id, "/mnt/data")])
)
results["create_success"] = mounted.success
session = bay.create(CreateSessionParams()).session
try:
    bound = session.context.bind(
        ContextSync.new(context.id, "/tmp/synced"),
        BetaContextMount(context.id, "/mnt/ro", access_mode=BetaContextMountAccessMode.READ_ONLY),
    )
    results["bind_success"] = bound.success
    mounted.session.file_system.write_file("/mnt/data/o.txt", "official")
    results["seen_by_other"] = session.file_system.read_file("/mnt/ro/o.txt").content
    results["read_only_write"] = session.file_system.write_file("/mnt/ro/p.txt", "x").success
    listed = session.context.list_bindings()
    results["bindings"] = [
        {"context_id": b.context_id, "path": b.path, "policy": b.policy, "bind_time": b.bind_time}
        for b in listed.bindings
    ]
finally:
    session.delete()
    mounted.session.delete()
    bay.context.delete(context)
Path(sys.argv[1]).write_text(json.dumps(results))
