"""The registry of user images: read-only layers built on a base image, under the data dir.

Layout of ``<data_dir>/images/``::

    <name>.json     the image's record (written to a temporary name, then renamed: an image
                    is registered, or not, atomically)
    l/<id>/         one layer per image (a build's captured writable layer); short paths,
                    since every layer of a stack goes into one overlay option string
    b/<id>/         builds under way (each its own sandbox manager's sessions dir)
    .lock           held while images are registered or removed

The registry is read from disk on every lookup, so a running server sees an image the
moment a build (another process) registers it. Records carry the whole stack (layer ids
newest first, the effective environment and working directory), so a lookup is one read.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from agentbay_local.sandbox import userns
from agentbay_local.sandbox.image import SandboxImage

#: Tool servers the local runtime implements; a built-in image runs locally if it needs no other.
LOCAL_SERVERS = frozenset(
    {
        "wuying_shell",
        "wuying_code",
        "wuying_filesystem",
        "wuying_app",
        "wuying_window",
        "wuying_ui",
        "wuying_computer",
        "wuying_capture",
        "wuying_system",
        "wuying_browser",
    }
)
#: Image ids: the cloud's custom image ids (``imgc-07eksy57nw6r759fb``) and names like them;
#: no path separators, no leading dot.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
#: Deepest stack of layers an image may have (the overlay option string must fit a page).
MAX_LAYERS = 32


class ImageError(Exception):
    """A request about user images that cannot be done; the message says why (for users)."""


def builtin_images(image_servers: Mapping[str, tuple[str, ...]]) -> list[str]:
    """The built-in images (of the description's ``image_servers``) whose every tool server
    runs locally."""
    return sorted(
        image
        for image, servers in image_servers.items()
        if servers and set(servers) <= LOCAL_SERVERS
    )


def check_name(name: str) -> str:
    """``name`` if it can name a user image, else ImageError saying why."""
    if not _NAME.match(name):
        raise ImageError(
            f"invalid image name {name!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. imgc-07eksy57nw6r759fb)"
        )
    return name


@dataclass(frozen=True)
class ImageInfo:
    """One registered user image.

    Attributes:
        name: the id sessions ask for (``CreateMcpSession(ImageId=name)``).
        base: the image it was built ``FROM`` (built-in or user image).
        builtin: the built-in image at the bottom of the stack; its tools are served.
        layers: layer ids, this image's first, then its base's, down to the built-in.
        env: the effective ``ENV`` settings (the base's, then this image's), in order.
        workdir: the effective ``WORKDIR`` ("" for the home directory).
        size_bytes: disk space of this image's own layer.
        created_at: when the build finished (seconds since the epoch).
    """

    name: str
    base: str
    builtin: str
    layers: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    workdir: str
    size_bytes: int
    created_at: float

    def record(self) -> dict[str, object]:
        """The JSON document stored for the image."""
        return {
            "name": self.name,
            "base": self.base,
            "builtin": self.builtin,
            "layers": list(self.layers),
            "env": [list(pair) for pair in self.env],
            "workdir": self.workdir,
            "size_bytes": self.size_bytes,
            "created_at": self.created_at,
        }

    @classmethod
    def from_record(cls, record: dict[str, object]) -> ImageInfo:
        """Parse a stored record (ValueError/TypeError/KeyError when malformed)."""
        env = record["env"]
        layers = record["layers"]
        if not isinstance(env, list) or not isinstance(layers, list):
            raise TypeError("env and layers must be lists")
        return cls(
            name=str(record["name"]),
            base=str(record["base"]),
            builtin=str(record["builtin"]),
            layers=tuple(str(layer) for layer in layers),
            env=tuple((str(key), str(value)) for key, value in env),
            workdir=str(record["workdir"]),
            size_bytes=int(str(record["size_bytes"])),
            created_at=float(str(record["created_at"])),
        )


class ImageRegistry:
    """The user images of one data dir (safe to use from several processes at once)."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(os.path.realpath(data_dir)) / "images"
        self.layers_dir = self.root / "l"
        self.builds_dir = self.root / "b"

    # ---- lookups ----
    def get(self, name: str) -> ImageInfo | None:
        """The image called ``name``, or None (also for names no image can have)."""
        if not _NAME.match(name):
            return None
        try:
            with open(self.root / f"{name}.json", encoding="utf-8") as handle:
                return ImageInfo.from_record(json.load(handle))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ImageError(f"the record of image {name!r} is unreadable: {exc}") from None

    def all_images(self) -> list[ImageInfo]:
        """Every registered image, oldest first."""
        try:
            names = [
                entry.name.removesuffix(".json")
                for entry in os.scandir(self.root)
                if entry.name.endswith(".json") and not entry.name.startswith(".")
            ]
        except FileNotFoundError:
            return []
        found = [info for name in names if (info := self._get_quietly(name)) is not None]
        return sorted(found, key=lambda info: (info.created_at, info.name))

    def _get_quietly(self, name: str) -> ImageInfo | None:
        try:
            return self.get(name)
        except ImageError:
            return None

    def layer_path(self, layer_id: str) -> Path:
        """Where a layer lives."""
        return self.layers_dir / layer_id

    def sandbox_image(self, info: ImageInfo, base: SandboxImage) -> SandboxImage:
        """What a sandbox of the image runs: its layers on ``base``, the root filesystem of
        its built-in (see ``base_builds``; its pool key changes with every rebuild of
        either)."""
        return SandboxImage(
            key=f"{info.name}@{info.layers[0]}@{base.key}",
            name=info.name,
            layers=tuple(self.layer_path(layer) for layer in info.layers),
            env=info.env,
            workdir=info.workdir,
            tree=base.tree,
            python=base.python,
        )

    # ---- changes ----
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the registry's lock (registrations and removals wait for each other)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "ab") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def new_layer_id(self) -> str:
        """A fresh layer id (also names the build's directory)."""
        return secrets.token_hex(5)

    def register(self, info: ImageInfo, sessions_using: Callable[[str], list[str]]) -> None:
        """Publish ``info``, whose layer is already in place, replacing an earlier image of
        the name. Call with the lock held.

        Raises:
            ImageError: its base was removed meanwhile, or the name is used by an image
                that other images are built on or by running sessions.
        """
        if info.base != info.builtin and self.get(info.base) is None:
            raise ImageError(f"the base image {info.base!r} was removed during the build")
        old = self.get(info.name)
        if old is not None:
            self.check_replaceable(info.name, sessions_using)
        write_atomically(self.root / f"{info.name}.json", json.dumps(info.record(), indent=1))
        if old is not None and old.layers[0] != info.layers[0]:
            self.delete_layer(old.layers[0])

    def check_replaceable(self, name: str, sessions_using: Callable[[str], list[str]]) -> None:
        """ImageError unless the image ``name`` (if any) may be replaced by a new build."""
        if self.get(name) is None:
            return
        children = self.children(name)
        if children:
            raise ImageError(
                f"cannot replace image {name!r}: images are built on it "
                f"({', '.join(children)}); remove them first"
            )
        sessions = sessions_using(name)
        if sessions:
            raise ImageError(
                f"cannot replace image {name!r} while {len(sessions)} running session(s) "
                f"use it ({', '.join(sessions[:5])}); release them or choose another name"
            )

    def children(self, name: str) -> list[str]:
        """Images built directly on ``name``."""
        return [info.name for info in self.all_images() if info.base == name]

    def remove(self, name: str, sessions_using: Callable[[str], list[str]]) -> ImageInfo:
        """Unregister ``name`` and delete its layer.

        ``sessions_using(name)`` answers the running sessions of the image.

        Raises:
            ImageError: no such image, or sessions or other images use it.
        """
        with self.locked():
            info = self.get(check_name(name))
            if info is None:
                raise ImageError(f"no image {name!r}")
            children = self.children(name)
            if children:
                raise ImageError(
                    f"image {name!r} is the base of {', '.join(children)}; remove them first"
                )
            sessions = sessions_using(name)
            if sessions:
                raise ImageError(
                    f"image {name!r} is in use by {len(sessions)} running session(s) "
                    f"({', '.join(sessions[:5])}); release them first"
                )
            os.unlink(self.root / f"{name}.json")
            self.delete_layer(info.layers[0])
            return info

    def delete_layer(self, layer_id: str) -> None:
        """Delete a layer nobody is registered on any more (renamed away first, so a crash
        midway never leaves half a layer under its id)."""
        layer = self.layer_path(layer_id)
        if not layer.exists():
            return
        doomed = self.layers_dir / f".gone-{layer_id}-{time.monotonic_ns()}"
        os.rename(layer, doomed)
        remove_layer_files(doomed)


def remove_layer_files(path: Path) -> None:
    """Delete a layer's directory; rootless, what the runtime's user cannot (files of the
    sessions' other ids) goes as root of a namespace with their mapping."""
    shutil.rmtree(path, ignore_errors=True)
    if os.path.lexists(path) and userns.rootless():
        userns.remove_as_namespace_root(path)


def lockable(path: Path, operation: int) -> bool:
    """Whether ``flock(operation)`` (``LOCK_SH``: nobody holds it exclusively; ``LOCK_EX``:
    nobody holds it at all) on ``path`` succeeds now; True when there is no such file. The
    lock is let go at once."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return True
    with handle:
        try:
            fcntl.flock(handle, operation | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` at once: readers see the old file or the new, never half."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
