"""Runs an OFFICIAL client of today (wuying-agentbay-sdk 0.22.3; 0.13.1 and 0.15.2 where they
have the method) against a local runtime: status, list by status and image, keep-alive,
pause and resume, delete, the lifecycle set at create, and the cloud-only parts.

Executed by tests/runtime/e2e/test_official_today.py with the client's own interpreter; it
imports nothing of this project but loopback_only. The results go to the JSON file named by
the first argument; the ids of sessions it deliberately never deletes, too.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(1, str(Path(__file__).resolve().parents[2] / "support"))

import loopback_only  # noqa: F401  (first: nothing below reaches past loopback)

import agentbay
from agentbay import AgentBay, CreateSessionParams

#: A process of the session that counts and logs the time: "<token> <n> <time>" a line every
#: 20 ms. The token lives in its memory only; a pause shows as a gap in the times, a process
#: that continued (not restarted) as the same token and the next n.
TICKER = r"""
import os, random, time
token = "%016x" % random.getrandbits(64)
n = 0
with open("/tmp/ticks", "a", buffering=1) as out:
    while True:
        n += 1
        out.write("%s %d %.6f\n" % (token, n, time.time()))
        time.sleep(0.02)
"""

results: dict[str, Any] = {}
client = AgentBay()


def record(name: str, value: Any) -> None:
    results[name] = value


def shell(session: Any, command: str) -> Any:
    return session.command.execute_command(command, timeout_ms=20000)


def status(session: Any) -> str:
    if hasattr(session, "get_status"):
        got = session.get_status()
        return str(got.status) if got.success else f"error: {got.error_message}"
    got = client.get_session(session.session_id)  # 0.13.1: GetSession
    return str(got.data.status) if got.success and got.data else f"error: {got.error_message}"


def failure(result: Any) -> str:
    """A result's error text ("" on success): 0.22 says error_message, 0.13 error."""
    return getattr(result, "error_message", None) or getattr(result, "error", None) or ""


def listed(**filters: Any) -> list[str]:
    try:
        got = client.list(**filters)
    except TypeError:  # an older client without that filter
        return ["absent"]
    if not got.success:
        return [f"error: {got.error_message}"]
    # 0.22 lists {"sessionId", "sessionStatus", "appInstanceId", "imageId"}; older, ids.
    return [item["sessionId"] if isinstance(item, dict) else item for item in got.session_ids]


created = client.create(CreateSessionParams(labels={"suite": "today"}))
assert created.success, created.error_message
session = created.session
sid = session.session_id
record("session_id", sid)
record("status_running", status(session))
record("command", shell(session, "echo today").output)
failed = shell(session, "echo out; echo err >&2; exit 3")
record("command_exit", [failed.success, getattr(failed, "exit_code", None)])
record("command_streams", [getattr(failed, "stdout", None), getattr(failed, "stderr", None)])
if "cwd" in session.command.execute_command.__code__.co_varnames:
    placed = session.command.execute_command(
        "pwd; echo $TODAY_ONLY", timeout_ms=20000, cwd="/usr", envs={"TODAY_ONLY": "yes"}
    )
    record("command_cwd_envs", [placed.exit_code, placed.stdout])
    record("command_envs_once", shell(session, "echo ${TODAY_ONLY-unset}").output)
record("list_running_linux", sid in listed(status="RUNNING", image_id="linux_latest"))
record("list_running_code", sid in listed(status="RUNNING", image_id="code_latest"))
record("list_paused_before", sid in listed(status="PAUSED"))
if hasattr(session, "keep_alive"):
    alive = session.keep_alive()
    record("keep_alive", [alive.success, alive.error_message])

