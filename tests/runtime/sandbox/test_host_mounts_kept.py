"""Sessions leave the host's mounts as they are.

A host's named network namespaces (``ip netns add`` binds them below ``/run/netns``, a shared
mount), a container engine's mounts below a shared mount: a session started as root must not
unmount any of them. slirp4netns's own sandbox detaches its old root; made in the host's
mount namespace, that unmount propagated to the host's peers and took every network namespace
under ``/run/netns`` with it (the egress test's own stand-in internet disappeared moments after
``ip netns add``).

The test mounts a shared tmpfs with a child mount in its own temporary directory, starts
sessions with egress, and looks for the child mount afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentbay_local.sandbox import egress
from agentbay_local.sandbox.egress import NetworkPolicy
from agentbay_local.sandbox.inside import syscalls
from tests.runtime.sandbox.conftest import new_env
from tests.support.system_parts import skip_unless_installed

#: mount(2)'s flag for "shared" propagation (see mount_namespaces(7)).
MS_SHARED = 1 << 20


@pytest.fixture
def shared_child(tmp_path: Path) -> Iterator[Path]:
    """A child mount below a shared mount, as ``/run/netns/NAME`` is below ``/run/netns``."""
    if os.geteuid() != 0:
        pytest.skip("mounting a shared tmpfs on the host needs root (rootless sessions cannot)")
    parent = tmp_path / "shared"
    parent.mkdir()
    syscalls.mount("abkeep", parent, "tmpfs", syscalls.MS_NOSUID | syscalls.MS_NODEV, "size=64k")
    try:
        syscalls.mount(None, parent, None, MS_SHARED)
        child = parent / "child"
        child.mkdir()
        syscalls.mount("abkeep-child", child, "tmpfs", syscalls.MS_NOSUID, "size=64k")
        yield child
    finally:
        for target in (parent / "child", parent):
            if str(target) in syscalls.mount_points():
                syscalls.umount2(target, syscalls.MNT_DETACH)


def test_sessions_with_egress_leave_the_hosts_mounts(shared_child: Path, tmp_path: Path) -> None:
    skip_unless_installed("slirp4netns", "nftables")
    problem = egress.egress_problem()
    if problem:
        pytest.skip(f"egress cannot be given here: {problem}")
    env = new_env(tmp_path / "data", pool_size=1, network=NetworkPolicy("egress"))
    try:
        # One from the pool (its slirp4netns started at refill), one started on demand.
        sessions = [env.session("keep"), env.session("keep")]
        assert env.sh(sessions[1], "echo up") == "up\n"
        assert str(shared_child) in syscalls.mount_points()
    finally:
        env.close()
    assert str(shared_child) in syscalls.mount_points()
