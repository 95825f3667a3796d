"""Session directories and overlay mounts.

``<data_dir>/sessions/<id>/`` holds ``upper/`` and ``work/`` (the overlay's writable
layer, see ``layers.writable_dirs``), ``root/`` (the session's root), ``home/`` (the
working directory of unisolated sessions) and ``toolserver.log`` (the tool server's stderr).

As root, ``root/`` is the merged overlay view, mounted in the HOST mount namespace so the
runtime reads and writes session files directly. Rootless (see ``userns.py``), ``root/`` is
a plain directory holding the top level of the session's root, and each system directory
gets an overlay of its own that the tool server mounts inside its namespaces (see
``layers.rootless_overlays``); the runtime reaches the files through the tool server's root
(``handle.py``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from agentbay.contract import get_logger
from agentbay_local.sandbox import layers as layers_module
from agentbay_local.sandbox import userns
from agentbay_local.sandbox.inside import jail, syscalls

log = get_logger("agentbay.local.sandbox")


def check_data_dir(data_dir: Path) -> None:
    """Refuse data dirs that the sandbox's mounts cannot handle."""
    text = str(data_dir)
    if any(char in text for char in ",:\\\n"):
        raise ValueError(f"the data dir path must not contain ',', ':' or '\\\\': {text!r}")


def mount_overlay(
    session_dir: Path,
    layers: Sequence[Path] = (),
    host_root: Path = Path("/"),
    id_base: int = 0,
    *,
    host_data: bool = True,
) -> Path:
    """Mount the session's copy-on-write view at ``session_dir/root``: its writable layer
    over the image's read-only layers (newest first) over ``host_root``: an image's root
    filesystem (``host_data`` False), or the host's ``/`` (its view: idmapped, see
    ``userns.idmapped_root``, or stackable, see ``layers.mount_host_root``), whose data
    ``layers.hide_host_data`` keeps out. ``id_base`` is the host id of the session's root,
    which owns the root directory and what ``hide_host_data`` makes."""
    upper, work = layers_module.writable_dirs(session_dir)
    root = session_dir / "root"
    lower = layers_module.lower_layers(layers, host_root)
    for directory in (upper, work, root):
        directory.mkdir(parents=True, exist_ok=True)
    # The upper layer's root lends its owner to the session's "/".
    os.chown(upper, id_base, id_base)
    if host_data:
        layers_module.hide_host_data(upper, layers, id_base)
    jail.mount_overlay(str(root), lower, str(upper), str(work))
    return root


def unmount_tree(directory: Path) -> None:
    """Detach every mount at or below ``directory`` (deepest first)."""
    prefix = str(directory).rstrip("/") + "/"
    targets = [
        target
        for target in mounted_paths()
        if target == str(directory) or target.startswith(prefix)
    ]
    for target in sorted(targets, key=len, reverse=True):
        with contextlib.suppress(OSError):
            syscalls.umount2(target, syscalls.MNT_DETACH)


def mounted_paths() -> list[str]:
    """Mount points of this mount namespace (octal escapes decoded)."""
    return syscalls.mount_points()


#: How often removing a session dir is tried while something still writes into it.
_REMOVE_ATTEMPTS = 40


def remove_session_dir(session_dir: Path) -> None:
    """Unmount what is still mounted below the session dir, then delete it."""
    unmount_tree(session_dir)
    failures: list[tuple[str, BaseException]] = []

    def report(
        _function: object, path: str, exc_info: tuple[object, BaseException, object]
    ) -> None:
        failures.append((path, exc_info[1]))

    for _ in range(_REMOVE_ATTEMPTS):
        failures.clear()
        if session_dir.exists():
            shutil.rmtree(session_dir, onerror=report)
        # A dying process of a crashed runtime's sandbox may still be creating files (the
        # tool server of a pool refill still building its root): "not empty" goes away.
        if not any(getattr(exc, "errno", None) == errno.ENOTEMPTY for _, exc in failures):
            break
        time.sleep(0.05)
    if failures and userns.rootless():
        # Files of the session's other ids, or directories it left without permissions.
        userns.remove_as_namespace_root(session_dir)
        if not session_dir.exists():
            return
    for path, exc in failures:
        log.warning("cannot delete %s: %s", path, exc)
