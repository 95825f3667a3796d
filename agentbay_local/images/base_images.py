"""Base images: the built-ins' root filesystems and imported ones, cached per machine and user.

One cache serves every data dir of the user (``$XDG_CACHE_HOME/agentbay/images``, else
``~/.cache/agentbay/images``; ``AGENTBAY_IMAGE_CACHE`` overrides). Layout::

    <name>.json          the image's record: its tree, exact package versions, size, build
                         date (written to a temporary name, then renamed: an image is there,
                         or not, atomically)
    t/<name>-<id>/       its root filesystem (owners: see ``rootfs``); a rebuild makes a new
                         one, so a tree never changes under a reader
    .build-<name>-<id>/  a build under way: its tree is renamed into ``t/`` only when
                         complete; whatever a killed build left is removed by the next one
    .lock-<name>         held while ``<name>`` is built: concurrent first uses build once
    .use-<tree>          held (shared) by every runtime whose sessions may use the tree: a
                         rebuild leaves a tree in use in place, the next build of the name
                         removes it once nobody holds it

``t/`` (and a build's tree) are 0700: the trees hold setuid files of the cache's owner.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from agentbay_local.images import manifest, rootfs
from agentbay_local.images.manifest import IMAGE_PYTHON, ManifestError, Recipe
from agentbay_local.images.registry import ImageError, check_name, lockable, write_atomically
from agentbay_local.images.rootfs import Output, RootfsError
from agentbay_local.sandbox import userns
from agentbay_local.sandbox.image import SandboxImage

#: The variable naming another cache directory (tests, or a disk with more room).
CACHE_ENV = "AGENTBAY_IMAGE_CACHE"
#: The variable naming a manifest of one's own instead of ``builtin.yaml`` (tests build
#: small images with it; a site may add packages). Its images are the built-ins then.
MANIFEST_ENV = "AGENTBAY_IMAGE_MANIFEST"
BUILTIN = "built-in"
IMPORTED = "imported"


class NoBuilderHere(ImageError):
    """A built-in image that this machine cannot build (or rebuild) for want of a builder;
    ``problem`` (``rootfs.builder_problem``) says what to install or run."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"cannot build {name}: {problem}")
        self.problem = problem


