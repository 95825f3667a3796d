"""Rootless sessions against root ones, measured in the same run (``python -m bench.rootless``).

With ``--old TREE [--new TREE]``: the new tree (default this one) against the old (before
and after a change), in both modes, the four alternating round by round (``git worktree
add /tmp/old <commit>`` makes a TREE).

Run as root. The same measurement runs as root and, through ``runuser``, as the ordinary
user that ``.ci/test-rootless --prepare`` sets up (a copy of this checkout and a venv in its
home): create -> first command with no pool (every sandbox started from scratch, where the
user namespace and the in-namespace overlays cost their time) and with a warm pool (what
``serve`` gives a client), and the idle memory of a session. Rounds alternate between the
two modes so that machine load hits both alike. Prints the p50s and the rootless/root ratios
(targets: create -> first command within 1.5x, idle memory the same).
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

from bench.harness import p50

REPO = Path(__file__).resolve().parent.parent
ECHO = {"command": "echo ok", "timeout_ms": 5000}


def _rss_bytes(pid: int) -> int:
    """Resident memory of one process (0 once it has exited)."""
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


async def _round(sessions: int) -> dict[str, list[float]]:
    """One round in this process's mode: samples in seconds, idle memory in bytes."""
    from agentbay_local.sandbox import SandboxManager

    results: dict[str, list[float]] = {"cold": [], "warm": [], "idle_rss": []}
    with tempfile.TemporaryDirectory(prefix="agentbay-bench-") as scratch:
        for pool_size, key in ((0, "cold"), (1, "warm")):
            manager = SandboxManager(Path(scratch) / key, pool_size=pool_size)
            await manager.start()
            try:
                for index in range(sessions):
                    while len(manager._pool) < pool_size:
                        await asyncio.sleep(0.005)
                    started = time.perf_counter()
                    sandbox = await manager.create(f"b-{index}", hostname="b", image_id="x")
                    answer = await sandbox.call_tool("shell", ECHO, timeout_s=10)
                    results[key].append(time.perf_counter() - started)
                    assert answer["isError"] is False, answer
                    if key == "cold" and index == 0:
                        await asyncio.sleep(0.5)  # idle: nothing runs but the tool server
                        results["idle_rss"].append(sum(map(_rss_bytes, sandbox.pids())))
                    await manager.release(f"b-{index}")
            finally:
                await manager.close()
    return results


def _as_user(user: str, python: str, checkout: str, sessions: int) -> dict[str, list[float]]:
    argv = ["runuser", "-u", user, "--", python, "-m", "bench.rootless", "--child"]
    output = subprocess.run(
        [*argv, str(sessions)], cwd=checkout, capture_output=True, text=True, timeout=600
    )
    if output.returncode != 0:
        raise SystemExit(f"the rootless round failed: {output.stderr[-2000:]}")
    return dict(json.loads(output.stdout.splitlines()[-1]))


def _child(tree: Path, sessions: int, python: str, user: str | None) -> dict[str, list[float]]:
    """One round of ``tree``'s code (``PYTHONPATH``) as root, or as ``user``."""
    argv = [python, "-m", "bench.rootless", "--child", str(sessions)]
    if user is not None:
        argv = ["runuser", "-u", user, "--", "env", f"PYTHONPATH={tree}", *argv]
    output = subprocess.run(
        argv,
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
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
        for key, unit, scale in (
            ("cold", "ms", 1000),
            ("warm", "ms", 1000),
            ("idle_rss", "MiB", 1 / 2**20),
        ):
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
    if options.python and options.checkout:
        python, checkout = options.python, options.checkout
    else:
        prepared = subprocess.run(
            [str(REPO / ".ci" / "test-rootless"), "--prepare"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "AGENTBAY_CI_USER": options.user},
        )
        python, checkout = prepared.stdout.split()[-2:]
    if options.old is not None:
        old, new = options.old.resolve(), options.new.resolve()
        compare(old, new, options.rounds, options.sessions, options.user, python)
        return
    totals: dict[str, dict[str, list[float]]] = {"root": {}, "rootless": {}}
    for _ in range(options.rounds):
        rounds = {
            "root": asyncio.run(_round(options.sessions)),
            "rootless": _as_user(options.user, python, checkout, options.sessions),
        }
        for mode, samples in rounds.items():
            for key, values in samples.items():
                totals[mode].setdefault(key, []).extend(values)
    print(f"{sys.platform}, {os.cpu_count()} CPUs, {options.rounds} rounds x {options.sessions}")
    for key, label in (
        ("cold", "create -> first command, no pool"),
        ("warm", "create -> first command, warm pool"),
    ):
        root, rootless = p50(totals["root"][key]), p50(totals["rootless"][key])
        print(
            f"{label:<38} p50 root {root * 1000:7.1f} ms  rootless {rootless * 1000:7.1f} ms"
            f"  ratio {rootless / root:.2f} (target <= 1.5)"
        )
    root_rss, rootless_rss = p50(totals["root"]["idle_rss"]), p50(totals["rootless"]["idle_rss"])
    print(
        f"{'idle session memory (RSS)':<38} p50 root {root_rss / 2**20:7.1f} MiB "
        f"rootless {rootless_rss / 2**20:7.1f} MiB ratio {rootless_rss / root_rss:.2f}"
    )


if __name__ == "__main__":
    main()
