"""Run a command as another local user, in both modes, to attack what the runtime keeps.

As root: a real account (``useradd``, once per machine), switched to with ``setpriv``.
Rootless: a subordinate id of this user (``/etc/subuid``), entered through a user namespace
of its own in which nothing but that id is mapped. The kernel sees a different uid on the
host either way, with no capability over this user's files: exactly what another local
user is.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Sequence

from agentbay_local.sandbox import userns

#: The account root-mode tests act as (made with useradd when missing).
OTHER_USER = "agentbay-other"
_TIMEOUT_S = 60.0


def other_user_problem() -> str | None:
    """Why no other user can be acted as here, or None."""
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            return "setpriv (util-linux) is not installed"
        if shutil.which("useradd") is None and not _exists(OTHER_USER):
            return "useradd is not installed"
        return None
    if shutil.which("unshare") is None:
        return "util-linux unshare is not installed"
    return userns.missing_id_mapping()


def run_as_other_user(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as another local user; its exit status and output (text)."""
    if os.geteuid() == 0:
        if not _exists(OTHER_USER):
            subprocess.run(
                ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER_USER],
                check=False,  # another test run may have made it meanwhile
                capture_output=True,
                timeout=_TIMEOUT_S,
            )
        entry = pwd.getpwnam(OTHER_USER)
        wrapper = [
            "setpriv",
            f"--reuid={entry.pw_uid}",
            f"--regid={entry.pw_gid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ]
    else:
        ids = userns.id_mapping()
        assert ids.uids is not None and ids.gids is not None
        # Only the subordinate id exists in the namespace: this user's own uid is unmapped
        # there, so being root in it gives no power over this user's files.
        uid, gid = ids.uids.start, ids.gids.start
        wrapper = ["unshare", "--user", f"--map-users={uid},0,1", f"--map-groups={gid},0,1"]
        # Mapping alone changes no credential: switching to the id makes the process it.
        wrapper += ["--setuid=0", "--setgid=0", "--"]
    return subprocess.run(
        [*wrapper, *argv],
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        cwd="/",
    )


def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
