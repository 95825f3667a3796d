"""Where the checkout is, for tests that read its files (templates, examples, captures), and
where tools the tests install are kept between checkouts."""

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

#: The root of this checkout.
REPO = Path(__file__).resolve().parents[2]


def tools_cache() -> Path:
    """Where the tests keep what they install from PyPI or npm (the official clients' venvs,
    the MCP Inspector): once per machine and user, like the base images, so a fresh clone
    (CI's every run) does not install them again."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "agentbay" / "test-tools"


@contextlib.contextmanager
def installing(target: Path) -> Iterator[None]:
    """Hold ``target``'s install lock: test runs sharing the cache install it once."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
