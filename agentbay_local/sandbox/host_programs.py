"""Host programs the sandbox code runs (util-linux ``unshare``, ``nsenter``), and the PATH
they run with."""

from __future__ import annotations

import os
import shutil
from functools import cache

#: PATH inside isolated sessions (the image's standard locations, nothing of the host's).
SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def find_program(name: str, search: tuple[str, ...] = ("/usr/bin", "/bin")) -> str | None:
    """The program ``name`` on PATH, else in ``search``, by its real path: as root, the
    sandbox's programs run inside the session's user namespace, whose root may not look up
    a path through the host's private directories (a PATH entry in a 0700 directory)."""
    found = shutil.which(name) or next(
        (p for d in search if os.access(p := f"{d}/{name}", os.X_OK)), None
    )
    return None if found is None else os.path.realpath(found)


@cache
def unshare_binary() -> str | None:
    """The util-linux ``unshare`` program, if installed."""
    return find_program("unshare")


@cache
def nsenter_binary() -> str | None:
    """The util-linux ``nsenter`` program, if installed."""
    return find_program("nsenter")
