"""Render the ergonomic layer from ``templates/sdk/`` (one template source, sync and async).

``templates/sdk/manifest.yaml`` lists each template and the modules it renders to::

    modules:
      - template: session.py.jinja
        outputs:
          - {path: agentbay/session.py, flavor: sync}
          - {path: agentbay/aio/session.py, flavor: async}

Every template sees ``flavor`` (``"sync"``/``"async"``), ``is_async``, the helpers
``aw`` (``"await "`` or ``""``) and ``async_`` (``"async "`` or ``""``), and the tool
catalogue of the description (``tools``, ``tools_by_name``, ``servers``, ``images``) and its
``actions`` (name, tag, safe_to_retry).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MANIFEST = "manifest.yaml"


def load_catalogue(spec_path: Path) -> dict[str, Any]:
    """What templates read from the description: the actions and the tool catalogue."""
    import yaml

    with spec_path.open(encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    tools = document.get("x-mcp-tools", [])
    actions = [
        {
            "name": path[2:],
            "tag": item["post"]["tags"][0],
            "safe_to_retry": bool(item["post"].get("x-safe-to-retry")),
        }
        for path, item in sorted(document["paths"].items())
        if path.startswith("/#")
    ]
    return {
        "actions": actions,
        "tools": tools,
        "tools_by_name": {tool["name"]: tool for tool in tools},
        "servers": document.get("x-mcp-servers", {}),
        "images": document.get("x-mcp-images", {}),
    }


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


def render(repo: Path, out: Path, *, header: str) -> list[Path]:
    """Render every module of the manifest below ``out``; answer the written paths."""
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
    catalogue = load_catalogue(repo / "openapi" / "agentbay.yaml")
    written = []
    for module in manifest.get("modules", []):
        template = environment.get_template(module["template"])
        for output in module["outputs"]:
            is_async = output["flavor"] == "async"
            text = template.render(
                flavor=output["flavor"],
                is_async=is_async,
                aw="await " if is_async else "",
                async_="async " if is_async else "",
                **catalogue,
            )
            target = out / output["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(header + text, encoding="utf-8")
            written.append(target)
    return written
