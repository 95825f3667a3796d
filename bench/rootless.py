"""Rootless sessions against root ones, measured in the same run (``python -m bench.rootless``).

With ``--old TREE [--new TREE]``: the new tree (default this one) against the old (before
and after a change), in both modes, the four alternating round by round (``git worktree
add /tmp/old <commit>`` makes a TREE).

Run as root. The same measurement runs as root and, through ``runuser``, as the ordinary
user that ``.ci/test-rootless --prepare`` sets up (a copy of this checkout, a venv and the
built-in images in its home): create -> first command with no pool (every sandbox started
from scratch, where the user namespace and the overlays cost their time) and with a warm
pool (what ``serve`` gives a client), and the idle memory of a session, each on
code_latest's own root filesystem and on the host's ``/`` (``serve --host-root``, the
baseline). Rounds alternate between the two modes so that machine load hits both alike.
Prints the p50s, the rootless/root ratios (targets: create -> first command within 1.3x,
idle memory the same) and the image/host ratios; ``make bench`` reports the same
(``section_image_roots``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agentbay_local.images.base_images import CACHE_ENV
from bench.harness import p50

REPO = Path(__file__).resolve().parent.parent
ECHO = {"command": "echo ok", "timeout_ms": 5000}
#: Longest wait for the pool to hand a sandbox out (a failing start is logged, not raised).
POOL_WAIT_S = 60.0


def _rss_bytes(pid: int) -> int:
    """Resident memory of one process (0 once it has exited)."""
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


#: The measured scenarios: the pool, then the root filesystem ("image": code_latest's own;
#: "host": the host's /, the baseline).
KEYS = ("cold image", "warm image", "cold host", "warm host")


async def _round(sessions: int) -> dict[str, list[float]]:
    """One round in this process's mode: samples in seconds (``KEYS``), idle memory in
    bytes (``idle_rss <base>``)."""
    from agentbay_local.images.base_images import BaseImageCache
    from agentbay_local.sandbox import SandboxManager
    from agentbay_local.sandbox.image import HOST_ROOT

    cache = BaseImageCache()
    # As serve runs it (one of an older manifest too), held while measured.
    image, record = cache.sandbox_image("code_latest", outdated=True)
    bases = {"image": image, "host": HOST_ROOT}
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="agentbay-bench-") as scratch, cache.hold(record):
        for key in KEYS:
            pool, base = key.split()
            pool_size, image = (0 if pool == "cold" else 1), bases[base]
            manager = SandboxManager(Path(scratch) / key.replace(" ", "-"), pool_size=pool_size)
            await manager.start((image,))
            try:
                for index in range(sessions):
                    deadline = time.monotonic() + POOL_WAIT_S
                    while manager.ready_count(image) < pool_size:
                        if time.monotonic() > deadline:
                            raise SystemExit(f"no pooled sandbox of {key} within {POOL_WAIT_S} s")
                        await asyncio.sleep(0.005)
                    started = time.perf_counter()
                    sandbox = await manager.create(
                        f"b-{index}", hostname="b", image_id="code_latest", image=image
                    )
                    answer = await sandbox.call_tool("shell", ECHO, timeout_s=10)
                    results.setdefault(key, []).append(time.perf_counter() - started)
                    assert answer["isError"] is False, answer
                    if pool == "cold" and index == 0:
                        await asyncio.sleep(0.5)  # idle: nothing runs but the tool server
                        rss = sum(map(_rss_bytes, sandbox.pids()))
                        results.setdefault(f"idle_rss {base}", []).append(rss)
                    await manager.release(f"b-{index}")
            finally:
                await manager.close()
    return results


def _as_user(user: str, python: str, checkout: str, sessions: int) -> dict[str, list[float]]:
    argv = ["runuser", "-u", user, "--", python, "-m", "bench.rootless", "--child"]
    # runuser keeps the environment: root's choice of image cache is no place for the
    # user's images (its trees are root's, closed to the user); the user's own cache is.
    env = {key: value for key, value in os.environ.items() if key not in _OWN_CACHE}
    output = subprocess.run(
        [*argv, str(sessions)], cwd=checkout, env=env, capture_output=True, text=True, timeout=600
    )
    if output.returncode != 0:
        raise SystemExit(f"the rootless round failed: {output.stderr[-2000:]}")
    return dict(json.loads(output.stdout.splitlines()[-1]))


#: Variables naming root's image cache, which the rootless rounds must not inherit.
_OWN_CACHE = (CACHE_ENV, "XDG_CACHE_HOME")


def _child(tree: Path, sessions: int, python: str, user: str | None) -> dict[str, list[float]]:
    """One round of ``tree``'s code (``PYTHONPATH``) as root, or as ``user``."""
    argv = [python, "-m", "bench.rootless", "--child", str(sessions)]
    if user is not None:
        argv = ["runuser", "-u", user, "--", "env", f"PYTHONPATH={tree}", *argv]
    output = subprocess.run(
        argv,
        cwd=tree,
        env={
            **{
                key: value
                for key, value in os.environ.items()
                if user is None or key not in _OWN_CACHE
            },
            "PYTHONPATH": str(tree),
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    if output.returncode != 0:
        raise SystemExit(f"the round of {tree} failed: {output.stderr[-2000:]}")
    return dict(json.loads(output.stdout.splitlines()[-1]))


def _user_copy(tree: Path, user: str, home: Path, name: str) -> Path:
    """A copy of ``tree``'s files the user can read, in its home."""
    copy = home / name
    subprocess.run(["rm", "-rf", str(copy)], check=True)
    subprocess.run(["runuser", "-u", user, "--", "mkdir", "-p", str(copy)], check=True)
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=tree,
        capture_output=True,
        check=True,
    ).stdout
    packed = subprocess.run(
        ["tar", "--null", "-cf", "-", "-T", "-"], cwd=tree, input=files, capture_output=True
    ).stdout
    subprocess.run(["runuser", "-u", user, "--", "tar", "-xf", "-", "-C", str(copy)], input=packed)
    return copy


def compare(old: Path, new: Path, rounds: int, sessions: int, user: str, python: str) -> None:
    """Before (``old``) against after (``new``), root and rootless, rounds alternating."""
    home = Path(os.path.expanduser(f"~{user}"))
    trees = {"before": old, "after": new}
    copies = {name: _user_copy(tree, user, home, f"bench-{name}") for name, tree in trees.items()}
    totals: dict[str, dict[str, list[float]]] = {}
    for _ in range(rounds):
        for name, tree in trees.items():
            for mode, side in (("root", tree), ("rootless", copies[name])):
                samples = _child(
                    side,
                    sessions,
                    sys.executable if mode == "root" else python,
                    None if mode == "root" else user,
                )
                for key, values in samples.items():
                    totals.setdefault(f"{mode} {name}", {}).setdefault(key, []).extend(values)
    print(f"{os.cpu_count()} CPUs, {rounds} rounds x {sessions}, before {old}, after {new}")
    for mode in ("root", "rootless"):
        before, after = totals[f"{mode} before"], totals[f"{mode} after"]
        for key in sorted(set(before) & set(after)):  # trees of other versions differ
            unit, scale = ("MiB", 1 / 2**20) if key.startswith("idle") else ("ms", 1000.0)
            b, a = p50(before[key]) * scale, p50(after[key]) * scale
            print(
                f"{mode:<9} {key:<9} p50 before {b:7.1f} {unit}  after {a:7.1f} {unit}  "
                f"ratio {a / b:.2f}"
            )


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=10, help="per round and scenario")
    parser.add_argument("--user", default=os.environ.get("AGENTBAY_CI_USER", "agentbay-ci"))
    parser.add_argument("--python", help="the user's interpreter (default: prepare one)")
    parser.add_argument("--checkout", help="a checkout the user can read (with --python)")
    parser.add_argument("--old", type=Path, help="compare a tree (--new) against OLD instead")
    parser.add_argument("--new", type=Path, default=REPO, help="the tree after (with --old)")
    options = parser.parse_args()
    if options.child is not None:
        print(json.dumps(asyncio.run(_round(options.child))))
        return
    if os.geteuid() != 0:
        raise SystemExit("run as root: it measures root mode and, as another user, rootless")
    python, checkout = (
        (options.python, options.checkout)
        if options.python and options.checkout
        else prepare(options.user)
    )
    if options.old is not None:
        old, new = options.old.resolve(), options.new.resolve()
        compare(old, new, options.rounds, options.sessions, options.user, python)
        return
    totals = measure(options.rounds, options.sessions, options.user, python, checkout)
    print(f"{sys.platform}, {os.cpu_count()} CPUs, {options.rounds} rounds x {options.sessions}")
    for line in summary(totals):
        print("  ".join(line))


