"""Overlay layers: how a session's root is stacked, and how a build's writes become a layer.

A session's root is an overlay of, top to bottom: the session's own writable layer, the
read-only layers of its user image (newest first; none for a built-in image) and the host's
``/``. Everything that knows overlayfs' option string, its markers (opaque directories,
whiteouts) or what a captured layer keeps is here, so every way of mounting uses one rule.

Hiding the host's data (private directories empty, non-system top-level entries gone) is
done by markers right above ``/``: in the session's writable layer for a built-in image, in
an image's bottom layer otherwise (it was once a build session's writable layer and keeps
them). A session layer adds only the markers no layer below already provides, so what an
image put in ``/root`` or ``/app`` stays visible.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from agentbay.contract import get_logger
from agentbay_local.sandbox.inside import jail, syscalls

log = get_logger("agentbay.local.sandbox")

#: Host directories every session gets empty and its own: scratch space, users' homes and
#: mount points hold the host's data (build trees, keys, sockets), not its operating system.
PRIVATE_DIRS = ("tmp", "var/tmp", "root", "home", "mnt", "media", "srv")
#: Scratch directories emptied when a build's writes become a layer: every session starts
#: with its own empty /tmp and /var/tmp, on user images too (build caches land there).
SCRATCH_DIRS = ("tmp", "var/tmp")
#: The top-level entries of a Linux system (FHS). Any other one (/work, /data, ...) is the
#: host's own data and does not exist inside sessions.
SYSTEM_ENTRIES = frozenset(
    [
        "bin",
        "boot",
        "dev",
        "etc",
        "home",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "media",
        "mnt",
        "opt",
        "proc",
        "root",
        "run",
        "sbin",
        "srv",
        "sys",
        "tmp",
        "usr",
        "var",
    ]
)
#: The opaque-directory marker: overlayfs reads its metadata from ``trusted.`` xattrs when
#: root mounts it in the host, from ``user.`` ones inside a user namespace (``userxattr``).
OPAQUE_XATTR = "trusted.overlay.opaque"
USERNS_OPAQUE_XATTR = "user.overlay.opaque"
#: Top-level entries a rootless session gets as fresh mounts from the tool server.
_MOUNTED_BY_JAIL = frozenset(["dev", "proc", "sys"])
#: Where a rootless session's writes to its top level land, below its writable layer.
_TOP = ".top"
#: Lower layers one overlay mount takes: the kernel copies mount options (a
#: ``/proc/self/fd/N`` name per layer, see ``jail.mount_overlay``) into one page.
MAX_LOWER_LAYERS = 128


#: Where a session's own filesystem is mounted when its disk is limited (``disk.py``).
DISK_DIR = "disk"


def writable_dirs(session_dir: Path) -> tuple[Path, Path]:
    """The session's writable layer and overlay work directory (``upper``, ``work``): on
    the session's own filesystem at ``DISK_DIR`` when it has one, else in its directory."""
    base = session_dir / DISK_DIR
    if not base.is_dir():
        base = session_dir
    return base / "upper", base / "work"


def lower_layers(layers: Sequence[Path], host_root: Path = Path("/")) -> list[str]:
    """The overlay's read-only layers, topmost first: ``layers`` (newest first) stacked on
    ``host_root`` (``/``, or its view from ``mount_host_root`` when the layers live on the
    root's filesystem).

    Raises:
        ValueError: more layers than one overlay mount stacks.
    """
    if len(layers) >= MAX_LOWER_LAYERS:
        raise ValueError(
            f"the image has too many layers ({len(layers)}) for one overlay mount; "
            "build it from a built-in image or a shallower user image"
        )
    return [*map(str, layers), str(host_root)]


def needs_host_root_view(layers: Sequence[Path]) -> bool:
    """Whether ``layers`` can only be stacked on a separate view of ``/``: overlayfs refuses
    lower layers below another layer's root on one filesystem ("overlapping lowerdir
    path"), and image layers live under the data dir, usually on the root's filesystem."""
    return bool(layers) and os.stat(layers[0]).st_dev == os.stat("/").st_dev


