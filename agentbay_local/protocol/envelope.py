"""The cloud's answer envelope, and the one exception type that becomes an error envelope."""

from __future__ import annotations

import json
import uuid
from typing import Any

from agentbay_local.sandbox.answers import ToolAnswer


class ApiError(Exception):
    """A request the runtime refuses: answered as the cloud's error envelope with ``status``
    (and a ``Retry-After`` header when ``retry_after_s`` is given)."""

    def __init__(
        self, status: int, code: str, message: str, *, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s


def new_request_id() -> str:
    """A request id in the cloud's format (upper-case UUID)."""
    return str(uuid.uuid4()).upper()


def success(request_id: str, data: Any, **extra: Any) -> dict[str, Any]:
    """A successful answer; ``extra`` carries paging fields (NextToken, MaxResults, ...)."""
    return {
        "RequestId": request_id,
        "Success": True,
        "Code": "ok",
        "Message": "",
        "HttpStatusCode": 200,
        "Data": data,
        **extra,
    }


def failure(request_id: str, error: ApiError) -> dict[str, Any]:
    """The error envelope for ``error``."""
    return {
        "RequestId": request_id,
        "Success": False,
        "Code": error.code,
        "Message": error.message,
        "HttpStatusCode": error.status,
        "Data": None,
    }


def missing(name: str) -> ApiError:
    """A mandatory field is absent."""
    return ApiError(
        400,
        "MissingParameter",
        f'The input parameter "{name}" that is mandatory for processing this request is not '
        "supplied.",
    )


def invalid(name: str, why: str) -> ApiError:
    """A field is present but unusable."""
    return ApiError(400, f"InvalidParameter.{name}", f'The parameter "{name}" is invalid: {why}')


def needs_cloud(action: str) -> ApiError:
    """An action only the AgentBay cloud offers (mobile, skills): refused at once."""
    return ApiError(
        400,
        "Unsupported.NeedsCloud",
        f"{action} needs the AgentBay cloud (mobile devices, skills); the local runtime "
        "does not offer it.",
    )


def encode(payload: dict[str, Any]) -> bytes:
    """A JSON answer body; a ``ToolAnswer`` anywhere at the top level goes in as received."""
    spliced = {key: value.raw for key, value in payload.items() if isinstance(value, ToolAnswer)}
    if not spliced:
        return json.dumps(payload, ensure_ascii=False).encode("utf-8")
    rest = {key: value for key, value in payload.items() if key not in spliced}
    parts = [json.dumps(rest, ensure_ascii=False).encode("utf-8")[:-1]]
    for key, raw in spliced.items():
        parts += [b", " if rest or len(parts) > 1 else b"", json.dumps(key).encode(), b": ", raw]
    return b"".join(parts) + b"}"
