"""Building user images: run a recipe's steps in a sandbox of the base, keep the writes.

One build = one sandbox started from the base image (its layers, environment and working
directory, the same isolation and network as a session), in a sandbox manager of its own
under ``<data_dir>/images/b/<id>/`` so it never touches a running server's sessions. Steps
run in order; ``RUN`` output streams to the caller while it runs. When every step
succeeded, the sandbox's writable layer becomes the image's read-only layer
(``layers.capture``) and the image is registered; otherwise nothing is.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import fcntl
import os
import posixpath
import shlex
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from agentbay_local.images.base_images import IMPORTED, BaseImageCache
from agentbay_local.images.imagefile import Copy, Env, Recipe, Run, Step, Workdir, describe, expand
from agentbay_local.images.registry import (
    MAX_LAYERS,
    ImageError,
    ImageInfo,
    ImageRegistry,
    builtin_images,
    check_name,
    remove_layer_files,
)
from agentbay_local.protocol import description as api_description
from agentbay_local.sandbox import SandboxManager, layers, layout, probe
from agentbay_local.sandbox.egress import NetworkPolicy
from agentbay_local.sandbox.handle import Sandbox
from agentbay_local.sandbox.image import SandboxImage
from agentbay_local.sandbox.launch import SANDBOX_HOME, session_env
from agentbay_local.sandbox.session_files import copy_entry_at, copy_tree

#: Longest a single RUN step may take unless the caller says otherwise.
DEFAULT_STEP_TIMEOUT_S = 3600.0
#: How much of a failed step's output its error keeps.
ERROR_OUTPUT_CHARS = 4000
#: How often a running step's output is forwarded.
_OUTPUT_POLL_S = 0.05

Output = Callable[[str], None]


class BuildError(ImageError):
    """A build that failed; nothing was registered.

    Attributes:
        exit_code: the failing ``RUN`` step's exit code (1 for other failures).
        output: the end of the failing step's output.
    """

    def __init__(self, message: str, exit_code: int = 1, output: str = "") -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.output = output


@dataclass
class _State:
    """The image as the steps so far made it."""

    env: list[tuple[str, str]]
    workdir: str

    def environment(self) -> dict[str, str]:
        image = SandboxImage(env=tuple(self.env))
        return session_env(SANDBOX_HOME, True, image)

    def cwd(self) -> str:
        return self.workdir or SANDBOX_HOME


async def build(
    data_dir: Path,
    name: str,
    recipe: Recipe,
    *,
    output: Output | None = None,
    step_timeout_s: float = DEFAULT_STEP_TIMEOUT_S,
    network: NetworkPolicy | None = None,
    sessions_using: Callable[[str], list[str]] = lambda _name: [],
) -> ImageInfo:
    """Build the image ``name`` from ``recipe`` and register it (replacing an earlier one).

    ``output`` receives the build's progress and its steps' output as it comes; ``network``
    is what the build's sandbox reaches (the sessions' default policy when omitted);
    ``sessions_using(name)`` answers the running sessions of an image (an image in use is
    not replaced).

    Raises:
        ImageError: a bad name or base, or no isolation on this machine.
        BuildError: a step failed (its exit code and output are attached).
    """
    emit = output or (lambda _text: None)
    registry = ImageRegistry(data_dir)
    image_servers = api_description.image_servers()
    check_name(name)
    builtins = builtin_images(image_servers)
    if name in image_servers:
        raise ImageError(f"{name!r} is a built-in image; choose another name")
    bases = BaseImageCache()
    base = _resolve_base(registry, recipe.base, builtins, bases)
    registry.check_replaceable(name, sessions_using)  # before the work, and again at the end
    # Not the full trial sandbox of isolation_problem(): the build's own sandbox is one.
    problem = probe.quick_problem()
    if problem:
        raise ImageError(f"images are built in isolated sandboxes, impossible here: {problem}")
    if base.builtin in builtins:
        # Built first where it is not yet (with its progress in the output).
        await asyncio.to_thread(bases.pull, base.builtin, output=emit)
    base_image, record = bases.sandbox_image(base.builtin)
    _sweep(registry)
    layer_id = registry.new_layer_id()
    build_dir = registry.builds_dir / layer_id
    build_dir.mkdir(parents=True)
    started = time.monotonic()
    try:
        with open(build_dir / ".building", "ab") as marker, bases.hold(record):
            fcntl.flock(marker, fcntl.LOCK_EX)
            job = _Job(
                registry,
                build_dir,
                layer_id,
                name,
                recipe,
                base,
                base_image,
                emit,
                step_timeout_s,
                network,
                sessions_using,
            )
            info = await _build_in(job)
    finally:
        layout.remove_session_dir(build_dir)
    emit(f"Built image {name} in {time.monotonic() - started:.2f} s\n")
    return info


def _resolve_base(
    registry: ImageRegistry, base: str, builtins: list[str], bases: BaseImageCache
) -> ImageInfo:
    """The base as an image record (built-ins and imported root filesystems get an empty
    stack)."""
    imported = bases.get(base) if base and base not in builtins else None
    if base in builtins or (imported is not None and imported.kind == IMPORTED):
        return ImageInfo(base, base, base, (), (), "", 0, 0.0)
    info = registry.get(base) if base else None
    if info is None:
        raise ImageError(
            f"unknown base image {base!r}; use a built-in ({', '.join(builtins)}), an "
            "imported one or a user image (agentbay local image list)"
        )
    if len(info.layers) >= MAX_LAYERS:
        raise ImageError(f"the base {base!r} already has {MAX_LAYERS} layers, the most allowed")
    return info


def _sweep(registry: ImageRegistry) -> None:
    """Remove what crashed builds left: build dirs nobody holds, layers nobody registered."""
    if registry.builds_dir.is_dir():
        for entry in registry.builds_dir.iterdir():
            try:
                with open(entry / ".building", "ab") as marker:
                    fcntl.flock(marker, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a build under way
            except OSError:
                pass
            layout.remove_session_dir(entry)
    if not registry.layers_dir.is_dir():
        return
    with registry.locked():
        used = {layer for info in registry.all_images() for layer in info.layers}
        building = set(os.listdir(registry.builds_dir)) if registry.builds_dir.is_dir() else set()
        for entry in registry.layers_dir.iterdir():
            if entry.name.startswith(".gone-"):
                remove_layer_files(entry)
            elif entry.name not in used and entry.name not in building:
                registry.delete_layer(entry.name)


@dataclass(frozen=True)
class _Job:
    """One build: what to make, where, and how."""

    registry: ImageRegistry
    build_dir: Path
    layer_id: str
    name: str
    recipe: Recipe
    base: ImageInfo
    #: The built-in's root filesystem the base's layers stack on.
    tree: SandboxImage
    emit: Output
    step_timeout_s: float
    network: NetworkPolicy | None
    sessions_using: Callable[[str], list[str]]


async def _build_in(job: _Job) -> ImageInfo:
    registry, base = job.registry, job.base
    manager = SandboxManager(
        registry.root.parent, pool_size=0, sessions_dir=job.build_dir, network=job.network
    )
    state = _State(env=list(base.env), workdir=base.workdir)
    start_image = SandboxImage(
        layers=tuple(registry.layer_path(layer) for layer in base.layers),
        env=base.env,
        workdir=base.workdir,
        tree=job.tree.tree,
        python=job.tree.python,
    )
    layer = registry.layer_path(job.layer_id)
    captured = False
    try:
        job.emit(f"Building {job.name} from {job.recipe.base} ({len(job.recipe.steps)} step(s))\n")
        try:
            sandbox = await manager.create(
                "build",
                hostname=f"build-{job.layer_id}",
                image_id=job.recipe.base,
                image=start_image,
            )
        except (RuntimeError, ValueError) as exc:
            raise BuildError(f"the build sandbox did not start: {exc}") from None
        for number, step in enumerate(job.recipe.steps, start=1):
            job.emit(f"Step {number}/{len(job.recipe.steps)} : {describe(step)}\n")
            await _run_step(sandbox, step, state, job.emit, job.step_timeout_s, number)
        registry.layers_dir.mkdir(parents=True, exist_ok=True)
        try:
            await sandbox.close_capturing(layer)
        except OSError as exc:
            raise BuildError(f"could not keep the build's files: {exc}") from None
        captured = True
        info = ImageInfo(
            name=job.name,
            base=job.recipe.base,
            builtin=base.builtin,
            layers=(job.layer_id, *base.layers),
            env=tuple(state.env),
            workdir=state.workdir,
            size_bytes=await asyncio.to_thread(layers.layer_size, layer),
            created_at=time.time(),
        )
        with registry.locked():
            registry.register(info, job.sessions_using)
        return info
    except BaseException:
        if captured:
            registry.delete_layer(job.layer_id)
        raise
    finally:
        await manager.close()


async def _run_step(
    sandbox: Sandbox,
    step: Step,
    state: _State,
    emit: Output,
    step_timeout_s: float,
    number: int,
) -> None:
    where = f"step {number} ({describe(step)}" + (f", line {step.line})" if step.line else ")")
    try:
        if isinstance(step, Env):
            env = state.environment()
            for key, value in step.pairs:
                env[key] = expand(value, env)
                state.env = [pair for pair in state.env if pair[0] != key] + [(key, env[key])]
        elif isinstance(step, Workdir):
            path = posixpath.normpath(
                posixpath.join(state.cwd(), expand(step.path, state.environment()))
            )
            await asyncio.to_thread(_make_dirs, sandbox, path)
            state.workdir = path
        elif isinstance(step, Copy):
            await asyncio.to_thread(_copy, sandbox, step, state.cwd())
        elif isinstance(step, Run):
            await _run(sandbox, step.command, state, emit, step_timeout_s, where)
    except OSError as exc:
        raise BuildError(f"{where} failed: {exc}") from None


def _make_dirs(sandbox: Sandbox, path: str) -> None:
    with sandbox.files() as session:
        found = session.stat(path)
        if found is not None and not stat.S_ISDIR(found.st_mode):
            raise OSError(f"{path} exists in the image and is not a directory")
        os.close(session.make_folders(path))


def _copy(sandbox: Sandbox, step: Copy, cwd: str) -> None:
    """Copy like Docker: a folder's contents into the target, a file to it (or into it
    when the target is a directory or ends in '/'); modes kept (setuid/setgid bits
    dropped), owned by root inside. Written by descriptor: a process a RUN step left
    behind cannot redirect the copy (``session_files``)."""
    target_path = posixpath.join(cwd, step.target)
    into_dir = step.target.endswith("/") or len(step.sources) > 1
    with sandbox.files() as session:
        if into_dir or any(source.is_dir() for source in step.sources):
            os.close(session.make_folders(target_path))
        for source in step.sources:
            if source.is_dir():
                folder = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    copy_tree(folder, session.folder_maker(target_path), owner=session.owner)
                finally:
                    os.close(folder)
                continue
            found = session.stat(target_path)
            into = found is not None and stat.S_ISDIR(found.st_mode)
            destination = posixpath.join(target_path, source.name) if into else target_path
            parent = os.open(source.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                with session.parent_of(destination, create=True) as (folder, name):
                    copy_entry_at(parent, source.name, folder, name, owner=session.owner)
            finally:
                os.close(parent)


async def _run(
    sandbox: Sandbox,
    command: str,
    state: _State,
    emit: Output,
    step_timeout_s: float,
    where: str,
) -> None:
    """Run ``/bin/sh -c command`` with the image's env and working directory so far,
    forwarding its output (stdout and stderr, merged) while it runs."""
    log_name = f"/tmp/.agentbay-build-{os.getpid()}-{time.monotonic_ns()}"
    exports = "".join(
        f"export {key}={shlex.quote(value)}; " for key, value in state.environment().items()
    )
    # The status goes to a file: the shell tool's own answer cannot tell the step's exit
    # code from a failure of the wrapper. A missing working directory fails the step (cd's
    # message lands in its output).
    wrapper = (
        f"{exports}{{ cd -- {shlex.quote(state.cwd())} && /bin/sh -c {shlex.quote(command)}; }}"
        f" > {log_name}.log 2>&1 < /dev/null; echo $? > {log_name}.status"
    )
    call = asyncio.ensure_future(
        sandbox.call_tool(
            "shell",
            {"command": wrapper, "timeout_ms": int(step_timeout_s * 1000)},
            timeout_s=step_timeout_s + 10,
        )
    )
    tail = _Tail(sandbox, log_name + ".log", emit)
    try:
        while not call.done():
            await asyncio.wait([call], timeout=_OUTPUT_POLL_S)
            tail.forward()
        tail.forward()
    finally:
        call.cancel()
        tail.close()
    answer = call.result()
    status_text = ""
    with (
        contextlib.suppress(OSError, UnicodeDecodeError),
        sandbox.files() as session,
        session.read_file(log_name + ".status") as status,
    ):
        status_text = status.read(64).decode().strip()
    if answer["isError"] or not status_text.isdigit():
        text = answer["content"][0]["text"] if answer["content"] else ""
        if "[timeout]" in text:
            raise BuildError(f"{where} ran longer than {step_timeout_s:g} s", 124, tail.recent)
        raise BuildError(f"{where} could not run: {text or 'no answer'}", 1, tail.recent)
    code = int(status_text)
    if code != 0:
        raise BuildError(f"{where} failed with exit code {code}", code, tail.recent)


class _Tail:
    """Forwards what a growing file of the session gained since the last look (opened by
    descriptor once it exists, then read from that descriptor)."""

    def __init__(self, sandbox: Sandbox, path: str, emit: Output) -> None:
        self.sandbox = sandbox
        self.path = path
        self.emit = emit
        self.recent = ""
        self._file: BinaryIO | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def forward(self) -> None:
        """Emit everything written since the last call."""
        try:
            if self._file is None:
                with self.sandbox.files() as session:
                    self._file = session.read_file(self.path)
            while chunk := self._file.read(1 << 20):
                text = self._decoder.decode(chunk)
                if text:
                    self.recent = (self.recent + text)[-ERROR_OUTPUT_CHARS:]
                    self.emit(text)
        except OSError:
            return

    def close(self) -> None:
        """Let go of the file."""
        if self._file is not None:
            self._file.close()
            self._file = None
