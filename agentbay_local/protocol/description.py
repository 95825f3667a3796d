"""The API description as the runtime reads it: actions, their form fields, the tool catalogue.

The runtime routes, validates and lists tools from ``openapi/agentbay.yaml`` itself, so a new
field or tool is added in one place (where the file is: ``agentbay.contract.description_path``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from agentbay.contract import ToolTimeout, description_path


@dataclass(frozen=True)
class FormField:
    """One field of an action's form body, or of its query string (``in_query``: e.g.
    GetSessionDetail's SessionId)."""

    name: str
    kind: str  # "string", "boolean" or "integer"
    required: bool
    json_text: bool  # a JSON document sent as text (contentMediaType application/json)
    enum: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    in_query: bool = False


@dataclass(frozen=True)
class Action:
    """One control-plane action and the fields its form body may carry."""

    name: str
    fields: dict[str, FormField]
    key_in_query: bool  # the API key travels in the query string (SyncContext)


@dataclass(frozen=True)
class Tool:
    """One in-session MCP tool of the catalogue."""

    name: str
    server: str
    description: str
    input_schema: dict[str, Any]
    timeout: ToolTimeout | None = None

    def listing(self) -> dict[str, Any]:
        """The entry ListMcpTools answers for this tool."""
        return {
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
            "server": self.server,
            "tool": self.name,
        }


@dataclass(frozen=True)
class Description:
    """The parts of the description the runtime acts on."""

    document: dict[str, Any]
    actions: dict[str, Action]
    tools: dict[str, Tool]
    image_servers: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def image_tools(self, image_id: str) -> list[Tool]:
        """The tools an image runs, in catalogue order (empty for an unknown image)."""
        servers = self.image_servers.get(image_id, ())
        return [tool for tool in self.tools.values() if tool.server in servers]

    def image_has_tool(self, image_id: str, name: str) -> bool:
        """Whether an image runs the tool ``name`` (asked on every tool call: no list built)."""
        tool = self.tools.get(name)
        return tool is not None and tool.server in self.image_servers.get(image_id, ())


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        parts = node["$ref"].removeprefix("#/").split("/")
        target: Any = document
        for part in parts:
            target = target[part]
        node = target
    return node


#: Query parameters of every action (the envelope's), not fields of one action.
_COMMON_QUERY = frozenset({"Action", "Format", "Version", "Timestamp", "SignatureNonce"})


def _form_field(
    document: dict[str, Any],
    name: str,
    schema: dict[str, Any],
    required: bool,
    in_query: bool = False,
) -> FormField:
    schema = _resolve(document, schema)
    enum = schema.get("enum")
    return FormField(
        name=name,
        kind=schema.get("type", "string"),
        required=required,
        json_text=schema.get("contentMediaType") == "application/json",
        enum=tuple(enum) if enum else None,
        minimum=schema.get("minimum"),
        maximum=schema.get("maximum"),
        in_query=in_query,
    )


def _action(document: dict[str, Any], name: str, operation: dict[str, Any]) -> Action:
    body = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    body = _resolve(document, body)
    required = set(body.get("required", ()))
    fields = {
        key: _form_field(document, key, schema, key in required)
        for key, schema in body.get("properties", {}).items()
    }
    parameters = [_resolve(document, param) for param in operation.get("parameters", ())]
    in_query = [p for p in parameters if p.get("in") == "query" and p["name"] not in _COMMON_QUERY]
    key_in_query = any(param["name"] == "Authorization" for param in in_query)
    for param in in_query:
        if param["name"] != "Authorization":
            fields[param["name"]] = _form_field(
                document, param["name"], param["schema"], param.get("required", False), True
            )
    return Action(name, fields, key_in_query)


def parse(document: dict[str, Any]) -> Description:
    """Build the runtime's view of a parsed description document."""
    actions = {}
    for path, item in document["paths"].items():
        if path.startswith("/#"):
            actions[path[2:]] = _action(document, path[2:], item["post"])
    tools = {
        entry["name"]: Tool(
            name=entry["name"],
            server=entry["server"],
            description=entry.get("description", ""),
            input_schema=entry.get("inputSchema", {"type": "object"}),
            timeout=ToolTimeout.from_catalogue(entry),
        )
        for entry in document.get("x-mcp-tools", [])
    }
    images = {
        image: tuple(spec.get("servers", ()))
        for image, spec in document.get("x-mcp-images", {}).items()
    }
    return Description(document=document, actions=actions, tools=tools, image_servers=images)


@functools.cache
def load() -> Description:
    """The description, parsed once per process."""
    import yaml

    with description_path().open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return parse(document)


@functools.cache
def image_servers() -> dict[str, tuple[str, ...]]:
    """The ``x-mcp-images`` catalogue alone (image id -> its servers), without parsing the
    whole description: commands that only need the image list (``agentbay local image
    build``) start ~0.3 s sooner. Equal to ``load().image_servers``."""
    import yaml

    lines = description_path().read_text(encoding="utf-8").splitlines()
    start = lines.index("x-mcp-images:")
    end = next(
        (
            number
            for number in range(start + 1, len(lines))
            if lines[number][:1] not in ("", " ", "#")
        ),
        len(lines),
    )
    section = yaml.safe_load("\n".join(lines[start:end]))["x-mcp-images"]
    return {image: tuple(spec.get("servers", ())) for image, spec in section.items()}
