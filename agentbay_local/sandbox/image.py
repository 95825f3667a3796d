"""``SandboxImage``: what a sandbox starts from (layers, environment, working directory)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SandboxImage:
    """The root filesystem and process settings of a sandbox.

    Attributes:
        key: identifies the image for the pool; sandboxes are only handed out to sessions
            of the same key (it changes with every build of the image).
        name: the image id sessions ask for ("" for the host's root).
        layers: read-only overlay layers stacked on ``tree``, newest first.
        env: variables set on top of the session's standard environment, in order.
        workdir: where the session's commands run ("" for the home directory).
        tree: the root filesystem at the bottom (a base image's, see
            ``images.base_images``); None for the host's ``/`` (``serve --host-root``).
        python: the interpreter in ``tree`` the tool server runs on (its path in the
            session); "" with the host's ``/``, where it runs on the runtime's own.
    """

    key: str = ""
    name: str = ""
    layers: tuple[Path, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    workdir: str = ""
    tree: Path | None = None
    python: str = ""


#: The host's root with the standard environment (``serve --host-root``, and sandboxes of
#: the sandbox tests that need no image).
HOST_ROOT = SandboxImage()
