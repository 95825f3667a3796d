"""Runs an OFFICIAL client (0.13.1, 0.15.2 or 0.22.3) through the calls that send the actions
and fields 0.9.3 did not, against the recording server of record.py.

Executed with the official client's own interpreter; it imports nothing of this project but
loopback_only. Each step is tried on its own (a version without the method skips it, a step
that fails is noted): the recording is what matters, the results say which steps ran.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(1, str(Path(__file__).resolve().parents[2] / "support"))

import loopback_only  # noqa: F401  (first: nothing below reaches past loopback)

import agentbay
from agentbay import AgentBay, CreateSessionParams

results: dict[str, Any] = {}


def step(name: str, run: Callable[[], Any]) -> None:
    try:
        value = run()
        results[name] = repr(value)[:200]
    except AttributeError as exc:
        results[name] = f"absent: {exc}"
    except Exception:
        results[name] = "failed: " + traceback.format_exc()[-400:]


def create(**params: Any) -> Any:
    result = client.create(CreateSessionParams(**params))
    assert result.success, result.error_message
    return result.session


client = AgentBay()
lifecycle = getattr(agentbay, "LifecyclePolicy", None)
session = create(labels={"suite": "capture"})
step("list_status_image", lambda: client.list(status="RUNNING", image_id="linux_latest"))
step("list_status", lambda: client.list(status="RUNNING"))
step("get_status", lambda: session.get_status())
step("keep_alive", lambda: session.keep_alive())
# 0.13.1 calls them pause/resume; 0.15 on, beta_pause/beta_resume.
pause = getattr(session, "beta_pause", None) or session.pause
resume = getattr(session, "beta_resume", None) or session.resume
step("pause", lambda: pause(timeout=10, poll_interval=0.05))
step("resume", lambda: resume(timeout=10, poll_interval=0.05))
step(
    "cdp_link",
    lambda: (
        session.browser.initialize(agentbay.BrowserOption()),
        session.browser.get_endpoint_url(),
    ),
)
step("adb_url", lambda: session.mobile.get_adb_url("adbkey-pub-rec"))
step("ensure_file_context", lambda: session.file_system.get_file_transfer_context_path())
step("context_clear", lambda: client.context.clear_async("ctx-1"))
step("context_clear_status", lambda: client.context.get_clear_status("ctx-1"))
step("list_bindings", lambda: session.context.list_bindings())
step(
    "bind",
    lambda: session.context.bind(
        agentbay.ContextSync.new("ctx-1", "/tmp/bound"), wait_for_completion=False
    ),
)
mount_params = getattr(agentbay, "BetaContextMount", None)
if mount_params is not None:  # 0.22.3: direct-mount persistence
    access = agentbay.BetaContextMountAccessMode
    strategy = agentbay.BetaContextMountStrategy
    step(
        "bind_mount",
        lambda: session.context.bind(
            mount_params(context_id="ctx-1", path="/mnt/data"),
            agentbay.ContextSync.new("ctx-2", "/tmp/synced"),
            mount_params(
                context_id="ctx-3",
                path="/mnt/ro",
                access_mode=access.READ_ONLY,
                strategy=strategy.PERFORMANCE,
                source_path="sub/dir",
            ),
            wait_for_completion=False,
        ),
    )
step("network", lambda: client.beta_network.get_network_bind_token())
step("network_describe", lambda: client.beta_network.describe("net-rec-1"))
step("skills", lambda: client.beta_skills.get_metadata())
step("skills_by_id", lambda: client.beta_skills.get_metadata(skill_ids=["skill-1"]))
step(
    "skills_bind",
    lambda: client.beta_skills.bind_context(
        [{"context_id": "ctx-1", "skill_ids": ["skill-1"], "path": "/skills"}]
    ),
)
step(
    "skills_unbind",
    lambda: client.beta_skills.unbind_context(
        [{"context_id": "ctx-1", "skill_ids": ["skill-1"], "path": "/skills"}]
    ),
)
step("delete", lambda: session.delete())
if lifecycle is not None:
    step(
        "create_lifecycle",
        lambda: create(lifecycle_policy=lifecycle(idle_release_timeout=7, max_runtime=60)),
    )
    step(
        "create_manual_release",
        lambda: create(lifecycle_policy=lifecycle(manual_release=True)),
    )
step("create_idle_seconds", lambda: create(idle_release_timeout=90))
step("create_network", lambda: create(beta_network_id="net-rec-1"))
if mount_params is not None:
    step(
        "create_mounts",
        lambda: create(
            beta_context_mounts=[
                mount_params(context_id="ctx-1", path="/mnt/data"),
                mount_params(
                    context_id="ctx-3",
                    path="/mnt/ro",
                    access_mode=access.READ_ONLY,
                    source_path="sub",
                ),
            ],
        ),
    )
step("list_deleted", lambda: client.list(status="DELETED"))
Path(sys.argv[1]).write_text(json.dumps(results, indent=1))