def mount_host_root(directory: Path, lower: str = "/") -> Path:
    """Mount a read-only overlay of ``/`` (or its view ``lower``, see
    ``userns.idmapped_root``) at ``directory/root`` and return it.

    Its own superblock makes it a lower layer that image layers on the root filesystem can
    stack on. A read-only overlay needs two lower layers; the second is an empty tmpfs,
    detached again at once (the overlay keeps its own reference).
    """
    empty, root = directory / "empty", directory / "root"
    for path in (empty, root):
        path.mkdir(parents=True, exist_ok=True)
    flags = syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_RDONLY
    syscalls.mount("tmpfs", empty, "tmpfs", flags, "size=4k,mode=755")
    try:
        jail.mount_overlay(str(root), [lower, str(empty)], flags=flags)
    finally:
        syscalls.umount2(empty, syscalls.MNT_DETACH)
    return root


def hide_host_data(upper: Path, layers: Sequence[Path] = (), id_base: int = 0) -> None:
    """Keep the host's data out of the session's view of ``/``: set up its writable layer so
    the private directories start empty (opaque directories) and top-level entries outside
    the system's are gone (whiteouts), except where a layer below already decides.

    ``id_base`` is the host id of the session's root: the directories made here belong to
    the session's users as the host's do to the host's.
    """
    for name in PRIVATE_DIRS:
        if not _in_layers(layers, name):
            _make_opaque(upper, name, OPAQUE_XATTR, id_base)
    for name in os.listdir("/"):
        if name not in SYSTEM_ENTRIES and not _in_layers(layers, name):
            try:
                os.mknod(upper / name, stat.S_IFCHR, os.makedev(0, 0))  # a whiteout
            except OSError as exc:
                log.warning("session %s sees the host's /%s: %s", upper.parent.name, name, exc)


def _make_opaque(upper: Path, name: str, xattr: str, id_base: int = 0) -> None:
    """Make ``/<name>`` start empty: an opaque directory (marker ``xattr``) of ``upper``."""
    host = Path("/") / name
    if not host.is_dir() or host.is_symlink():
        return
    inside, original = upper, Path("/")
    for part in PurePosixPath(name).parts:
        inside, original = inside / part, original / part
        if not inside.exists():
            inside.mkdir()
            # A directory of the upper layer lends its owner and mode to the merged view.
            _copy_owner_and_mode(original, inside, id_base)
    try:
        os.setxattr(inside, xattr, b"y")
    except OSError as exc:
        log.warning("session %s sees the host's /%s: %s", upper.parent.name, name, exc)


class RootlessRoot(NamedTuple):
    """What a rootless session's tool server mounts (see ``jail.mount_rootless_root``)."""

    #: The root's overlay: ``lower`` (its read-only layers, topmost first), ``upper``,
    #: ``work``.
    top: dict[str, Any]
    #: One overlay per system directory of the host's ``/``: ``target``, ``lower``,
    #: ``upper``, ``work`` (none on an image's own root filesystem).
    overlays: list[dict[str, Any]]


def rootless_image_root(session_dir: Path, lower: Sequence[Path]) -> RootlessRoot:
    """Lay out a rootless session's root on an image of its own: one overlay of the
    session's writable layer over ``lower`` (an image's layers, newest first, then its
    root filesystem). The tree has no submounts, so unlike the host's ``/`` the kernel
    takes it as a lower layer inside the session's user namespace; its files belong to the
    ids of the sessions' mapping (``images.rootfs``), so the session's root owns them."""
    upper, work = writable_dirs(session_dir)
    for directory in (upper, work, session_dir / "root"):
        directory.mkdir(parents=True, exist_ok=True)
    lowers = lower_layers(lower[:-1], lower[-1])
    return RootlessRoot({"lower": lowers, "upper": str(upper), "work": str(work)}, [])


