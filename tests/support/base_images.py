"""The built-in images' root filesystems for tests that start sandboxes directly.

``make images`` (and ``make test``, ``.ci/test-rootless``) build them once per machine and
user; where one is missing, the test skips saying so.
"""

from __future__ import annotations

from typing import IO

import pytest

from agentbay_local.images.base_images import BaseImageCache
from agentbay_local.images.registry import ImageError
from agentbay_local.sandbox.image import SandboxImage

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
        pytest.skip(f"{exc} (make images builds every built-in)")
    if record.tree not in _HELD:
        _HELD[record.tree] = cache.hold(record)
    return image
