"""What each built-in image is made of: ``builtin.yaml`` read into recipes for the builder.

The file beside this module is the one place that says which Debian packages each built-in
image has (readable and diffable); ``rootfs.py`` builds a recipe into a root filesystem and
records the exact versions it got. Tests load small manifests of their own with ``load``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The built-in images' manifest.
BUILTIN_MANIFEST = Path(__file__).with_name("builtin.yaml")
#: Environment variables that replace the manifest's archive URLs (a local mirror).
MIRROR_ENV = "AGENTBAY_DEBIAN_MIRROR"
SECURITY_MIRROR_ENV = "AGENTBAY_DEBIAN_SECURITY_MIRROR"
#: mmdebstrap's package sets an image may start from (its ``--variant``).
VARIANTS = ("essential", "apt", "required", "minbase", "important", "standard")
#: Where every image's interpreter is: the session's tool server runs on it.
IMAGE_PYTHON = "/usr/bin/python3"
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+\Z")


class ManifestError(Exception):
    """A manifest that cannot be built from; the message names the image and the key."""


@dataclass(frozen=True)
class Recipe:
    """One image of a manifest, with what it extends folded in.

    Attributes:
        name: the image id (``code_latest``).
        about: one line for people.
        variant: mmdebstrap's package set below ``packages``.
        packages: Debian package names, the extended image's first.
        suite: the Debian release (``bookworm``).
        sources: apt source lines (``deb URL SUITE COMPONENTS``).
        path_exclude: dpkg's ``path-exclude`` patterns (files no package installs).
        path_include: dpkg's ``path-include`` patterns (exceptions to those).
    """

    name: str
    about: str
    variant: str
    packages: tuple[str, ...]
    suite: str
    sources: tuple[str, ...]
    path_exclude: tuple[str, ...] = ()
    path_include: tuple[str, ...] = ()

    def digest(self) -> str:
        """A short hash of everything that decides the build: a recorded image whose digest
        differs was built from another version of the manifest."""
        text = json.dumps(
            [
                self.variant,
                self.packages,
                self.suite,
                self.sources,
                self.path_exclude,
                self.path_include,
            ],
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load(path: Path = BUILTIN_MANIFEST) -> dict[str, Recipe]:
    """Every image of the manifest at ``path``, by name.

    Raises:
        ManifestError: unreadable, or an image whose keys are wrong (the message says which).
    """
    import yaml

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ManifestError(f"cannot read the image manifest {path}: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("images"), dict):
        raise ManifestError(f"{path}: needs a mapping 'images'")
    debian = _mapping(document.get("debian", {}), f"{path}: debian")
    suite = str(debian.get("suite", "bookworm"))
    sources = _sources(debian, suite)
    excludes = tuple(str(item) for item in _list(debian, "path_exclude", "debian"))
    includes = tuple(str(item) for item in _list(debian, "path_include", "debian"))
    images: dict[str, Any] = document["images"]
    recipes: dict[str, Recipe] = {}

    def resolve(name: str, seen: tuple[str, ...]) -> Recipe:
        if name in recipes:
            return recipes[name]
        if name in seen:
            raise ManifestError(f"{path}: images extend each other in a circle: {name}")
        entry = _mapping(images.get(name), f"{path}: image {name!r}")
        own = tuple(str(item) for item in _list(entry, "packages", name))
        bad = [package for package in own if not _PACKAGE.match(package)]
        if bad:
            raise ManifestError(f"{path}: image {name!r}: not package names: {', '.join(bad)}")
        parent = entry.get("extends")
        inherited: tuple[str, ...] = ()
        variant = entry.get("variant")
        if parent is not None:
            if str(parent) not in images:
                raise ManifestError(f"{path}: image {name!r} extends unknown {parent!r}")
            base = resolve(str(parent), (*seen, name))
            inherited = base.packages
            variant = variant or base.variant
        variant = str(variant or "apt")
        if variant not in VARIANTS:
            raise ManifestError(f"{path}: image {name!r}: variant must be one of {VARIANTS}")
        packages = tuple(dict.fromkeys((*inherited, *own)))
        if not any(package.startswith("python3") for package in packages):
            raise ManifestError(
                f"{path}: image {name!r} has no python3: the session's tool server runs on it"
            )
        recipe = Recipe(
            name=name,
            about=str(entry.get("about", "")),
            variant=variant,
            packages=packages,
            suite=suite,
            sources=sources,
            path_exclude=excludes,
            path_include=includes,
        )
        recipes[name] = recipe
        return recipe

    for name in images:
        resolve(str(name), ())
    return recipes


def _sources(debian: dict[str, Any], suite: str) -> tuple[str, ...]:
    """The apt source lines: the main archive (and ``-updates``), the security archive."""
    components = " ".join(str(item) for item in _list(debian, "components", "debian")) or "main"
    mirror = os.environ.get(MIRROR_ENV) or str(debian.get("mirror", ""))
    security = os.environ.get(SECURITY_MIRROR_ENV) or str(debian.get("security_mirror", ""))
    if not mirror:
        raise ManifestError("the image manifest names no Debian mirror (debian: mirror)")
    lines = [f"deb {mirror} {suite} {components}"]
    if debian.get("updates", True):
        lines.append(f"deb {mirror} {suite}-updates {components}")
    if security:
        lines.append(f"deb {security} {suite}-security {components}")
    return tuple(lines)


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ManifestError(f"{where}: must be a mapping")
    return value


def _list(mapping: dict[str, Any], key: str, where: str) -> list[Any]:
    value = mapping.get(key) or []
    if not isinstance(value, list):
        raise ManifestError(f"{where}: {key} must be a list")
    return value
