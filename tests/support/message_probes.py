"""Inputs every caller can get wrong, and the message each one gets back.

Written against the 0.9.3 API and run twice: by the official client's interpreter (through
tests/runtime/e2e/official_driver.py, with ``wuying-agentbay-sdk`` as ``agentbay``) and in-process
with
this project's ``agentbay``; the two answers must be word for word the same. Nothing here
reaches a server: each probe is refused before any request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _outcome(probe: Callable[[], Any]) -> dict[str, str]:
    try:
        result = probe()
    except Exception as exc:  # the message is the point, whatever the type
        return {"raised": type(exc).__name__, "message": str(exc)}
    return {"raised": "", "message": str(getattr(result, "error_message", result))}


def probe_messages(bay: Any) -> dict[str, dict[str, str]]:
    """``{probe name: {"raised": exception type or "", "message": text}}`` for ``bay``."""
    from agentbay.context_sync import Lifecycle, RecyclePolicy, WhiteList
    from agentbay.session import Session

    session = Session(bay, "session-probe-never-created")
    probes: dict[str, Callable[[], Any]] = {
        "white_list_path": lambda: WhiteList(path="/data/*.json"),
        "white_list_exclude_paths": lambda: WhiteList(path="/data", exclude_paths=["*.log"]),
        "recycle_policy_paths": lambda: RecyclePolicy(
            lifecycle=Lifecycle.LIFECYCLE_1DAY, paths=["/valid/path", "/invalid/path?"]
        ),
        "recycle_policy_lifecycle": lambda: RecyclePolicy(lifecycle="invalid_lifecycle"),  # type: ignore[arg-type]
        "recycle_policy_both": lambda: RecyclePolicy(
            lifecycle="1day",  # type: ignore[arg-type]
            paths=["/invalid/path/*"],
        ),
        "get_empty_id": lambda: bay.get(""),
        "get_blank_id": lambda: bay.get("   "),
        "list_page_zero": lambda: bay.list(page=0),
        "link_port": lambda: session.get_link(port=80),
        "write_mode": lambda: session.file_system.write_file("/tmp/x", "y", mode="insert"),
        "run_code_language": lambda: session.code.run_code("puts 1", "ruby"),
    }
    return {name: _outcome(probe) for name, probe in probes.items()}
