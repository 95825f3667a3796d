"""Calling a real runtime over HTTP with the generated request builders, answers validated.

Every answer is checked against the description: the 200 schema of the action, or the error
envelope. The raw JSON is returned so tests can look at exactly what went over the wire.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
from typing import Any

import httpx
import jsonschema
import referencing
import referencing.jsonschema

from tests.sdk.contract.wire import (
    description,
    endpoint_module,
    operation,
    query_fields,
    request_schema,
    snake,
)

ROOT = "urn:agentbay-description"
#: What a GetLink URL with a port looks like: the link listener, then a 32-character token.
LINK_URL = re.compile(r"(http|ws)://127\.0\.0\.1:\d+/[A-Za-z0-9_-]{32}/")


@functools.cache
def _registry() -> referencing.Registry[Any]:
    resource = referencing.Resource.from_contents(
        description(), default_specification=referencing.jsonschema.DRAFT202012
    )
    return referencing.Registry().with_resource(ROOT, resource)


def validate_answer(schema_name: str, answer: Any) -> None:
    """Fail unless ``answer`` conforms to ``components/schemas/<schema_name>``."""
    validator = jsonschema.Draft202012Validator(
        {"$ref": f"{ROOT}#/components/schemas/{schema_name}"}, registry=_registry()
    )
    validator.validate(answer)


def response_schema(action: str, status: int) -> str:
    responses = operation(action)["responses"]
    if status == 200:
        ref = responses["200"]["content"]["application/json"]["schema"]["$ref"]
    else:
        ref = description()["components"]["responses"]["Error"]["content"]["application/json"][
            "schema"
        ]["$ref"]
    return str(ref.rsplit("/", 1)[1])


class RpcError(Exception):
    """An error envelope (HTTP 4xx/5xx)."""

    def __init__(self, status: int, answer: dict[str, Any]) -> None:
        super().__init__(f"{status} {answer.get('Code')}: {answer.get('Message')}")
        self.status = status
        self.answer = answer
        self.code = answer.get("Code")


class Api:
    """An httpx client pointed at one runtime, with one key, sending generated requests."""

    def __init__(self, endpoint: str, api_key: str, timeout: float = 60.0) -> None:
        self.endpoint = endpoint
        self.api_key = api_key
        self.client = httpx.Client(base_url=endpoint, timeout=httpx.Timeout(timeout))

    def raw(self, action: str, **fields: Any) -> tuple[int, dict[str, Any]]:
        """Send one action; answer the HTTP status and the validated JSON body."""
        module = endpoint_module(action)
        model_name, schema = request_schema(action)
        models = importlib.import_module("agentbay._rendered.openapi.models")
        values = dict(fields)
        kwargs: dict[str, Any] = {}
        for name in query_fields(action):
            if name == "Authorization":
                kwargs["authorization"] = f"Bearer {self.api_key}"
            elif name in values:
                kwargs[snake(name)] = values.pop(name)
        if "Authorization" in schema["properties"]:
            values.setdefault("Authorization", f"Bearer {self.api_key}")
        for key, value in list(values.items()):
            if isinstance(value, dict | list):
                values[key] = json.dumps(value)
        body = getattr(models, model_name).from_dict(values)
        response = self.client.request(**module.request_kwargs(body=body, **kwargs))
        answer = json.loads(response.content)
        status = int(response.status_code)
        validate_answer(response_schema(action, status), answer)
        return status, answer

    def call(self, action: str, **fields: Any) -> Any:
        """Send one action and answer its Data; raise RpcError for an error envelope."""
        status, answer = self.raw(action, **fields)
        if status != 200:
            raise RpcError(status, answer)
        assert answer["Success"] is True
        return answer.get("Data")

    def create_session(self, **fields: Any) -> str:
        """Create a session; answer its id."""
        return str(self.call("CreateMcpSession", **fields)["SessionId"])

    def tool(self, session_id: str, name: str, **args: Any) -> dict[str, Any]:
        """Call one tool; answer the MCP result (content, isError)."""
        data = self.call("CallMcpTool", SessionId=session_id, Name=name, Args=args)
        assert isinstance(data, dict)
        return data

    def text(self, session_id: str, name: str, **args: Any) -> str:
        """Call a tool that must succeed; answer its text."""
        result = self.tool(session_id, name, **args)
        assert result["isError"] is False, result
        return str(result["content"][0]["text"])
