"""The runtime's data dir: where it is by default, and the lock that makes it one runtime's."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO


def default_data_dir() -> Path:
    """Where ``agentbay local serve`` keeps its state unless ``--data-dir`` says otherwise."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "agentbay"


def lock_data_dir(data_dir: Path) -> IO[bytes]:
    """Hold an exclusive lock: a second runtime on the same data dir would kill our sessions."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / "runtime.lock").open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise RuntimeError(
            f"the data dir {data_dir} is in use by another local runtime; "
            "stop it or choose another --data-dir"
        ) from None
    return handle
