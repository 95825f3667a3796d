"""Nothing of the host's layout shows inside a session: not the checkout (wherever it
lives, a path with a space under /tmp included), its venv, the interpreter's prefix or the
data dir; the tool server runs from fixed paths."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentbay_local.sandbox import Sandbox, layers
from agentbay_local.sandbox.image import HOST_ROOT, SandboxImage
from agentbay_local.sandbox.inside import jail
from tests.runtime.sandbox.conftest import Env
from tests.support.paths import REPO

#: What a session shows of itself that could name host paths.
PROBES = {
    "mounts": "cat /proc/mounts",
    "mountinfo": "cat /proc/self/mountinfo",
    "cmdline": "tr '\\0' ' ' < /proc/1/cmdline",
    "boot": "cat /proc/cmdline",
    "environ": "tr '\\0' '\\n' < /proc/self/environ",
    "private": "ls -A /tmp /var/tmp /home /mnt /root",
}
#: A runtime started from another checkout: one session, the probes' output as JSON.
RUN_PROBES = """
import asyncio, json, sys
from pathlib import Path
import agentbay_local
from agentbay_local.sandbox import SandboxManager

async def main():
    manager = SandboxManager(Path(sys.argv[1]), pool_size=0)
    await manager.start()
    try:
        box = await manager.create("paths", hostname="paths", image_id="linux_latest")
        out = {"package": agentbay_local.__file__}
        for name, command in json.loads(sys.argv[2]).items():
            answer = await box.call_tool("shell", {"command": command}, timeout_s=30)
            out[name] = answer["content"][0]["text"]
        print(json.dumps(out))
    finally:
        await manager.close()

asyncio.run(main())
"""


def _host_paths(*extra: Path) -> list[str]:
    """Host directories no session may name: the checkout, the venv, the interpreter's
    installation unless it is part of the system (``/usr``: the image's own), plus
    ``extra`` (data dirs, other checkouts)."""
    paths = {REPO, Path(sys.prefix), *extra}
    prefix = Path(os.path.realpath(sys.base_prefix))
    private = {name for name in layers.PRIVATE_DIRS if "/" not in name}
    if prefix.parts[1] not in layers.SYSTEM_ENTRIES or prefix.parts[1] in private:
        paths.add(prefix)
    return sorted({str(path) for path in paths} | {os.path.realpath(path) for path in paths})


def _assert_nothing_named(
    outputs: dict[str, str], paths: list[str], image: SandboxImage = HOST_ROOT
) -> None:
    """No output names ``paths``; the private directories hold only what the image has
    (on the host's ``/``: nothing), and the tool server runs on the image's Python (on the
    host's ``/``: the runtime's, at its fixed path)."""
    for name, text in outputs.items():
        for path in paths:
            assert path not in text, (name, path, text)
    assert outputs["boot"] == ""
    expected = []
    for private in ("/home", "/mnt", "/root", "/tmp", "/var/tmp"):
        expected.append(f"{private}:")
        if image.tree is not None:
            expected += sorted(os.listdir(f"{image.tree}{private}"))
    assert outputs["private"].split() == expected
    python = f"{image.python} " if image.tree is not None else f"{jail.FIXED_PYTHON}/"
    assert outputs["cmdline"].startswith(python)


def test_session_names_no_host_path(env: Env, box: Sandbox) -> None:
    outputs = {name: env.sh(box, command) for name, command in PROBES.items()}
    _assert_nothing_named(outputs, _host_paths(env.data_dir), env.image)
    # The tool server's code and interpreter are where the cmdline says.
    assert f" {jail.FIXED_ROOT} " in outputs["cmdline"]
    tool_server = f"{jail.FIXED_CODE}/toolserver.py"
    assert env.sh(box, f"ls {tool_server}") == f"{tool_server}\n"


@pytest.fixture()
def checkout_in_tmp() -> Iterator[Path]:
    """A copy of this checkout's packages (what a runtime runs) under /tmp, in a directory
    whose name has a space."""
    parent = Path(tempfile.mkdtemp(prefix="agentbay checkout ", dir="/tmp"))
    os.chmod(parent, 0o755)
    copy = parent / "agentbay"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("agentbay", "agentbay_local"):
        shutil.copytree(REPO / package, copy / package, ignore=ignore)
    try:
        yield copy
    finally:
        shutil.rmtree(parent)


def test_a_checkout_under_tmp_shows_none_of_its_path(checkout_in_tmp: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "-c", RUN_PROBES, str(data_dir), json.dumps(PROBES)],
        cwd=checkout_in_tmp,
        env={**os.environ, "PYTHONPATH": str(checkout_in_tmp)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = json.loads(result.stdout.splitlines()[-1])
    # The runtime ran from the copy, so the copy's code is what sessions must not name.
    assert outputs.pop("package").startswith(str(checkout_in_tmp))
    _assert_nothing_named(outputs, _host_paths(checkout_in_tmp.parent, data_dir))
    assert "agentbay checkout" not in "".join(outputs.values())
