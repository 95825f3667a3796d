"""The built-in images' root filesystems for tests: found, or a skip naming what builds them.

``make images`` (and ``make test``, ``.ci/test-rootless``) build them once per machine and
user. Where they are not built and this machine cannot build them (no mmdebstrap: an
ordinary user without sudo), the tests that need a session of one skip, naming the command
that installs the builder: those that start sandboxes directly through ``session_image``, the
rest (sessions through the runtime, the SDK, official clients, serve) where they fail for
exactly that reason, in the runtime's own words (``failed_for_want_of_images``, which the
suite's ``pytest_runtest_makereport`` asks).
"""

from __future__ import annotations

import logging
from functools import cache
from typing import IO

import pytest

from agentbay_local.images import rootfs
from agentbay_local.images.base_builds import BaseImages
from agentbay_local.images.base_images import BaseImage, BaseImageCache
from agentbay_local.images.registry import ImageError
from agentbay_local.sandbox import userns
from agentbay_local.sandbox.image import SandboxImage
from tests.support import system_parts

#: The runtime's logger: its refused requests are logged there, one line each (at info).
RUNTIME_LOGGER = "agentbay.local"
#: Longest a tiny build may take on a loaded 2-core machine.
TINY_BUILD_TIMEOUT_S = 900.0


def tiny_manifest(name: str = "tiny", package: str = "python3-minimal") -> str:
    """A manifest of one small image ``name``: Debian's essential packages and ``package``
    (quick builds; ``python3``, whose whole standard library a session's tool server needs,
    costs a few MB more than ``python3-minimal``)."""
    return f"""\
debian:
  suite: bookworm
  mirror: http://deb.debian.org/debian
  updates: false
  path_exclude: [/usr/share/man/*, /usr/share/locale/*, /usr/share/doc/*]
images:
  {name}:
    about: a small image for tests
    variant: essential
    packages: [{package}]
"""


#: Trees the tests' sandboxes run on, held for the test process (as serve holds them): a
#: rebuild meanwhile (``make images`` in another checkout) leaves them in place.
_HELD: dict[str, IO[bytes]] = {}


def session_image(name: str = "linux_latest") -> SandboxImage:
    """What a session of the built-in ``name`` runs, as serve runs it (one built from an
    older manifest too); skips the caller where it is not built."""
    __tracebackhide__ = True  # the skip is reported at the caller's line
    cache = BaseImageCache()
    try:
        image, record = cache.sandbox_image(name, outdated=True)
    except ImageError as exc:
        pytest.skip(images_problem() or f"{exc} (make images builds every built-in)")
    if record.tree not in _HELD:
        _HELD[record.tree] = cache.hold(record)
    return image


def built_record(name: str) -> BaseImage:
    """The cache's record of the built-in ``name``: skips the caller where the images can
    neither be found nor built here (naming the command); fails where ``make images`` should
    have built it."""
    __tracebackhide__ = True  # the skip is reported at the caller's line
    record = BaseImageCache().get(name)
    if record is None and images_problem() is not None:
        pytest.skip(images_problem())
    assert record is not None, f"{name} is not built (make images)"
    return record


@cache
def images_problem() -> str | None:
    """Why sessions of the built-in images cannot run here, as a skip reason naming the
    command that installs the builder: some are not built and this machine cannot build
    them. None when all are built, or the missing ones can be built (``make images``)."""
    missing = BaseImages().missing()
    problem = rootfs.builder_problem()
    if not missing or problem is None:
        return None
    # Rootless builds also need the subordinate ids' newuidmap (``rootfs.extractor_problem``).
    builder = ["mmdebstrap", "uidmap"] if userns.rootless() else ["mmdebstrap"]
    absent = [name for name in builder if not system_parts.parts()[name].installed()]
    if not absent:  # installed, and still no builder: the runtime's words say what to do
        return f"needs the built-in images: {', '.join(missing)} are not built, and {problem}"
    return (
        f"needs the built-in images ({', '.join(missing)}: not built), and building them "
        f"needs {', '.join(absent)} (not installed); to install: "
        f"{system_parts.install_command(absent)}"
    )


def failed_for_want_of_images(failure: str, refused: bool = False) -> str | None:
    """The skip reason (``images_problem``) for a failed test whose ``failure`` (its report's
    text) is the runtime's answer that an image cannot be built here, or during which the
    runtime ``refused`` a request so (``refusals``: an SDK test may fail on the missing
    session itself, the answer cut from its report); None for any other failure, and
    wherever the images can be had."""
    words = _builder_words()
    if words is None or images_problem() is None:
        return None
    return images_problem() if refused or words in failure else None


def _builder_words() -> str | None:
    """The first clause of why no image can be built here (e.g. "mmdebstrap is not
    installed"), as the runtime words it in every answer, log and exit message about it (the
    rest may be cut or quoted); None where images can be built."""
    problem = rootfs.builder_problem()
    return None if problem is None else problem.split(":", 1)[0]


class _Refusals(logging.Handler):
    """Counts the runtime's refused requests (its log's ``refused`` lines) that say an image
    cannot be built here."""

    def __init__(self, words: str) -> None:
        super().__init__(logging.INFO)
        self.words = words
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "event", None) == "refused" and self.words in record.getMessage():
            self.count += 1


_REFUSALS: list[_Refusals] = []


def watch_refusals() -> None:
    """Where the images cannot be had, start counting the refusals of this process's
    runtimes for want of them (their info lines; nothing changes where images can be had)."""
    if _REFUSALS or images_problem() is None:  # (asked before every test: cached answers)
        return
    words = _builder_words()
    if words is None:
        return
    handler = _Refusals(words)
    logger = logging.getLogger(RUNTIME_LOGGER)
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    _REFUSALS.append(handler)


def refusals() -> int:
    """How many requests this process's runtimes refused so far for want of the images."""
    return _REFUSALS[0].count if _REFUSALS else 0
