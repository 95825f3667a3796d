"""Render the ergonomic layer from ``templates/sdk/`` (one template source, sync and async).

``templates/sdk/manifest.yaml`` lists each template, the modules it renders to and, for a
manager package, what its ``__init__.py`` exports (rendered for both flavours)::

    modules:
      - template: session.py.jinja
        outputs:
          - {path: agentbay/session.py, flavor: sync}
          - {path: agentbay/aio/session.py, flavor: async}
      - template: command.py.jinja
        outputs: [...]
        package:
          doc: "Shell commands in a session: ``Command`` and ``CommandResult``."
          exports:
            agentbay._types.command: [CommandResult]
            self: [Command]          # the module this entry renders

Every template sees the render globals of its flavour (``flavour_globals``): ``flavor``,
``is_async``, ``aw`` (``"await "``/``""``), ``async_`` (``"async "``/``""``), ``Async``
(the class-name prefix), the packages ``pkg`` (``agentbay``/``agentbay.aio``: the public
modules), ``rendered`` (``agentbay._rendered``/``agentbay._rendered.aio``: the rendered
internals) and ``core`` (``agentbay._core``/``agentbay._core.aio``: the hand-written
plumbing), the class names ``Bay``, ``Session``, ``Api``, and the httpx names ``Http`` and
``Transport``; the tool catalogue of the description (``tools``, ``tools_by_name``,
``servers``, ``images``), its ``actions`` and the generated ``models`` package.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

MANIFEST = "manifest.yaml"
#: The low-level client openapi-python-client generates, and its models.
CLIENT = "agentbay._rendered.openapi"
MODELS = f"{CLIENT}.models"
#: Renders a manager package's ``__init__.py`` from the manifest's ``package`` entry.
PACKAGE_TEMPLATE = "_package.py.jinja"


def load_catalogue(spec_path: Path) -> dict[str, Any]:
    """What templates read from the description: the actions and the tool catalogue."""
    import yaml

    with spec_path.open(encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    tools = document.get("x-mcp-tools", [])
    actions = [
        _action(path[2:], item["post"])
        for path, item in sorted(document["paths"].items())
        if path.startswith("/#")
    ]
    return {
        "actions": actions,
        "tools": tools,
        "tools_by_name": {tool["name"]: tool for tool in tools},
        "servers": document.get("x-mcp-servers", {}),
        "images": document.get("x-mcp-images", {}),
        "models": MODELS,
    }


def _schema_name(content: dict[str, Any]) -> str:
    """The component a request or response body refers to (``#/components/schemas/<Name>``)."""
    (media,) = content.values()
    return str(media["schema"]["$ref"]).rsplit("/", 1)[1]


def _action(name: str, operation: dict[str, Any]) -> dict[str, Any]:
    """One row of the action table: where its generated code is and whether a retry is safe."""
    tag = operation["tags"][0]
    return {
        "name": name,
        "tag": tag,
        # openapi-python-client's file name for the operation (snake case of operationId).
        "module": f"{CLIENT}.api.{tag}.{_SNAKE.sub('_', name).lower()}",
        "request": _schema_name(operation["requestBody"]["content"]),
        "response": _schema_name(operation["responses"]["200"]["content"]),
        "safe_to_retry": bool(operation.get("x-safe-to-retry")),
        # The action's own query-string fields (GetSessionDetail's SessionId) and whether
        # its key travels there (SyncContext): (wire name, request builder argument).
        "query": [
            (param["name"], _SNAKE.sub("_", param["name"]).lower())
            for param in operation.get("parameters", ())
            if param.get("in") == "query"
            and param["name"] not in _COMMON_QUERY
            and param["name"] != "Authorization"
        ],
        "key_in_query": any(
            param.get("in") == "query" and param["name"] == "Authorization"
            for param in operation.get("parameters", ())
        ),
    }


def check_action_table(out: Path, actions: list[dict[str, Any]]) -> None:
    """Fail generation when a row names generated code that does not exist."""
    exported = (out / (MODELS.replace(".", "/") + "/__init__.py")).read_text(encoding="utf-8")
    for action in actions:
        module = out / (action["module"].replace(".", "/") + ".py")
        text = module.read_text(encoding="utf-8") if module.exists() else ""
        if "def request_kwargs(" not in text or f"import {action['request']}\n" not in text:
            raise ValueError(
                f"action {action['name']}: {module.relative_to(out)} does not build a "
                f"{action['request']} request"
            )
        if f"import {action['response']}\n" not in exported:
            raise ValueError(f"action {action['name']}: no generated model {action['response']}")


def check_tool_timeouts(tools: list[dict[str, Any]]) -> None:
    """Fail generation when a tool's ``timeout`` names an unknown argument or unit."""
    from agentbay._core.timeouts import ToolTimeout

    for tool in tools:
        ToolTimeout.from_catalogue(tool)


_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")
#: Query parameters every action has (the envelope's, not fields of one action).
_COMMON_QUERY = frozenset({"Action", "Format", "Version", "Timestamp", "SignatureNonce"})
_JSON_TYPES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "array": "list[Any]",
    "object": "dict[str, Any]",
    "null": "None",
}


