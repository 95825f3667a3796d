"""Imagefiles: the familiar subset of a Dockerfile that describes a user image.

Instructions (case-insensitive): ``FROM <image>`` (first, once), ``RUN <shell command>``
(or the JSON form ``RUN ["prog", "arg"]``), ``COPY <src>... <dst>`` (sources relative to the
Imagefile's folder and inside it; files and folders, permissions kept), ``ENV K=V ...``
(values may use ``$VAR``/``${VAR}`` of earlier settings and quotes), ``WORKDIR <dir>``.
Lines starting with ``#`` and blank lines are ignored; a line ending in ``\\`` continues on
the next. Anything else is an ``ImagefileError`` naming the file and line.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path


class ImagefileError(ValueError):
    """An Imagefile that cannot be built; the message names the file and line."""


@dataclass(frozen=True)
class Run:
    """``RUN``: a command for ``/bin/sh -c``."""

    command: str
    line: int = 0


@dataclass(frozen=True)
class Copy:
    """``COPY``: host files into the image."""

    sources: tuple[Path, ...]
    target: str
    line: int = 0
    written: tuple[str, ...] = ()  # the sources as the Imagefile spells them


@dataclass(frozen=True)
class Env:
    """``ENV``: variables (values unexpanded, as written)."""

    pairs: tuple[tuple[str, str], ...]
    line: int = 0


@dataclass(frozen=True)
class Workdir:
    """``WORKDIR``: where later steps and the image's sessions run."""

    path: str
    line: int = 0


Step = Run | Copy | Env | Workdir


@dataclass(frozen=True)
class Recipe:
    """What to build: a base image and the steps run on it, in order."""

    base: str
    steps: tuple[Step, ...]


_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_REFERENCE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def describe(step: Step) -> str:
    """The step as an Imagefile line (for build output)."""
    if isinstance(step, Run):
        return f"RUN {step.command}"
    if isinstance(step, Copy):
        sources = step.written or tuple(str(source) for source in step.sources)
        return "COPY " + " ".join([*sources, step.target])
    if isinstance(step, Env):
        return "ENV " + " ".join(f"{key}={shlex.quote(value)}" for key, value in step.pairs)
    return f"WORKDIR {step.path}"


def expand(value: str, env: dict[str, str]) -> str:
    """``$VAR`` and ``${VAR}`` replaced from ``env`` (unknown names become empty)."""
    return _REFERENCE.sub(lambda match: env.get(match[1] or match[2], ""), value)


def recipe_from_options(base: str, commands: list[str]) -> Recipe:
    """The recipe of ``image build NAME --from BASE --run CMD ...``."""
    return Recipe(base=base, steps=tuple(Run(command) for command in commands))


def load(path: Path) -> Recipe:
    """Read and parse an Imagefile (ImagefileError when it cannot be used)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImagefileError(f"cannot read the Imagefile {path}: {exc}") from None
    return parse(text, path.resolve().parent, name=str(path))


def parse(text: str, context: Path, name: str = "Imagefile") -> Recipe:
    """Parse Imagefile ``text``; COPY sources are resolved under ``context``."""
    base: str | None = None
    steps: list[Step] = []
    for number, line in _logical_lines(text):
        where = f"{name}:{number}"
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if base is None and keyword != "FROM":
            raise ImagefileError(f"{where}: the first instruction must be FROM, not {keyword}")
        if not rest:
            raise ImagefileError(f"{where}: {keyword} needs an argument")
        if keyword == "FROM":
            if base is not None:
                raise ImagefileError(f"{where}: only one FROM is supported")
            if len(rest.split()) != 1:
                raise ImagefileError(f"{where}: FROM takes one image name ({rest!r})")
            base = rest
        elif keyword == "RUN":
            steps.append(Run(_run_command(rest, where), number))
        elif keyword == "COPY":
            steps.append(_copy(rest, context, where, number))
        elif keyword == "ENV":
            steps.append(Env(_env_pairs(rest, where), number))
        elif keyword == "WORKDIR":
            steps.append(Workdir(rest, number))
        else:
            raise ImagefileError(
                f"{where}: unsupported instruction {keyword} "
                "(supported: FROM, RUN, COPY, ENV, WORKDIR)"
            )
    if base is None:
        raise ImagefileError(f"{name}: no FROM instruction")
    return Recipe(base=base, steps=tuple(steps))


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each instruction: continuations joined, comments out."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # Docker allows comment lines inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        lines.append((start, " ".join(part for part in pending if part)))
        pending = []
    if pending:
        lines.append((start, " ".join(part for part in pending if part)))
    return lines


def _run_command(rest: str, where: str) -> str:
    if not rest.startswith("["):
        return rest
    try:
        argv = json.loads(rest)
    except ValueError:
        raise ImagefileError(f"{where}: RUN [...] must be a JSON array of strings") from None
    if not argv or not all(isinstance(arg, str) for arg in argv):
        raise ImagefileError(f"{where}: RUN [...] must be a non-empty JSON array of strings")
    return shlex.join(argv)


def _copy(rest: str, context: Path, where: str, number: int) -> Copy:
    if rest.startswith("--"):
        flag = rest.split()[0]
        raise ImagefileError(f"{where}: COPY {flag} is not supported")
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise ImagefileError(f"{where}: COPY: {exc}") from None
    if len(words) < 2:
        raise ImagefileError(f"{where}: COPY needs a source and a destination")
    *sources, target = words
    resolved = []
    root = context.resolve()
    for source in sources:
        path = (root / source).resolve()
        if path != root and root not in path.parents:
            raise ImagefileError(
                f"{where}: COPY source {source!r} is outside the Imagefile's folder {root}"
            )
        if not path.exists():
            raise ImagefileError(f"{where}: COPY source {source!r} does not exist in {root}")
        resolved.append(path)
    return Copy(tuple(resolved), target, number, tuple(sources))


def _env_pairs(rest: str, where: str) -> tuple[tuple[str, str], ...]:
    try:
        # posix=True removes quotes; $ references stay for expansion at build time.
        words = shlex.split(rest)
    except ValueError as exc:
        raise ImagefileError(f"{where}: ENV: {exc}") from None
    pairs = []
    for word in words:
        key, equals, value = word.partition("=")
        if not equals:
            raise ImagefileError(f"{where}: ENV takes KEY=VALUE pairs ({word!r})")
        if not _ENV_KEY.match(key):
            raise ImagefileError(f"{where}: ENV: invalid variable name {key!r}")
        pairs.append((key, value))
    return tuple(pairs)
