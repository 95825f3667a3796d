"""The runtime's data dir: where it is by default, that it is private, and the lock that makes
it one runtime's.

The data dir holds session tokens (in the database), context files and images: only the
runtime's user may enter it (mode 0700), its database and everything SQLite writes beside
it are 0600, whatever the umask. A data dir that exists with looser permissions is made
private (and said so); one owned by another user is refused, since that user could read
or change what the runtime keeps there.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from pathlib import Path
from typing import IO

from agentbay.contract import get_logger

log = get_logger("agentbay.local")

#: The mode of the data dir, and of the database file (SQLite gives its -wal and -shm files
#: the database's mode).
DIR_MODE = 0o700
FILE_MODE = 0o600


def default_data_dir() -> Path:
    """Where ``agentbay local serve`` keeps its state unless ``--data-dir`` says otherwise."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "agentbay"


def make_private(data_dir: Path) -> None:
    """Create ``data_dir`` with mode 0700 (its parents as usual), or make an existing one
    0700.

    Raises:
        RuntimeError: it belongs to another user, or is not a directory.
    """
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkdir(data_dir, DIR_MODE)
    info = os.stat(data_dir)
    if not stat.S_ISDIR(info.st_mode):
        raise RuntimeError(f"the data dir {data_dir} is not a directory")
    if info.st_uid != os.geteuid():
        raise RuntimeError(
            f"the data dir {data_dir} belongs to uid {info.st_uid}, not to this user "
            f"(uid {os.geteuid()}): that user could read or change the runtime's state; "
            "choose a data dir of your own (--data-dir)"
        )
    if stat.S_IMODE(info.st_mode) != DIR_MODE:
        log.warning(
            "the data dir %s had mode %o: made private (%o)",
            data_dir,
            stat.S_IMODE(info.st_mode),
            DIR_MODE,
        )
        os.chmod(data_dir, DIR_MODE)


def private_file(path: Path) -> None:
    """Make sure ``path`` exists with mode 0600 (created so, or narrowed if it was wider)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def lock_data_dir(data_dir: Path) -> IO[bytes]:
    """Make the data dir private, then hold an exclusive lock on it: a second runtime on the
    same data dir would kill our sessions."""
    make_private(data_dir)
    private_file(data_dir / "runtime.lock")
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
