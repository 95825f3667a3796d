"""Runs the OFFICIAL client 0.22.3's direct context mounts (BetaContextMount) against the
runtime: at create (CreateSessionParams(beta_context_mounts=...)) and on a running session
(session.context.bind, a mount beside a sync). The local runtime refuses them whole.

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
before = len(bay.list().session_ids)
mounted = bay.create(
    CreateSessionParams(beta_context_mounts=[BetaContextMount(context.id, "/mnt/data")])
)
results["create_success"] = mounted.success
results["create_error"] = mounted.error_message
results["sessions_added"] = len(bay.list().session_ids) - before

session = bay.create(CreateSessionParams()).session
try:
    # 0.22.3's bind reads a refusal in an HTTP 200 answer and raises on an HTTP 4xx one
    # (the runtime's, as for every refused request).
    try:
        bound = session.context.bind(
            ContextSync.new(context.id, "/tmp/synced"),
            BetaContextMount(
                context.id, "/mnt/ro", access_mode=BetaContextMountAccessMode.READ_ONLY
            ),
        )
        results["bind_success"] = bound.success
        results["bind_error"] = bound.error_message
    except Exception as exc:  # the client's ClientException
        results["bind_success"] = False
        results["bind_error"] = str(exc)
    results["bindings"] = [b.context_id for b in session.context.list_bindings().bindings]
finally:
    session.delete()
    bay.context.delete(context)
Path(sys.argv[1]).write_text(json.dumps(results))
