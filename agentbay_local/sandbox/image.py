"""``SandboxImage``: what a sandbox starts from (layers, environment, working directory)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SandboxImage:
    """The root filesystem and process settings of a sandbox.

    Attributes:
        key: identifies the image for the pool; sandboxes are only handed out to sessions
            of the same key ("" for the built-in images, which all run the host's root).
        name: the image id sessions ask for ("" for the built-ins).
        layers: read-only overlay layers stacked on the host's ``/``, newest first.
        env: variables set on top of the session's standard environment, in order.
        workdir: where the session's commands run ("" for the home directory).
    """

    key: str = ""
    name: str = ""
    layers: tuple[Path, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    workdir: str = ""


#: The built-in images: the host's root with the standard environment.
HOST_ROOT = SandboxImage()
