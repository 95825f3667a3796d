"""User images from Python: build, list and remove them (``agentbay local image`` uses these).

Images live in a data dir (default: ``AGENTBAY_LOCAL_DATA_DIR``, else the directory
``agentbay local serve`` uses) and are seen by every runtime on it, a running one included.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Sequence
from pathlib import Path

from agentbay_local.images import build as image_build
from agentbay_local.images import imagefile
from agentbay_local.images.build import BuildError, Output
from agentbay_local.images.imagefile import ImagefileError
from agentbay_local.images.registry import ImageError, ImageInfo, ImageRegistry, lockable
from agentbay_local.sandbox.egress import NetworkMode, NetworkPolicy

__all__ = [
    "BuildError",
    "ImageError",
    "ImageInfo",
    "ImagefileError",
    "build_image",
    "list_images",
    "remove_image",
]


def resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path:
    """The data dir to use: the argument, else ``AGENTBAY_LOCAL_DATA_DIR``, else the default
    of ``agentbay local serve``."""
    from agentbay_local.data_dir import default_data_dir

    chosen = data_dir or os.environ.get("AGENTBAY_LOCAL_DATA_DIR")
    return Path(chosen) if chosen else default_data_dir()


def build_image(
    name: str,
    *,
    base: str | None = None,
    run: Sequence[str] = (),
    imagefile_path: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    output: Output | None = None,
    step_timeout_s: float = image_build.DEFAULT_STEP_TIMEOUT_S,
    network: NetworkMode = "egress",
    allow_host_ports: Sequence[int] = (),
) -> ImageInfo:
    """Build the user image ``name`` and register it (an earlier image of the name is replaced,
    unless running sessions or other images use it).

    Give either ``base`` (a built-in or user image) with ``run`` commands, or an Imagefile
    (``FROM``, ``RUN``, ``COPY``, ``ENV``, ``WORKDIR``; see ``agentbay_local.images.imagefile``).
    Each step runs in an isolated sandbox of the base (on its built-in's own root
    filesystem, built first if this user has not yet); the result is a read-only layer
    stacked on the base's. Sessions then use it with ``CreateMcpSession(ImageId=name)``
    (``agentbay.create(CreateSessionParams(image_id=name))``), at once, even on a runtime
    that is already running. Works as root and rootless. Blocks; do not call it from a
    running event loop's thread.

    Args:
        name: the image id, e.g. a cloud custom image id such as ``imgc-07eksy57nw6r759fb``.
        base: the image to build on (with ``run``).
        run: shell commands, run in order with ``/bin/sh -c``.
        imagefile_path: an Imagefile, instead of ``base``/``run``.
        data_dir: where images (and the runtime's state) live.
        output: receives progress and the steps' output while the build runs.
        step_timeout_s: longest one ``RUN`` step may take.
        network: what the steps reach besides their own loopback, as for sessions
            (``agentbay local serve --network``): ``"egress"`` (outbound through NAT,
            never this host) or ``"none"``.
        allow_host_ports: TCP ports of this host's 127.0.0.1 the steps may reach at
            ``10.0.2.2:<port>`` (a local package mirror, say; egress only).

    Raises:
        ImagefileError: the Imagefile is malformed (the message names the line).
        BuildError: a step failed (``exit_code``, ``output``); nothing was registered.
        ImageError: a bad name or base, or no isolation on this machine.
        ValueError: an unknown network mode or an invalid port.
    """
    policy = NetworkPolicy(network, tuple(allow_host_ports))
    directory = resolve_data_dir(data_dir)
    if (imagefile_path is None) == (base is None):
        raise ImageError("give either a base image (with run commands) or an Imagefile")
    if imagefile_path is not None:
        if run:
            raise ImageError("run commands go into the Imagefile when one is given")
        recipe = imagefile.load(Path(imagefile_path))
    else:
        recipe = imagefile.recipe_from_options(str(base), list(run))
    return asyncio.run(
        image_build.build(
            directory,
            name,
            recipe,
            output=output,
            step_timeout_s=step_timeout_s,
            network=policy,
            sessions_using=lambda image: running_sessions(directory, image),
        )
    )


def list_images(data_dir: str | os.PathLike[str] | None = None) -> list[ImageInfo]:
    """The user images of a data dir, oldest first."""
    return ImageRegistry(resolve_data_dir(data_dir)).all_images()


def remove_image(name: str, data_dir: str | os.PathLike[str] | None = None) -> ImageInfo:
    """Remove the user image ``name`` and its layer; returns what was removed.

    Raises:
        ImageError: no such image, or running sessions or other images use it.
    """
    directory = resolve_data_dir(data_dir)
    return ImageRegistry(directory).remove(name, lambda image: running_sessions(directory, image))


def running_sessions(data_dir: Path, image: str) -> list[str]:
    """Ids of the running sessions of ``image`` on a runtime serving ``data_dir`` (none when
    no runtime holds the data dir: sessions of a stopped runtime are over)."""
    if not _runtime_running(data_dir) or not (data_dir / "state.sqlite3").exists():
        return []
    from agentbay_local.store import Store  # sqlite3: only where sessions may run

    store = Store(data_dir / "state.sqlite3")
    try:
        return [row.id for row in store.live_sessions({}) if row.image_id == image]
    finally:
        store.close()


def _runtime_running(data_dir: Path) -> bool:
    """Whether a runtime holds the data dir's lock (see ``runtime._lock_data_dir``)."""
    return not lockable(data_dir / "runtime.lock", fcntl.LOCK_SH)
