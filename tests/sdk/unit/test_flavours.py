"""Every sync method has an async twin with the same signature (one template, two flavours).

The modules are the pairs of templates/sdk/manifest.yaml plus the flavour modules; a method
that exists in one flavour only, or whose parameters differ, fails here.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.support.paths import REPO

#: Methods that are the flavour difference itself (``with`` vs ``async with``).
FLAVOUR_ONLY = {"__enter__", "__exit__", "__aenter__", "__aexit__"}
#: Per class: the async constructor cannot do I/O, so the async ExtensionsService is built by
#: ``await ExtensionsService.create_service(...)`` where the sync one gets its context itself.
CONSTRUCTED_DIFFERENTLY = {"ExtensionsService": {"__init__", "create_service"}}


def module_pairs() -> list[tuple[str, str]]:
    manifest = yaml.safe_load((REPO / "templates" / "sdk" / "manifest.yaml").read_text())
    pairs = [("agentbay._core.flavour", "agentbay._core.aio.flavour")]
    for module in manifest["modules"]:
        paths = {output["flavor"]: output["path"] for output in module["outputs"]}
        if {"sync", "async"} <= paths.keys():
            name = {f: p.removesuffix(".py").replace("/", ".") for f, p in paths.items()}
            pairs.append((name["sync"], name["async"]))
    return pairs


def own_classes(module: ModuleType) -> dict[str, type]:
    return {
        name: value
        for name, value in vars(module).items()
        if inspect.isclass(value) and value.__module__ == module.__name__
    }


def plain(name: str) -> str:
    """A class name without its flavour prefix (``AsyncSession`` -> ``Session``)."""
    return name.removeprefix("Async")


def shape(function: Any) -> list[tuple[str, Any, Any, str]]:
    """Parameters with kinds, defaults and annotations, flavour words taken out."""
    out = []
    for parameter in inspect.signature(function).parameters.values():
        annotation = str(parameter.annotation)
        for word, same in (("Awaitable[None]", "None"), ("Async", "")):
            annotation = annotation.replace(word, same)
        default = parameter.default
        if callable(default):  # a flavour function (sleep): compare by name
            default = default.__name__
        out.append((parameter.name, parameter.kind, default, annotation))
    return out


def public_functions(namespace: Any) -> dict[str, Any]:
    """Public functions and methods (``__init__`` included) of a module or class."""
    out = {}
    for name, value in vars(namespace).items():
        function = getattr(value, "__func__", value)  # classmethod / staticmethod
        if inspect.isfunction(function) and (not name.startswith("_") or name == "__init__"):
            out[name] = function
    return out


@pytest.mark.parametrize(("sync_name", "async_name"), module_pairs())
def test_every_sync_method_has_an_async_twin(sync_name: str, async_name: str) -> None:
    sync_module = importlib.import_module(sync_name)
    async_module = importlib.import_module(async_name)
    sync_classes = {plain(n): c for n, c in own_classes(sync_module).items()}
    async_classes = {plain(n): c for n, c in own_classes(async_module).items()}
    assert sync_classes.keys() == async_classes.keys(), "the two flavours define other classes"
    for name, cls in sync_classes.items():
        skip = FLAVOUR_ONLY | CONSTRUCTED_DIFFERENTLY.get(name, set())
        mine = {k: v for k, v in public_functions(cls).items() if k not in skip}
        theirs = {k: v for k, v in public_functions(async_classes[name]).items() if k not in skip}
        assert mine.keys() == theirs.keys(), f"{name}: methods differ"
        for method, function in mine.items():
            assert shape(function) == shape(theirs[method]), f"{name}.{method}"
    for name, function in public_functions(sync_module).items():
        if function.__module__ != sync_name:
            continue
        twin = getattr(async_module, name, None)
        assert twin is not None, f"{async_name} has no {name}"
        assert shape(function) == shape(twin), name


def test_async_twins_are_coroutines() -> None:
    """Where the sync method does I/O the async one is awaited (spot-checked on the API)."""
    from agentbay.aio.agentbay import AsyncAgentBay
    from agentbay.aio.session import AsyncSession

    for cls in (AsyncAgentBay, AsyncSession):
        for name in ("create", "list", "get", "delete") if cls is AsyncAgentBay else ("delete",):
            assert inspect.iscoroutinefunction(getattr(cls, name)), f"{cls.__name__}.{name}"