def rootless_overlays(session_dir: Path) -> RootlessRoot:
    """Lay out a rootless session's root; returns the overlays its tool server mounts inside
    its user and mount namespaces.

    Inside a user namespace the kernel refuses ``/`` as a lower layer ("failed to clone
    lowerpath": ``/`` has submounts, ``/proc`` and ``/dev``, that the namespace does not
    own). So ``root/`` is a skeleton of the top level, the lower layer of the session's
    root (its writes land in ``upper/.top``); each system directory that has no submounts
    gets an overlay of its own (``upper/<name>``, ``work/<name>``), and the host's data
    stays out as with ``hide_host_data``: the top-level private directories and ``/run``
    (the host's sockets) are plain empty directories, deeper ones (``var/tmp``) opaque,
    and the top-level entries outside the system's are simply not there.
    """
    upper, work = writable_dirs(session_dir)
    root = session_dir / "root"
    for directory in (upper, work, root, upper / _TOP, work / _TOP):
        directory.mkdir(parents=True, exist_ok=True)
    overlays: list[dict[str, Any]] = []
    empty_top = {name for name in PRIVATE_DIRS if "/" not in name} | {"run"}
    for name in sorted(SYSTEM_ENTRIES):
        host = Path("/") / name
        if host.is_symlink():  # merged-/usr systems: /bin -> usr/bin and the like
            os.symlink(os.readlink(host), root / name)
        elif not host.is_dir():
            continue
        elif name in _MOUNTED_BY_JAIL or name in empty_top:
            (root / name).mkdir()
            _copy_owner_and_mode(host, root / name)
        else:
            for directory in (root, upper, work):
                (directory / name).mkdir()
            overlays.append(
                {
                    "target": str(root / name),
                    "lower": str(host),
                    "upper": str(upper / name),
                    "work": str(work / name),
                    # What stays the session's own if the kernel refuses this overlay.
                    "private": [
                        private[len(name) + 1 :]
                        for private in PRIVATE_DIRS
                        if private.startswith(name + "/")
                    ],
                }
            )
    for name in PRIVATE_DIRS:
        if "/" in name:
            _make_opaque(upper, name, USERNS_OPAQUE_XATTR)
    top = {"lower": [str(root)], "upper": str(upper / _TOP), "work": str(work / _TOP)}
    return RootlessRoot(top, overlays)


def _in_layers(layers: Sequence[Path], name: str) -> bool:
    """Whether some layer has an entry at ``name`` (a directory, file or marker)."""
    return any(os.path.lexists(layer / name) for layer in layers)


def _copy_owner_and_mode(source: Path, target: Path, id_base: int = 0) -> None:
    info = source.stat()
    if os.geteuid() == 0:
        # Rootless, the directory stays the runtime user's: root inside the session.
        os.chown(target, id_base + info.st_uid, id_base + info.st_gid)
    os.chmod(target, stat.S_IMODE(info.st_mode))


def capture(upper: Path, layer: Path, scaffolding: Sequence[str] = ()) -> None:
    """Turn a stopped build's writable layer into the read-only layer ``layer``.

    The overlay must be unmounted. Keeps every write and marker of the build except the
    contents of ``SCRATCH_DIRS`` and the empty directory chains the sandbox itself created
    at ``scaffolding`` paths (mount points of the tool server's code).
    """
    for name in SCRATCH_DIRS:
        directory = upper / name
        if directory.is_dir() and not directory.is_symlink():
            for child in os.listdir(directory):
                _remove(directory / child)
    for path in scaffolding:
        _remove_empty_chain(upper, PurePosixPath(path))
    os.rename(upper, layer)
    os.chmod(layer, 0o755)
    # The build's overlay was volatile (never synced); an image must survive a crash.
    syscalls.syncfs(layer)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _remove_empty_chain(upper: Path, path: PurePosixPath) -> None:
    """Remove ``upper/path`` and its parents while they are empty directories, stopping at
    the private directories (their opaque markers hide the host's data)."""
    parts = [part for part in path.parts if part != "/"]
    while parts and "/".join(parts) not in PRIVATE_DIRS:
        directory = upper.joinpath(*parts)
        try:
            if directory.is_symlink() or not directory.is_dir() or os.listdir(directory):
                return
            os.rmdir(directory)
            if (
                len(parts) == 1
                and parts[0] not in SYSTEM_ENTRIES
                and os.path.lexists(Path("/") / parts[0])
            ):
                # It was created over the whiteout hiding the host's entry: put that back.
                os.mknod(directory, stat.S_IFCHR, os.makedev(0, 0))
        except OSError as exc:
            log.warning("cannot tidy %s in a new layer: %s", directory, exc)
            return
        parts.pop()


def layer_size(layer: Path) -> int:
    """Bytes a layer takes on disk (allocated blocks of everything under it)."""
    total = 0
    for directory, names, files in os.walk(layer):
        for name in names + files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_blocks * 512
            except OSError:
                continue
    return total