def python_type(schema: dict[str, Any]) -> str:
    """The Python annotation of a JSON Schema (the subset the tool catalogue uses)."""
    kind = schema.get("type", "object")
    kinds = kind if isinstance(kind, list) else [kind]
    return " | ".join(_JSON_TYPES.get(k, "Any") for k in kinds)


def python_literal(value: Any) -> str:
    """A JSON value as Python source."""
    return repr(value)


def wrap(text: str, width: int = 88, indent: int = 4) -> str:
    """Prose as lines of at most ``width`` characters, continuation lines indented."""
    import textwrap

    lines = textwrap.wrap(" ".join(text.split()), width=width - indent)
    return ("\n" + " " * indent).join(lines)


def flavour_globals(flavor: str) -> dict[str, Any]:
    """The names a template reads to spell one flavour (sync or async)."""
    is_async = flavor == "async"
    prefix = "Async" if is_async else ""
    return {
        "flavor": flavor,
        "is_async": is_async,
        "aw": "await " if is_async else "",
        "async_": "async " if is_async else "",
        "Async": prefix,
        "pkg": "agentbay.aio" if is_async else "agentbay",
        "rendered": "agentbay._rendered.aio" if is_async else "agentbay._rendered",
        "core": "agentbay._core.aio" if is_async else "agentbay._core",
        "Bay": f"{prefix}AgentBay",
        "Session": f"{prefix}Session",
        "Api": f"{prefix}ApiClient",
        "Http": f"httpx.{prefix}Client",
        "Transport": f"httpx.{prefix}BaseTransport",
    }


def _module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def package_exports(module: dict[str, Any], output: dict[str, str]) -> list[tuple[str, list[str]]]:
    """(module, names) of a manager package's ``__init__.py`` for one output of the entry."""
    exports = module["package"]["exports"]
    return [
        (_module_name(output["path"]) if source == "self" else source, sorted(names))
        for source, names in exports.items()
    ]


def render(repo: Path, out: Path, *, header: Callable[[str], str]) -> list[Path]:
    """Render every module of the manifest below ``out``; answer the written paths.

    ``header(template)`` is each module's first line, naming the template it was rendered
    from (a path below ``repo``).
    """
    import jinja2
    import yaml

    template_dir = repo / "templates" / "sdk"
    manifest_path = template_dir / MANIFEST
    if not manifest_path.exists():
        return []
    with manifest_path.open(encoding="utf-8") as handle:
        manifest = yaml.safe_load(handle) or {}
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["python_type"] = python_type
    environment.filters["python_literal"] = python_literal
    environment.filters["wrap"] = wrap
    package_template = environment.get_template(PACKAGE_TEMPLATE)
    catalogue = load_catalogue(repo / "openapi" / "agentbay.yaml")
    written = []
    for module in manifest.get("modules", []):
        template = environment.get_template(module["template"])
        for output in module["outputs"]:
            names = flavour_globals(output["flavor"])
            target = out / output["path"]
            source = f"templates/sdk/{module['template']}"
            _write(target, header(source) + template.render(**names, **catalogue))
            written.append(target)
            if "package" in module:
                init = target.parent / "__init__.py"
                text = package_template.render(
                    doc=module["package"]["doc"], exports=package_exports(module, output)
                )
                _write(init, header(f"templates/sdk/{PACKAGE_TEMPLATE}") + text)
                written.append(init)
    return written


def _write(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
