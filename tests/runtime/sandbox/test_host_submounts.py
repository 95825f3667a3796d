"""A host with mounts below a system directory (Docker's in /var/lib/docker, a build's /proc
under /var/tmp) still gets rootless sessions on its own ``/``: the kernel refuses such a
directory as an overlay's lower layer inside a user namespace, and a bind without its
submounts too (EINVAL), so the session sees it read-only, submounts and all, its private
directories (/var/tmp) its own and empty.

The rootless layout is mounted as the tool server mounts it (``jail.mount_rootless_root``),
in a user namespace of its own, after a tmpfs was mounted under /var/tmp in a private mount
namespace of the test (the host's own mounts are untouched).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.support.paths import REPO

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="mounting below the host's /var (in a private namespace) needs root"
)

#: Runs in the user namespace: lays the session out as the runtime does, mounts it as the
#: tool server does, then reports what the session's /var shows.
SESSION = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    from agentbay_local.sandbox import layers
    from agentbay_local.sandbox.inside import jail

    session, mounted = Path(sys.argv[1]), sys.argv[2]
    layout = layers.rootless_overlays(session)
    jail.mount_rootless_root(str(session / "root"), layout.top, layout.overlays)
    var = session / "root" / "var"
    try:
        with open(var / "lib" / "agentbay-written", "w"):
            pass
        var_writable = True
    except OSError:
        var_writable = False
    with open(var / "tmp" / "mine", "w") as scratch:
        scratch.write("session")
    print(json.dumps({
        "var_lib": sorted(os.listdir(var / "lib")) != [],
        "var_writable": var_writable,
        "var_tmp": sorted(os.listdir(var / "tmp")),
        "mounted_seen": os.path.exists(var / "tmp" / mounted),
        "kept_in_layer": (session / "upper" / "var" / "tmp" / "mine").read_text(),
    }))
    """
)


def test_a_submount_below_var_leaves_var_read_only_and_var_tmp_the_sessions(
    tmp_path: Path,
) -> None:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare (util-linux) is not installed: apt-get install util-linux")
    mounted = f"agentbay-submount-{uuid.uuid4().hex[:8]}"
    mount_point = Path("/var/tmp") / mounted
    mount_point.mkdir()
    try:
        # A private mount namespace holds the tmpfs; inside it a user namespace (root
        # mapped to root) makes it a submount the session may not uncover, as on a host.
        script = (
            f"mount -t tmpfs agentbay-test {mount_point} && touch {mount_point}/host-file && "
            f'exec {unshare} --user --map-root-user --mount "$@"'
        )
        result = subprocess.run(
            [
                unshare,
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "sh",
                sys.executable,
                "-I",
                "-c",
                f"import sys; sys.path.insert(0, {str(REPO)!r})\n" + SESSION,
                str(tmp_path / "session"),
                mounted,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        mount_point.rmdir()
    assert result.returncode == 0, result.stderr
    shown = __import__("json").loads(result.stdout)
    assert shown["var_lib"], "the host's /var/lib is not shown"
    assert not shown["var_writable"], "the host's /var is writable in the session"
    assert shown["var_tmp"] == ["mine"], "the session's /var/tmp is not its own"
    assert not shown["mounted_seen"]
    assert shown["kept_in_layer"] == "session"
