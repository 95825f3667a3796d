"""Where a failed exchange becomes an SDK exception: one function per kind of failure.

Every send path (API actions, the VPC ``/callTool`` route, pre-signed PUT and GET) maps its
failures here, so the same failure reads the same wherever it happened:

* ``transport_failure``: the exchange did not complete (no connection, timeout, reset);
* ``http_failure``: an HTTP error answer, with the envelope's Code, Message and RequestId;
* ``json_object`` and ``decoded``: an answer that is not the JSON object the description says.

A ``Success: false`` answer is not an exception: ``Answer.error_text`` reports it.
httpx is imported only when a failure is mapped (``from agentbay import AgentBay`` stays light).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from agentbay.exceptions import RequestTimeoutError, ServerError, TransportError

if TYPE_CHECKING:
    import httpx

M = TypeVar("M")


def never_reached(exc: Exception) -> bool:
    """The request cannot have reached the server (safe to send again whatever it does)."""
    import httpx

    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)


def tls_failure(exc: BaseException) -> str:
    """The TLS error behind ``exc`` (``""`` when there is none); sending again cannot help."""
    import ssl

    seen: BaseException | None = exc
    for _ in range(5):  # httpx's error -> its cause (or context) -> ...
        if seen is None:
            break
        if isinstance(seen, ssl.SSLError):
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    return ""


def transport_failure(
    exc: Exception, *, what: str, target: str, timeout_s: float | None, action: str = ""
) -> TransportError:
    """The exception for an exchange with ``target`` that did not complete.

    Args:
        exc: what httpx raised.
        what: the exchange, as the message names it (an action, ``GET <url>``, an upload).
        target: the endpoint or URL.
        timeout_s: the timeout that expired, for the message.
        action: the API action, kept on the exception.
    """
    import httpx

    tls = tls_failure(exc)
    if "WRONG_VERSION_NUMBER" in tls and target.startswith("https://"):
        plain = "http://" + target.removeprefix("https://").split("/", 1)[0]
        return TransportError(
            f"{what}: {target} does not answer TLS ({tls}); it seems to speak plain HTTP, "
            f"such as the local runtime: write the endpoint as {plain!r} (an endpoint "
            "without a scheme means https://)",
            action=action,
        )
    if never_reached(exc):
        return TransportError(f"{what}: cannot reach {target}: {exc}", action=action)
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeoutError(f"{what} got no answer within {timeout_s} s", action=action)
    return TransportError(f"{what} failed: {exc}", action=action)


def http_failure(response: httpx.Response) -> ServerError:
    """The exception for an HTTP 4xx/5xx answer (its error envelope, when it has one)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, Mapping):
        body = {}
    return ServerError(
        code=str(body.get("Code") or body.get("code") or f"HTTP{response.status_code}"),
        message=str(body.get("Message") or body.get("message") or response.reason_phrase),
        request_id=str(body.get("RequestId") or body.get("requestId") or ""),
        status_code=response.status_code,
    )


def json_object(content: bytes, *, what: str, action: str = "") -> dict[str, Any]:
    """``content`` decoded as a JSON object, or the exception saying what came instead."""
    try:
        value = json.loads(content)
    except ValueError as exc:
        raise TransportError(
            f"{what} answered with something that is not JSON", action=action
        ) from exc
    if not isinstance(value, dict):
        raise TransportError(f"{what} answered with a JSON {type(value).__name__}", action=action)
    return value


def decoded(model: type[M], value: dict[str, Any], *, what: str, action: str = "") -> M:
    """``value`` decoded into a generated model, or the exception saying the shape is wrong."""
    try:
        return model.from_dict(value)  # type: ignore[attr-defined, no-any-return]
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise TransportError(
            f"{what} answered in a shape openapi/agentbay.yaml does not describe: {exc!r:.200}",
            action=action,
        ) from exc
