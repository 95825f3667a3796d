"""The checked-in description is valid OpenAPI 3.1 and describes the whole API."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from tests.sdk.contract.wire import ACTIONS, description, operation, query_fields, request_schema


def test_description_validates() -> None:
    validate(description())
    assert description()["openapi"].startswith("3.1")


def test_exactly_the_38_actions_are_described() -> None:
    described = {key[2:] for key in description()["paths"] if key.startswith("/#")}
    assert described == set(ACTIONS)
    assert "/callTool" in description()["paths"]


@pytest.mark.parametrize("action", ACTIONS)
def test_action_declares_its_wire_constants(action: str) -> None:
    op = operation(action)
    params = {p.get("name") or p["$ref"].rsplit("/", 1)[1]: p for p in op["parameters"]}
    assert op["operationId"] == action
    assert params["Action"]["schema"] == {"type": "string", "const": action}
    assert params["x-acs-action"]["schema"]["default"] == action
    for ref in ("Format", "Version", "Timestamp", "SignatureNonce", "AcsVersion"):
        assert ref in params, f"{action} lacks {ref}"
    body = op["requestBody"]["content"]
    assert list(body) == ["application/x-www-form-urlencoded"]
    assert "200" in op["responses"] and "default" in op["responses"]


def _tools() -> list[dict[str, Any]]:
    return description()["x-mcp-tools"]  # type: ignore[no-any-return]


def test_catalogue_lists_75_distinct_tools() -> None:
    names = [tool["name"] for tool in _tools()]
    assert len(names) == 75  # 0.9.3's 63, 0.13-0.22's 9 and 0.22's browser task agent's 3
    assert len(set(names)) == 75


def test_fields_travel_where_the_clients_put_them() -> None:
    """The facts the recordings showed (docs/compatibility.md): GetSessionDetail's SessionId
    and 0.22.3's DescribeContextFiles paging in the query string; GetContext by id alone."""
    assert query_fields("GetSessionDetail") == ["SessionId"]
    assert query_fields("DescribeContextFiles") == ["MaxResults", "NextToken"]
    assert query_fields("SyncContext") == ["Authorization"]
    _, get_context = request_schema("GetContext")
    assert get_context["required"] == ["Authorization"]
    assert "ContextId" in get_context["properties"]


@pytest.mark.parametrize("tool", _tools(), ids=lambda tool: tool["name"])
def test_every_catalogue_tool_has_a_server_a_schema_and_a_result_format(
    tool: dict[str, Any],
) -> None:
    assert tool["server"] in description()["x-mcp-servers"]
    schema = tool["inputSchema"]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert tool["result"]["format"]
    assert tool["description"]


def test_images_run_known_servers() -> None:
    servers = description()["x-mcp-servers"]
    for image, spec in description()["x-mcp-images"].items():
        assert set(spec["servers"]) <= set(servers), image
    linux = description()["x-mcp-images"]["linux_latest"]["servers"]
    assert {"wuying_shell", "wuying_code", "wuying_filesystem"} <= set(linux)