def default_cache_dir() -> Path:
    """Where this user's base images are kept unless ``AGENTBAY_IMAGE_CACHE`` says."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "agentbay" / "images"


@dataclass(frozen=True)
class BaseImage:
    """One base image in the cache.

    Attributes:
        name: the image id (``code_latest``, or an imported image's name).
        kind: ``built-in`` (built from the manifest) or ``imported`` (from a tarball).
        tree: its root filesystem's directory name under ``t/``.
        source: the manifest digest it was built from, or the tarball it came from.
        packages: installed Debian packages and their exact versions.
        python: the interpreter sessions' tool servers run on, "" when it has none.
        python_version: its version where known.
        size_bytes: disk space of the tree.
        built_at: when it was finished (seconds since the epoch).
        build_seconds: how long building or importing it took.
        rootless: whether it was made by an ordinary user (owners: see ``rootfs``).
    """

    name: str
    kind: str
    tree: str
    source: str
    packages: dict[str, str] = field(default_factory=dict)
    python: str = ""
    python_version: str = ""
    size_bytes: int = 0
    built_at: float = 0.0
    build_seconds: float = 0.0
    rootless: bool = False

    def record(self) -> dict[str, object]:
        """The JSON document stored for the image."""
        return {
            "name": self.name,
            "kind": self.kind,
            "tree": self.tree,
            "source": self.source,
            "packages": dict(sorted(self.packages.items())),
            "python": self.python,
            "python_version": self.python_version,
            "size_bytes": self.size_bytes,
            "built_at": self.built_at,
            "build_seconds": round(self.build_seconds, 1),
            "rootless": self.rootless,
        }

    @classmethod
    def from_record(cls, record: dict[str, object]) -> BaseImage:
        """Parse a stored record (ValueError/TypeError/KeyError when malformed)."""
        packages = record["packages"]
        if not isinstance(packages, dict):
            raise TypeError("packages must be a mapping")
        return cls(
            name=str(record["name"]),
            kind=str(record["kind"]),
            tree=str(record["tree"]),
            source=str(record["source"]),
            packages={str(key): str(value) for key, value in packages.items()},
            python=str(record["python"]),
            python_version=str(record["python_version"]),
            size_bytes=int(str(record["size_bytes"])),
            built_at=float(str(record["built_at"])),
            build_seconds=float(str(record["build_seconds"])),
            rootless=bool(record["rootless"]),
        )


@dataclass(frozen=True)
class ImageState:
    """A base image as ``agentbay local image list`` shows it.

    Attributes:
        name: the image id.
        kind: ``built-in`` or ``imported``.
        state: ``built``, ``not built`` (built on first use or by ``pull``), ``outdated``
            (built from another version of the manifest: ``pull`` rebuilds it), ``tree
            missing`` (its files were deleted: ``pull`` rebuilds it) or ``not in the
            manifest`` (a built-in of another version; ``rm`` removes it).
        image: its record, when built.
        recipe: a built-in's recipe.
    """

    name: str
    kind: str
    state: str
    image: BaseImage | None
    recipe: Recipe | None


class BaseImageCache:
    """The base images of one user (safe to use from several processes at once)."""

    def __init__(self, root: Path | None = None, manifest_path: Path | None = None) -> None:
        self.root = Path(os.path.realpath(root or default_cache_dir()))
        self.trees_dir = self.root / "t"
        chosen = manifest_path or os.environ.get(MANIFEST_ENV)
        self.manifest_path = Path(chosen) if chosen else manifest.BUILTIN_MANIFEST
        # Parsed files by path, kept while the file is the same (a session's create reads
        # both; parsing them each time costs more than the rest of a create).
        self._parsed: dict[Path, tuple[tuple[int, int, int], Any]] = {}

    def _read(self, path: Path, parse: Callable[[Path], Any]) -> Any:
        """``parse(path)``, again only when the file changed (its inode, size, mtime): a
        record is replaced by a rename, the manifest by an edit."""
        info = os.stat(path)
        stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
        known = self._parsed.get(path)
        if known is not None and known[0] == stamp:
            return known[1]
        value = parse(path)
        self._parsed[path] = (stamp, value)
        return value

    # ---- lookups ----
    def recipes(self) -> dict[str, Recipe]:
        """The built-in images' recipes (ImageError when the manifest is broken)."""
        try:
            return dict(self._read(self.manifest_path, manifest.load))
        except OSError as exc:
            raise ImageError(
                f"cannot read the image manifest {self.manifest_path}: {exc}"
            ) from None
        except ManifestError as exc:
            raise ImageError(str(exc)) from None

    def get(self, name: str) -> BaseImage | None:
        """The recorded image ``name``, or None."""

        def parse(path: Path) -> BaseImage:
            with open(path, encoding="utf-8") as handle:
                return BaseImage.from_record(json.load(handle))

        try:
            return self._read(self.root / f"{check_name(name)}.json", parse)  # type: ignore[no-any-return]
        except (FileNotFoundError, ImageError):
            return None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ImageError(f"the record of base image {name!r} is unreadable: {exc}") from None

    def tree_path(self, image: BaseImage) -> Path:
        """Where an image's root filesystem is."""
        return self.trees_dir / image.tree

    def states(self) -> list[ImageState]:
        """The built-ins (in the manifest's order), then the imported images by name."""
        recipes = self.recipes()
        found = []
        for name, recipe in recipes.items():
            image = self.get(name)
            if image is None:
                state = "not built"
            elif not self.tree_path(image).is_dir():
                state = "tree missing"
            elif image.source != recipe.digest():
                state = "outdated"
            else:
                state = "built"
            found.append(ImageState(name, BUILTIN, state, image, recipe))
        with contextlib.suppress(FileNotFoundError):
            for entry in sorted(os.listdir(self.root)):
                name = entry.removesuffix(".json")
                if entry.endswith(".json") and name not in recipes:
                    image = self.get(name)
                    if image is not None:
                        state = "built" if image.kind == IMPORTED else "not in the manifest"
                        found.append(ImageState(name, image.kind, state, image, None))
        return found

    def sandbox_image(self, name: str, *, outdated: bool = False) -> tuple[SandboxImage, BaseImage]:
        """What sessions of the base image ``name`` run (its tree at the bottom, its own
        interpreter for the tool server), and its record. The pool key names the tree, so
        a rebuild's sessions start on the new one.

        Raises:
            ImageError: it is not built (the message says how to build it), is outdated
                (unless ``outdated`` allows a built-in built from another version of the
                manifest), or cannot run a tool server (no ``python3``).
        """
        image = self.get(name)
        recipe = self.recipes().get(name)
        if image is None or not self.tree_path(image).is_dir():
            how = (
                f"agentbay local image pull {name}"
                if recipe is not None
                else f"agentbay local image import {name} TARBALL"
            )
            raise ImageError(f"the image {name} is not built on this machine yet: {how}")
        if recipe is not None and image.source != recipe.digest() and not outdated:
            raise ImageError(
                f"the image {name} was built from another version of its manifest: "
                f"agentbay local image pull {name}"
            )
        if not image.python:
            raise ImageError(
                f"the image {name} has no {IMAGE_PYTHON}, which runs the session's tool "
                "server: add Python 3 to its root filesystem and import it again"
            )
        if image.rootless != userns.rootless():
            mode = "an ordinary user" if image.rootless else "root"
            raise ImageError(
                f"the image {name} in {self.root} was made by {mode}; rebuild it: "
                f"agentbay local image pull --rebuild {name}"
            )
        tree = self.tree_path(image)
        return SandboxImage(
            key=f"{name}@{image.tree}", name=name, tree=tree, python=image.python
        ), image

    def hold(self, image: BaseImage) -> IO[bytes]:
        """Mark ``image``'s tree as used by this process until the returned file is closed
        (a shared lock): a rebuild or removal leaves it in place meanwhile."""
        handle = open(self.root / f".use-{image.tree}", "ab")  # noqa: SIM115 - the caller's
        fcntl.flock(handle, fcntl.LOCK_SH)
        return handle

    def _unused(self, tree: str) -> bool:
        """Whether no process holds ``tree`` (``hold``); then its use file goes too (a
        runtime that takes it meanwhile finds the tree gone and reads the record again)."""
        path = self.root / f".use-{tree}"
        if not lockable(path, fcntl.LOCK_EX):
            return False
        with contextlib.suppress(OSError):
            os.unlink(path)
        return True

    # ---- making images ----
    def pull(self, name: str, *, rebuild: bool = False, output: Output | None = None) -> BaseImage:
        """The built-in image ``name``, built first if it is not yet (or was built from
        another version of the manifest, or ``rebuild`` asks). Concurrent callers wait for
        one build and all get its result.

        Raises:
            NoBuilderHere: it cannot be built here (the message says what to install or run).
            ImageError: not a built-in image, or the build failed (nothing was kept).
        """
        emit = output or (lambda _text: None)
        recipes = self.recipes()
        recipe = recipes.get(name)
        if recipe is None:
            raise ImageError(
                f"{name!r} is not a built-in image ({', '.join(recipes)}); imported images "
                "are made by: agentbay local image import NAME TARBALL"
            )
        current = self.get(name)
        if self._current(current, recipe) and not rebuild:
            assert current is not None
            return current
        problem = rootfs.builder_problem()
        if problem:
            raise NoBuilderHere(name, problem)
        with self._locked(name, emit):
            # Another process may have built it while this one waited for the lock.
            current = self.get(name)
            if self._current(current, recipe) and not rebuild:
                assert current is not None
                return current
            return self._make(
                name,
                BUILTIN,
                recipe.digest(),
                lambda tree, work: rootfs.build_tree(recipe, tree, work, emit),
                emit,
            )

    def _current(self, image: BaseImage | None, recipe: Recipe) -> bool:
        """Whether ``image`` is built from ``recipe`` as it is now, and its tree is there."""
        return (
            image is not None and image.source == recipe.digest() and self.tree_path(image).is_dir()
        )

    def import_tarball(self, name: str, tarball: Path, output: Output | None = None) -> BaseImage:
        """Make the base image ``name`` from a root filesystem tarball (``docker export``,
        a ``debootstrap`` or ``mmdebstrap`` of another release, another distribution),
        replacing an earlier import of the name.

        Raises:
            ImageError: a built-in's name, an unreadable tarball, or tar failed (nothing was
                kept).
        """
        emit = output or (lambda _text: None)
        check_name(name)
        if name in self.recipes():
            raise ImageError(f"{name!r} is a built-in image; import under another name")
        source = str(Path(tarball).resolve())
        with self._locked(name, emit):
            return self._make(
                name,
                IMPORTED,
                source,
                lambda tree, _work: rootfs.extract_tarball(Path(source), tree, emit),
                emit,
            )

    def remove(self, name: str) -> BaseImage:
        """Remove a base image's record and tree (a built-in is built again on next use).

        Raises:
            ImageError: no such image.
        """
        with self._locked(name, lambda _text: None):
            image = self.get(name)
            if image is None:
                raise ImageError(f"no base image {name!r} in {self.root}")
            os.unlink(self.root / f"{name}.json")
            if self._unused(image.tree):
                self._remove_quietly(self.tree_path(image))
            return image

    def _make(
        self,
        name: str,
        kind: str,
        source: str,
        fill: Callable[[Path, Path], rootfs.TreeFacts],
        emit: Output,
    ) -> BaseImage:
        """Fill a fresh tree in a build directory, then publish it; with the name's lock."""
        started = time.monotonic()
        tree_id = f"{name}-{secrets.token_hex(4)}"
        build_dir = self.root / f".build-{tree_id}"
        tree = build_dir / "private" / "root"
        work = build_dir / "work"
        try:
            build_dir.mkdir(mode=0o711)
            # The tree's setuid files stay out of other users' reach (as in t/); the scratch
            # space is open to the unshared root of a rootless mmdebstrap (its TMPDIR).
            (build_dir / "private").mkdir(mode=0o700)
            tree.mkdir()
            work.mkdir()
            os.chmod(work, 0o1777)
            facts = fill(tree, work)
            if kind == BUILTIN:
                self._share_files(name, tree, emit)
            size = rootfs.tree_size(tree)
            self.trees_dir.mkdir(mode=0o700, exist_ok=True)
            os.rename(tree, self.trees_dir / tree_id)
            image = BaseImage(
                name=name,
                kind=kind,
                tree=tree_id,
                source=source,
                packages=facts.packages,
                python=facts.python,
                python_version=facts.python_version,
                size_bytes=size,
                built_at=time.time(),
                build_seconds=time.monotonic() - started,
                rootless=userns.rootless(),
            )
            old = self.get(name)
            try:
                write_atomically(self.root / f"{name}.json", json.dumps(image.record(), indent=1))
            except BaseException:
                self._remove_quietly(self.trees_dir / tree_id)
                raise
            if old is not None and old.tree != tree_id and self._unused(old.tree):
                # A tree in use stays until the next build of the name (``_sweep``).
                self._remove_quietly(self.tree_path(old))
        except RootfsError as exc:
            raise ImageError(f"could not make {name}: {exc}\nNothing was kept.") from None
        except OSError as exc:
            raise ImageError(f"could not make {name}: {exc}; nothing was kept") from None
        finally:
            self._remove_quietly(build_dir)
        emit(
            f"{'Built' if kind == BUILTIN else 'Imported'} {name} in {image.build_seconds:.1f} s: "
            f"{len(image.packages)} packages, {size / 1e6:.0f} MB\n"
        )
        return image

    def _share_files(self, name: str, tree: Path, emit: Output) -> None:
        """Hard-link the new tree's files to identical ones of the other built-ins' trees
        (``share_files``: the images repeat each other). A failure costs disk, not the
        build: every file is whole either way."""
        others = []
        for other in self.recipes():
            image = self.get(other) if other != name else None
            if image is not None and self.tree_path(image).is_dir():
                others.append(self.tree_path(image))
        if not others:
            return
        started = time.monotonic()
        try:
            files, shared = rootfs.share_identical_files(tree, others)
        except RootfsError as exc:
            emit(f"Files not shared with the other images (more disk used): {exc}\n")
            return
        emit(
            f"Shared {files} files ({shared / 1e6:.0f} MB) with the other images' trees in "
            f"{time.monotonic() - started:.1f} s\n"
        )

    # ---- housekeeping ----
    def _prepare_root(self) -> None:
        """The cache and its tree directory: others may pass through the cache (a rootless
        build's unshared root must reach its scratch space), never read it, nor enter t/."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.root.stat().st_mode & 0o066:
            os.chmod(self.root, 0o711)
        self.trees_dir.mkdir(mode=0o700, exist_ok=True)
        if self.trees_dir.stat().st_mode & 0o077:
            os.chmod(self.trees_dir, 0o700)

    @contextlib.contextmanager
    def _locked(self, name: str, emit: Output, *, wait: bool = True) -> Iterator[bool]:
        """Hold the name's build lock, then clear what killed builds of it left; yields
        whether it holds it (False only without ``wait``, when another process does)."""
        self._prepare_root()
        with open(self.root / f".lock-{name}", "ab") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not wait:
                    yield False
                    return
                emit(f"Waiting for another build of {name} to finish\n")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                self._sweep(name)
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _sweep(self, name: str) -> None:
        """Remove build dirs of ``name`` (nobody builds it but the lock's holder) and its
        trees no record names (a build killed between the rename and the record)."""
        current = self.get(name)
        for entry in os.listdir(self.root):
            stem = entry.removeprefix(".build-")
            if entry.startswith(".build-") and stem.rpartition("-")[0] == name:
                self._remove_quietly(self.root / entry)
        if self.trees_dir.is_dir():
            for entry in os.listdir(self.trees_dir):
                mine = entry.rpartition("-")[0] == name
                if mine and (current is None or entry != current.tree) and self._unused(entry):
                    self._remove_quietly(self.trees_dir / entry)

    def clean(self, name: str, *, wait: bool = True) -> None:
        """Remove what killed builds of ``name`` left, and its trees no record names that
        nobody uses any more (every build does this first); without ``wait``, nothing when
        a build of it is under way."""
        with self._locked(name, lambda _text: None, wait=wait):
            pass

    @staticmethod
    def _remove_quietly(path: Path) -> None:
        with contextlib.suppress(RootfsError, OSError):
            rootfs.remove_tree(path)