# File transfer through the session's internal file-transfer context (0.13+).
if hasattr(session.file_system, "upload_file"):
    local = Path(sys.argv[1]).with_name("up.txt")
    local.write_text("uploaded by today's client")
    up = session.file_system.upload_file(str(local), "/tmp/up.txt")
    record("upload", [up.success, failure(up)])
    record("uploaded", session.file_system.read_file("/tmp/up.txt").content)
    shell(session, "echo from the session > /tmp/down.txt")
    target = local.with_name("down.txt")
    down = session.file_system.download_file("/tmp/down.txt", str(target))
    record("download", [down.success, failure(down)])
    record("downloaded", target.read_text() if target.exists() else None)
    if "format" in session.file_system.read_file.__code__.co_varnames:  # 0.22: bytes
        blob = bytes(range(256)) * 240  # every byte value, two of its 51200-byte chunks
        local.with_name("blob.bin").write_bytes(blob)
        session.file_system.upload_file(str(local.with_name("blob.bin")), "/tmp/blob.bin")
        read = session.file_system.read_file("/tmp/blob.bin", format="bytes")
        record("read_bytes", [read.success, failure(read), read.content == blob])

# The browser's CDP URL (0.13+ ask GetCdpLink for it).
try:
    record("browser_init", session.browser.initialize(agentbay.BrowserOption()))
    record("cdp_url", session.browser.get_endpoint_url())
except Exception as exc:  # reported, not fatal: the other steps still run
    record("browser_error", f"{type(exc).__name__}: {exc}")

# A browser_latest session's CDP link right after create, as the official suite asks it
# (the low-level client's GetCdpLink, no InitBrowser first).
if hasattr(client.client, "get_cdp_link"):
    from agentbay.api.models import GetCdpLinkRequest

    browser = client.create(CreateSessionParams(image_id="browser_latest")).session
    try:
        asked = GetCdpLinkRequest(
            authorization=f"Bearer {client.api_key}", session_id=browser.session_id
        )
        record("cdp_link_at_create", client.client.get_cdp_link(asked).body.data.url)
    except Exception as exc:  # reported, not fatal
        record("cdp_link_at_create", f"{type(exc).__name__}: {exc}")
    finally:
        browser.delete()

# The tools 0.22 added: environment variables, metrics, delete_file.
if hasattr(session, "env"):
    env_set = session.env.set({"TODAY_VAR": "set by 0.22"})
    record("env_set", [env_set.success, failure(env_set)])
    record("env_seen", shell(session, "echo $TODAY_VAR").output)
    record("env_get", session.env.get(["TODAY_VAR"]).envs)
if hasattr(session, "get_metrics"):
    metrics = session.get_metrics()
    record("metrics", [metrics.success, failure(metrics)])
    record("metrics_mem_used", metrics.metrics.mem_used if metrics.metrics else 0)
if hasattr(session.file_system, "delete_file"):
    session.file_system.write_file("/tmp/delete-me", "x")
    removed = session.file_system.delete_file("/tmp/delete-me")
    record("delete_file", [removed.success, failure(removed)])
    record("deleted_gone", shell(session, "test -e /tmp/delete-me; echo $?").output)

# Contexts bound to the running session, listed, filled by a sync, then cleared (0.22).
if hasattr(session.context, "bind"):
    got = client.context.get(f"today-{sid}", create=True)
    assert got.success, got.error_message
    context_id = got.context_id
    bound = session.context.bind(agentbay.ContextSync.new(context_id, "/tmp/bound"))
    record("bind", [bound.success, failure(bound)])
    bindings = [b.context_id for b in session.context.list_bindings().bindings]
    record("bound_listed", context_id in bindings)
    shell(session, "mkdir -p /tmp/bound && echo one > /tmp/bound/one.txt")
    synced = session.context.sync(context_id=context_id, path="/tmp/bound", mode="upload")
    record("sync_upload", synced.success)
    before = client.context.list_files(context_id, "/tmp/bound")  # the cloud's file paths
    record("files_before_clear", sorted(entry.file_name for entry in before.entries))
    cleared = client.context.clear(context_id, timeout=30, poll_interval=0.1)
    record("clear", [cleared.success, failure(cleared), getattr(cleared, "status", "")])
    after = client.context.list_files(context_id, "/")
    record("files_after_clear", sorted(entry.file_name for entry in after.entries))

