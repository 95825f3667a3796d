"""The base images of a running runtime: found for each new session, built when missing.

A session of a built-in image runs on the image's current tree in the per-user cache
(``base_images``), read at every create: a tree rebuilt by ``agentbay local image pull``
(another process) serves the next session. A built-in that is not built yet is built in
the background, one at a time, its progress in the runtime's log (``serve`` starts the
missing ones at start); a create meanwhile answers ``ImageBuilding`` at once, a retryable
error saying how far the build is, rather than holding the request for a minute. One built
from another version of the manifest keeps serving (serve says so at start; ``agentbay local
image pull``, ``make images`` rebuild it): rebuilding it unasked would fight another
checkout of another manifest version over this user's one cache.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

from agentbay.contract import get_logger
from agentbay_local.images.base_images import IMPORTED, BaseImage, BaseImageCache
from agentbay_local.images.registry import ImageError
from agentbay_local.images.rootfs import builder_problem
from agentbay_local.sandbox.image import SandboxImage

log = get_logger("agentbay.local.images")


class ImageBuilding(ImageError):
    """The image is being built; the same request succeeds once the build is done."""


#: How long a failed build's error is the answer before a create tries the build again.
RETRY_AFTER_S = 60.0


@dataclass
class _Build:
    """One background build: when it started, its last progress line, how it ended."""

    started: float
    error: str | None = None
    finished: float | None = None
    last_line: str = ""

    def failed_lately(self) -> bool:
        """Whether it failed less than ``RETRY_AFTER_S`` ago (its error is the answer)."""
        return (
            self.error is not None
            and self.finished is not None
            and time.monotonic() - self.finished < RETRY_AFTER_S
        )


class BaseImages:
    """The base images one runtime's sessions run on (thread-safe)."""

    def __init__(self, cache: BaseImageCache | None = None) -> None:
        self.cache = cache or BaseImageCache()
        self._lock = threading.Lock()
        self._builds: dict[str, _Build] = {}
        self._queue: list[str] = []
        self._worker: threading.Thread | None = None
        self._held: dict[str, IO[bytes]] = {}  # trees this runtime's sessions use
        self._closed = False

    def builtin_names(self) -> list[str]:
        """The built-in images of the manifest."""
        return list(self.cache.recipes())

    def imported(self, name: str) -> bool:
        """Whether ``name`` is an imported base image (``agentbay local image import``)."""
        image = self.cache.get(name)
        return image is not None and image.kind == IMPORTED

    def missing(self, names: Iterable[str] | None = None) -> list[str]:
        """Built-ins (of ``names``, default all) that must be built before sessions run."""
        return self._in_state(("not built", "tree missing"), names)

    def outdated(self) -> list[str]:
        """Built-ins built from another version of the manifest (they still serve)."""
        return self._in_state(("outdated",))

    def _in_state(self, states: tuple[str, ...], names: Iterable[str] | None = None) -> list[str]:
        wanted = set(names) if names is not None else None
        return [
            entry.name
            for entry in self.cache.states()
            if entry.recipe is not None
            and entry.state in states
            and (wanted is None or entry.name in wanted)
        ]

    def unbuildable(self) -> str | None:
        """Why missing built-ins cannot be built here (what to install or run), or None
        when none is missing or they can be built."""
        missing = self.missing()
        if not missing:
            return None
        problem = builder_problem()
        if problem is None:
            return None
        return f"the built-in images {', '.join(missing)} are not built, and {problem}"

    def build_missing(self, names: Iterable[str] | None = None) -> list[str]:
        """Start building the missing built-ins (of ``names``) in the background, one at a
        time; returns them."""
        missing = self.missing(names)
        for name in missing:
            self._start(name)
        return missing

    def sandbox_image(self, name: str) -> tuple[SandboxImage, BaseImage]:
        """What a new session of the base image ``name`` runs, and the image's record; its
        tree is kept (``BaseImageCache.hold``) while this runtime runs.

        Raises:
            ImageBuilding: a built-in being built (its build started now if it had not).
            ImageError: it cannot be used (the message says why and what to do).
        """
        while True:
            try:
                image, record = self.cache.sandbox_image(name, outdated=True)
            except ImageError as exc:
                if name not in self.cache.recipes():
                    raise
                raise self._building(name, exc) from None
            with self._lock:
                if record.tree not in self._held and not self._closed:
                    self._held[record.tree] = self.cache.hold(record)
            if image.tree is not None and image.tree.is_dir():
                return image, record
            # A rebuild replaced the tree between the read and the hold: read again.

    def _building(self, name: str, why: ImageError) -> ImageError:
        """The error for a create of the unbuilt built-in ``name``: its build's state."""
        with self._lock:
            build = self._builds.get(name)
        if build is not None and build.failed_lately():
            return ImageError(f"the image {name} could not be built: {build.error}")
        problem = builder_problem()
        if problem is not None:
            return ImageError(f"{why}; it cannot be built here: {problem}")
        self._start(name)
        with self._lock:
            build = self._builds[name]
            running = int(time.monotonic() - build.started)
            last = build.last_line.strip()
        state = f"building for {running} s" if running or last else "waiting to be built"
        return ImageBuilding(
            f"the image {name} is being built on this machine (first use; {state}"
            f"{f', now: {last}' if last else ''}); retry in a minute, or build it ahead of "
            f"time with: agentbay local image pull {name}"
        )

    def _start(self, name: str) -> None:
        with self._lock:
            build = self._builds.get(name)
            if self._closed or (
                build is not None and (build.finished is None or build.failed_lately())
            ):
                return  # under way, or failed a moment ago
            self._builds[name] = _Build(time.monotonic())
            self._queue.append(name)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._work, name="agentbay-image-builds", daemon=True
                )
                self._worker.start()

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._queue or self._closed:
                    self._worker = None
                    return
                name = self._queue.pop(0)
                build = self._builds[name]
                build.started = time.monotonic()
            log.info("building the image %s (first use on this machine)", name)

            def progress(text: str, name: str = name, build: _Build = build) -> None:
                build.last_line = text.rstrip()[-120:]
                log.info("image %s: %s", name, text.rstrip())

            try:
                image = self.cache.pull(name, output=progress)
            except Exception as exc:  # reported to every create of the image
                build.error = str(exc)
                log.error("the image %s could not be built: %s", name, exc)
            else:
                log.info(
                    "the image %s is built (%.0f s, %d MB)",
                    name,
                    image.build_seconds,
                    image.size_bytes // 1_000_000,
                )
            build.finished = time.monotonic()

    def close(self) -> None:
        """Let go of the trees this runtime held, removing those replaced or removed
        meanwhile that nobody else uses; builds under way finish on their own (a build is
        atomic: killed with the process, it leaves nothing)."""
        with self._lock:
            self._closed = True
            held, self._held = self._held, {}
            self._queue.clear()
        for handle in held.values():
            handle.close()
        for name in {tree.rpartition("-")[0] for tree in held}:
            try:
                self.cache.clean(name, wait=False)
            except (ImageError, OSError) as exc:  # the next build of the name tries again
                log.warning("could not remove unused trees of %s: %s", name, exc)