def prepare(user: str) -> tuple[str, str]:
    """The ordinary user's interpreter and checkout (``.ci/test-rootless --prepare``: a
    copy of this checkout, a venv and code_latest built in its own cache)."""
    prepared = subprocess.run(
        [str(REPO / ".ci" / "test-rootless"), "--prepare", "code_latest"],  # all it runs
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "AGENTBAY_CI_USER": user},
    )
    python, checkout = prepared.stdout.split()[-2:]
    return python, checkout


def measure(
    rounds: int, sessions: int, user: str, python: str, checkout: str
) -> dict[str, dict[str, list[float]]]:
    """``rounds`` rounds of ``sessions`` per scenario, root and rootless alternating: the
    samples by mode, then by ``KEYS`` (and ``idle_rss <base>``)."""
    totals: dict[str, dict[str, list[float]]] = {"root": {}, "rootless": {}}
    for _ in range(rounds):
        measured = {
            "root": asyncio.run(_round(sessions)),
            "rootless": _as_user(user, python, checkout, sessions),
        }
        for mode, samples in measured.items():
            for key, values in samples.items():
                totals[mode].setdefault(key, []).extend(values)
    return totals


def summary(totals: dict[str, dict[str, list[float]]]) -> list[list[str]]:
    """One row per scenario: p50 root and rootless, their ratio, and for the image rows the
    image/host ratio of each mode."""
    rows = []
    for key in (*KEYS, "idle_rss image", "idle_rss host"):
        root, rootless = p50(totals["root"][key]), p50(totals["rootless"][key])
        unit, scale = ("MiB", 1 / 2**20) if key.startswith("idle") else ("ms", 1000.0)
        row = [key, f"{root * scale:.1f} {unit}", f"{rootless * scale:.1f} {unit}"]
        row.append(f"{rootless / root:.2f}")
        base = key.replace("image", "host")
        if key != base:
            host_root, host_rootless = p50(totals["root"][base]), p50(totals["rootless"][base])
            row.append(f"{root / host_root:.2f} / {rootless / host_rootless:.2f}")
        else:
            row.append("-")
        rows.append(row)
    return rows


if __name__ == "__main__":
    main()