# Pause and resume with a process running: it is frozen, then continues.
session.file_system.write_file("/tmp/ticker.py", TICKER)
shell(session, "nohup python3 /tmp/ticker.py > /dev/null 2>&1 &")
deadline = time.monotonic() + 30
while shell(session, "cat /tmp/ticks 2>/dev/null | wc -l").output.strip() in ("", "0"):
    if time.monotonic() > deadline:
        break
    time.sleep(0.05)
pause = getattr(session, "beta_pause", None) or session.pause
resume = getattr(session, "beta_resume", None) or session.resume
paused = pause(timeout=60, poll_interval=0.1)
record("pause", [paused.success, paused.error_message, getattr(paused, "status", "")])
record("status_paused", status(session))
record("list_paused", sid in listed(status="PAUSED"))
while_paused = shell(session, "echo should-not-run")
record("command_while_paused", [while_paused.success, while_paused.error_message])
time.sleep(1.0)  # the measurement window: a frozen session's ticker writes nothing in it
resumed = resume(timeout=60, poll_interval=0.1)
record("resume", [resumed.success, resumed.error_message, getattr(resumed, "status", "")])
record("status_resumed", status(session))
deadline = time.monotonic() + 30
ticks = ""
while time.monotonic() < deadline:
    ticks = shell(session, "cat /tmp/ticks").output
    times = [float(line.split()[2]) for line in ticks.splitlines() if line.strip()]
    if times and times[-1] > time.time() - 0.5:  # it writes again
        break
    time.sleep(0.05)
record("ticks", ticks)
record("after_resume", shell(session, "echo resumed").output)

# Cloud-only parts answer at once with a clear error.
if hasattr(session, "mobile") and hasattr(session.mobile, "get_adb_url"):
    adb = session.mobile.get_adb_url("adbkey-pub")
    record("adb", [adb.success, adb.error_message])
mobile = client.create(CreateSessionParams(image_id="mobile_latest"))
record("create_mobile", [mobile.success, mobile.error_message])
if hasattr(client, "beta_skills"):
    started = time.monotonic()
    try:
        skills = client.beta_skills.get_metadata()
        record("skills", [True, repr(skills)[:300]])
    except Exception as exc:
        record("skills", [False, str(exc)])
    record("skills_s", time.monotonic() - started)

# Delete: finished only once the session is gone.
deleted = session.delete()
record("delete", [deleted.success, deleted.error_message])
record("status_deleted", status(session))
record("list_deleted", sid in listed(status="DELETED"))
record("list_live_after_delete", sid in listed())

# Lifecycle at create: sessions this client never deletes.
never_deleted = {}
if "idle_release_timeout" in CreateSessionParams.__init__.__code__.co_varnames:
    idle = client.create(CreateSessionParams(idle_release_timeout=3, labels={"suite": "idle"}))
    assert idle.success, idle.error_message
    never_deleted["idle_3s"] = idle.session.session_id
    kept = client.create(CreateSessionParams(idle_release_timeout=3, labels={"suite": "kept"}))
    assert kept.success, kept.error_message
    # Kept alive for twice its idle timeout by keep_alive alone, then left to expire.
    started = time.monotonic()
    while time.monotonic() - started < 6.0:
        kept.session.keep_alive()
        time.sleep(1.0)
    record("kept_status_after_6s", status(kept.session))
    never_deleted["kept_then_idle"] = kept.session.session_id
lifecycle = getattr(agentbay, "LifecyclePolicy", None)
if lifecycle is not None:
    policy = client.create(
        CreateSessionParams(lifecycle_policy=lifecycle(idle_release_timeout=1, max_runtime=2))
    )
    record("create_lifecycle", [policy.success, policy.error_message])
    never_deleted["lifecycle_1min"] = policy.session.session_id
    manual = client.create(CreateSessionParams(lifecycle_policy=lifecycle(manual_release=True)))
    record("create_manual", [manual.success, manual.error_message])
    never_deleted["manual"] = manual.session.session_id
record("never_deleted", never_deleted)
Path(sys.argv[1]).write_text(json.dumps(results, indent=1))
