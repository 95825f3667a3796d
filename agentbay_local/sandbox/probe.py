"""Can this machine run isolated sandboxes? Checked once per process, by really starting one."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import threading
from functools import cache
from pathlib import Path

from agentbay_local.sandbox import userns
from agentbay_local.sandbox.egress import NetworkPolicy
from agentbay_local.sandbox.host_programs import SANDBOX_PATH, unshare_binary
from agentbay_local.sandbox.manager import SandboxManager


@cache
def isolation_problem() -> str | None:
    """None when namespaces, overlayfs and pivot_root work here; else the reason."""
    return quick_problem() or _trial()


def quick_problem() -> str | None:
    """The reasons ``isolation_problem`` finds without starting a sandbox (or None)."""
    if sys.platform != "linux":
        return f"isolated sessions need Linux namespaces (this is {sys.platform})"
    if unshare_binary() is None:
        return "the util-linux 'unshare' program is not installed"
    try:
        with open("/proc/filesystems") as handle:
            if "overlay" not in handle.read():
                return "the kernel has no overlayfs (try: modprobe overlay)"
    except OSError as exc:
        return f"cannot read /proc/filesystems: {exc}"
    if userns.rootless():
        return user_namespace_problem()
    return None


def _sysctl(name: str) -> str | None:
    """The value of ``/proc/sys/<name with dots as slashes>``, None where it does not exist."""
    try:
        with open("/proc/sys/" + name.replace(".", "/")) as handle:
            return handle.read().strip()
    except OSError:
        return None


#: How to change a kernel setting, for the explanations below.
_SET = "as root: sysctl -w {setting}; to keep it, put '{setting}' in /etc/sysctl.d/90-agentbay.conf"


def user_namespace_problem() -> str | None:
    """Why this (non-root) user cannot create the user namespaces rootless sessions need,
    and how to allow it; None when nothing is in the way."""
    if _sysctl("user.max_user_namespaces") == "0":
        return (
            "user namespaces are disabled (user.max_user_namespaces = 0); to enable them, "
            + _SET.format(setting="user.max_user_namespaces=15000")
        )
    if _sysctl("kernel.unprivileged_userns_clone") == "0":
        return (
            "this kernel lets only root create user namespaces "
            "(kernel.unprivileged_userns_clone = 0); to allow users, "
            + _SET.format(setting="kernel.unprivileged_userns_clone=1")
        )
    if _sysctl("kernel.apparmor_restrict_unprivileged_userns") == "1":
        return (
            "AppArmor forbids unprivileged user namespaces "
            "(kernel.apparmor_restrict_unprivileged_userns = 1, Ubuntu 23.10 and later); "
            "to allow them, "
            + _SET.format(setting="kernel.apparmor_restrict_unprivileged_userns=0")
            + " (or give this Python an AppArmor profile with the 'userns' permission)"
        )
    unshare = unshare_binary()
    assert unshare is not None  # checked by the caller
    try:
        trial = subprocess.run(
            [unshare, "--user", "--map-root-user", "--mount", "--pid", "--fork", "true"],
            capture_output=True,
            timeout=10,
            env={"PATH": SANDBOX_PATH, "LANG": "C"},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot create a user namespace: {exc}"
    if trial.returncode != 0:
        error = trial.stderr.decode(errors="replace").strip()
        return (
            f"cannot create a user namespace as this user ({error or trial.returncode}); "
            "isolated sessions need unprivileged user namespaces (or run the runtime as root)"
        )
    return None


def isolation_notes() -> list[str]:
    """What isolated sessions are on this machine (their ids), and what they lack without
    being refused, for humans."""
    if not userns.rootless():
        ids = userns.root_mode_ids()
        return [
            f"each session has its own user namespace: its root is uid {ids.start} on the "
            f"host, its ids 0-{ids.count - 1} host ids no one else uses (nobody on the host)"
        ]
    notes = [
        "rootless mode: each session has its own user namespace ("
        + userns.id_mapping().describe()
        + "); the host's system files are read-only in sessions"
    ]
    missing = userns.missing_id_mapping()
    if missing:
        notes.append(missing)
    return notes


def _trial() -> str | None:
    """Start a real sandbox in a scratch data dir, run one command, release it."""
    result: list[str | None] = []

    def run() -> None:
        try:
            result.append(asyncio.run(_trial_session()))
        except Exception as exc:
            result.append(f"a trial sandbox failed: {exc}")

    # A thread of its own: the caller may already be inside a running event loop.
    worker = threading.Thread(target=run, name="agentbay-isolation-probe")
    worker.start()
    worker.join()
    return result[0] if result else "the trial sandbox did not finish"


async def _trial_session() -> str | None:

    scratch = Path(tempfile.mkdtemp(prefix="agentbay-probe-"))
    # Loopback only: isolation must not hinge on egress, which serve checks on its own
    # (``egress.egress_problem``) and can do without.
    manager = SandboxManager(scratch, pool_size=0, network=NetworkPolicy("none"))
    try:
        await manager.start()
        sandbox = await manager.create("probe", hostname="probe", image_id="probe")
        answer = await sandbox.call_tool(
            "shell", {"command": "hostname", "timeout_ms": 10000}, timeout_s=20
        )
        text = answer["content"][0]["text"] if answer["content"] else ""
        if answer["isError"] or text.strip() != "probe":
            return f"a trial sandbox did not work: {text.strip() or 'no output'}"
        return None
    finally:
        await manager.close()
        shutil.rmtree(scratch, ignore_errors=True)
