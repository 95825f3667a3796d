"""Can this machine run isolated sandboxes? Checked once per process, by really starting one."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import threading
from functools import cache
from pathlib import Path


@cache
def isolation_problem() -> str | None:
    """None when namespaces, overlayfs and pivot_root work here; else the reason."""
    return quick_problem() or _trial()


def quick_problem() -> str | None:
    """The reasons ``isolation_problem`` finds without starting a sandbox (or None)."""
    if sys.platform != "linux":
        return f"isolated sessions need Linux namespaces (this is {sys.platform})"
    if os.geteuid() != 0:
        return (
            "isolated sessions need root (namespaces, overlay mounts, cgroups); "
            "run the runtime as root"
        )
    from agentbay.local.sandbox.launch import unshare_binary

    if unshare_binary() is None:
        return "the util-linux 'unshare' program is not installed"
    try:
        with open("/proc/filesystems") as handle:
            if "overlay" not in handle.read():
                return "the kernel has no overlayfs (try: modprobe overlay)"
    except OSError as exc:
        return f"cannot read /proc/filesystems: {exc}"
    return None


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
    from agentbay.local.sandbox.manager import SandboxManager

    scratch = Path(tempfile.mkdtemp(prefix="agentbay-probe-"))
    manager = SandboxManager(scratch, pool_size=0)
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
