"""Shared pieces of the wire tests: the description, the captures and a recording transport."""

from __future__ import annotations

import functools
import importlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import yaml

from tests.support.paths import REPO

SPEC_PATH = REPO / "openapi" / "agentbay.yaml"
CAPTURES = Path(__file__).resolve().parent / "captures"

#: The 38 control-plane actions of API version 2025-05-06 the official clients send to the
#: endpoint (0.9.3's 21, and 0.13.1-0.22.3's 17 more; docs/compatibility.md).
ACTIONS = (
    "BindContextSkillAsync",
    "BindContexts",
    "CallMcpTool",
    "ClearContext",
    "CreateMcpSession",
    "CreateNetwork",
    "DeleteContext",
    "DeleteContextFile",
    "DeleteSessionAsync",
    "DescribeContextFiles",
    "DescribeNetwork",
    "DescribeSessionContexts",
    "GetAdbLink",
    "GetAndLoadInternalContext",
    "GetCdpLink",
    "GetContext",
    "GetContextFileDownloadUrl",
    "GetContextFileUploadUrl",
    "GetContextInfo",
    "GetLabel",
    "GetLink",
    "GetMcpResource",
    "GetSession",
    "GetSessionDetail",
    "GetSkillMetaData",
    "InitBrowser",
    "ListContexts",
    "ListMcpTools",
    "ListSession",
    "ListSkillMetaData",
    "ModifyContext",
    "PauseSessionAsync",
    "RefreshSessionIdleTime",
    "ReleaseMcpSession",
    "ResumeSessionAsync",
    "SetLabel",
    "SyncContext",
    "UnbindContextSkillAsync",
)
#: Query parameters every action has (the others are fields of one action).
COMMON_QUERY = ("Action", "Format", "Version", "Timestamp", "SignatureNonce")


@functools.cache
def description() -> dict[str, Any]:
    """The parsed API description."""
    with SPEC_PATH.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)  # type: ignore[no-any-return]


def operation(action: str) -> dict[str, Any]:
    """The OpenAPI operation object of one action."""
    return description()["paths"][f"/#{action}"]["post"]  # type: ignore[no-any-return]


def snake(name: str) -> str:
    """``CreateMcpSession`` -> ``create_mcp_session`` (the generator's module naming)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def endpoint_module(action: str) -> ModuleType:
    """The generated module of one action."""
    tag = operation(action)["tags"][0]
    return importlib.import_module(f"agentbay._rendered.openapi.api.{tag}.{snake(action)}")


def query_fields(action: str) -> list[str]:
    """The action's own fields that travel in the query string (SyncContext's key,
    GetSessionDetail's SessionId, ...)."""
    return [
        param["name"]
        for param in operation(action)["parameters"]
        if "name" in param and param.get("in") == "query" and param["name"] not in COMMON_QUERY
    ]


def request_schema(action: str) -> tuple[str, dict[str, Any]]:
    """Name and schema of an action's form body."""
    ref = operation(action)["requestBody"]["content"]["application/x-www-form-urlencoded"]
    name = ref["schema"]["$ref"].rsplit("/", 1)[1]
    return name, description()["components"]["schemas"][name]


def typed_form(action: str, form: dict[str, str]) -> dict[str, Any]:
    """Turn wire text back into the Python values a caller passes (``"True"`` -> ``True``)."""
    _, schema = request_schema(action)
    typed: dict[str, Any] = {}
    for key, text in form.items():
        kind = schema["properties"][key].get("type")
        if kind == "boolean":
            assert text in ("True", "False"), f"{key}={text!r} is not a wire boolean"
            typed[key] = text == "True"
        elif kind == "integer":
            typed[key] = int(text)
        else:
            typed[key] = text
    return typed


@dataclass
class Recorded:
    """What one request looked like on the wire."""

    method: str
    raw_target: str
    headers: httpx.Headers
    body: str


def recording_client(
    answer: dict[str, Any], status: int = 200
) -> tuple[httpx.Client, list[Recorded]]:
    """An httpx client whose transport records requests and replies with ``answer``."""
    seen: list[Recorded] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(
            Recorded(
                method=request.method,
                raw_target=request.url.raw_path.decode("ascii"),
                headers=request.headers,
                body=request.content.decode("utf-8"),
            )
        )
        return httpx.Response(status, json=answer)

    return httpx.Client(base_url="http://127.0.0.1:1", transport=httpx.MockTransport(handler)), seen


def response_model(action: str) -> Any:
    """The generated model of an action's 200 answer."""
    ref = operation(action)["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    return getattr(
        importlib.import_module("agentbay._rendered.openapi.models"), ref.rsplit("/", 1)[1]
    )


def send(
    action: str,
    form: dict[str, str],
    query: dict[str, str],
    answer: dict[str, Any],
    status: int = 200,
) -> tuple[Recorded, httpx.Response]:
    """Send one action as its generated ``request_kwargs`` builds it; answer the recording and
    the reply."""
    module = endpoint_module(action)
    model_name, _ = request_schema(action)
    models = importlib.import_module("agentbay._rendered.openapi.models")
    body = getattr(models, model_name).from_dict(typed_form(action, form))
    kwargs: dict[str, Any] = {"body": body}
    if "Timestamp" in query:
        kwargs["timestamp"] = query["Timestamp"]
    if "SignatureNonce" in query:
        kwargs["signature_nonce"] = query["SignatureNonce"]
    for name in query_fields(action):
        if name in query:
            kwargs[snake(name)] = query[name]
    client, seen = recording_client(answer, status)
    build: Callable[..., dict[str, Any]] = module.request_kwargs
    response = client.request(**build(**kwargs))
    assert len(seen) == 1
    return seen[0], response


def load_captures(name: str) -> list[dict[str, Any]]:
    """The official client's recorded requests and the answers it accepted."""
    with (CAPTURES / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
