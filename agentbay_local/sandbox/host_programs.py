"""Host programs the sandbox code runs (util-linux ``unshare``, ``nsenter``), and the PATH
they run with."""

from __future__ import annotations

import os
import shutil
from functools import cache

#: PATH inside isolated sessions (the image's standard locations, nothing of the host's).
SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@cache
def unshare_binary() -> str | None:
    """The util-linux ``unshare`` program, if installed."""
    return shutil.which("unshare") or next(
        (p for p in ("/usr/bin/unshare", "/bin/unshare") if os.access(p, os.X_OK)), None
    )


@cache
def nsenter_binary() -> str | None:
    """The util-linux ``nsenter`` program, if installed."""
    return shutil.which("nsenter") or next(
        (p for p in ("/usr/bin/nsenter", "/bin/nsenter") if os.access(p, os.X_OK)), None
    )
