"""MkDocs hook: a warning (so, under ``--strict``, a failed build) for every public name of the
SDK that has no docstring or that no reference page renders.

The public API is what a user can import: the ``__all__`` of every public module of
``agentbay`` (no ``_``-prefixed part; the CLI, ``agentbay.contract`` (the runtime's view of the
SDK) and ``agentbay.local`` (an alias of the runtime's functions, rendered from
``agentbay_local``) excepted), and of each public class its methods and properties. Data
attributes are described in their class's docstring (``Attributes:``), as the code does.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import griffe

log = logging.getLogger("mkdocs.hooks.docstrings")

PACKAGE = "agentbay"
#: Loaded beside it so reference pages can render the runtime's public functions...
RUNTIME_PACKAGE = "agentbay_local"
#: ...and the MCP server's.
MCP_PACKAGE = "agentbay_mcp"
#: Public-looking modules that are not SDK API or are rendered from elsewhere: what the runtime
#: package uses of the SDK, the console script, and the alias of the runtime's public functions
#: (their reference is rendered from ``agentbay_local``).
NOT_API_PREFIXES = ("agentbay.contract", "agentbay.cli", "agentbay.local")
DIRECTIVE = re.compile(r"^:::\s+(\S+)", re.MULTILINE)


def _is_public_module(path: str) -> bool:
    parts = path.split(".")
    if any(part.startswith("_") for part in parts):
        return False
    return not any((path + ".").startswith(prefix) for prefix in NOT_API_PREFIXES)


def _public_names(module: griffe.Module) -> list[griffe.Object | griffe.Alias]:
    """What ``from module import *`` gives: ``__all__``, else names defined in the module."""
    exported = module.exports
    if exported is not None:
        names = [name for name in exported if isinstance(name, str)]
        return [module.members[name] for name in names if name in module.members]
    return [
        member
        for name, member in module.members.items()
        if not name.startswith("_") and not member.is_alias and not member.is_module
    ]


def _target(obj: griffe.Object | griffe.Alias) -> griffe.Object | None:
    try:
        target = obj.final_target if isinstance(obj, griffe.Alias) else obj
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None
    return target if isinstance(target, griffe.Object) else None


def public_api(package: griffe.Module) -> dict[str, griffe.Object]:
    """Every public class, function and module-level name of the SDK, by canonical path."""
    found: dict[str, griffe.Object] = {}
    modules: list[griffe.Module] = [package]
    while modules:
        module = modules.pop()
        for submodule in module.modules.values():
            if isinstance(submodule, griffe.Module) and _is_public_module(submodule.path):
                modules.append(submodule)
        if not _is_public_module(module.path) and module is not package:
            continue
        for member in _public_names(module):
            target = _target(member)
            if (
                target is not None
                and target.path.startswith(package.path + ".")
                and (target.is_class or target.is_function)
            ):
                found[target.path] = target
    return found


def _undocumented(obj: griffe.Object) -> list[str]:
    """Paths of ``obj`` and of its public methods and properties that have no docstring."""
    missing = [] if obj.docstring and obj.docstring.value.strip() else [obj.path]
    if obj.is_class:
        for name, member in obj.members.items():
            if name.startswith("_") or member.is_alias:
                continue
            is_callable = member.is_function or "property" in getattr(member, "labels", set())
            if is_callable and not (member.docstring and member.docstring.value.strip()):
                missing.append(member.path)
    return missing


def _rendered(docs_dir: Path, package: griffe.Module) -> set[str]:
    """Canonical paths of the objects the reference pages render with ``:::``."""
    rendered: set[str] = set()
    for page in docs_dir.rglob("*.md"):
        for identifier in DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            try:
                obj = package.modules_collection.get_member(identifier)
            except KeyError:
                log.warning("%s: ::: %s names nothing in the package", page, identifier)
                continue
            target = _target(obj)
            if target is not None:
                rendered.add(target.path)
    return rendered


def problems(package_name: str, root: Path, docs_dir: Path) -> list[str]:
    """What is wrong with the package's documentation: one line per public name without a
    docstring or missing from the reference pages under ``docs_dir``."""
    collection = griffe.ModulesCollection()
    griffe.load(RUNTIME_PACKAGE, search_paths=[str(root)], modules_collection=collection)
    griffe.load(MCP_PACKAGE, search_paths=[str(root)], modules_collection=collection)
    package = griffe.load(
        package_name, search_paths=[str(root)], resolve_aliases=True, modules_collection=collection
    )
    assert isinstance(package, griffe.Module)
    api = public_api(package)
    rendered = _rendered(docs_dir, package)
    found = []
    for path, obj in sorted(api.items()):
        found += [f"public name without a docstring: {name}" for name in _undocumented(obj)]
        if path not in rendered:
            found.append(f"public name missing from the reference pages: {path}")
    return found


def on_pre_build(config: Any) -> None:
    """Check the docstrings and the reference's coverage before the pages are rendered."""
    root = Path(config["config_file_path"]).parent
    for problem in problems(PACKAGE, root, Path(config["docs_dir"])):
        log.warning("%s", problem)
