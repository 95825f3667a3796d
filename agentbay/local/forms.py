"""Reading form bodies as the official client writes them, checked against the description."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from agentbay.local.description import Action, FormField
from agentbay.local.envelope import ApiError, invalid, missing

_INTEGER = re.compile(r"-?[0-9]{1,18}")


def parse_form(body: bytes) -> dict[str, str]:
    """Decode an ``application/x-www-form-urlencoded`` body; refuse bytes that are not UTF-8."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(
            400, "InvalidParameter", f"The request body is not a valid form: {exc}"
        ) from None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise invalid(key, "the field is given more than once")
        form[key] = value
    return form


def _convert(spec: FormField, text: str) -> Any:
    if spec.kind == "boolean":
        # The official client sends Python's str(bool); JSON spellings are accepted too.
        if text in ("True", "true"):
            return True
        if text in ("False", "false"):
            return False
        raise invalid(spec.name, f"expected True or False, got {text[:40]!r}")
    if spec.kind == "integer":
        if not _INTEGER.fullmatch(text):
            raise invalid(spec.name, f"expected an integer, got {text[:40]!r}")
        number = int(text)
        if spec.minimum is not None and number < spec.minimum:
            raise invalid(spec.name, f"{number} is below the minimum {spec.minimum}")
        if spec.maximum is not None and number > spec.maximum:
            raise invalid(spec.name, f"{number} is above the maximum {spec.maximum}")
        return number
    if spec.enum is not None and text not in spec.enum:
        raise invalid(spec.name, f"expected one of {', '.join(spec.enum)}, got {text[:40]!r}")
    if spec.json_text:
        try:
            return json.loads(text)
        except ValueError as exc:
            raise invalid(spec.name, f"not valid JSON ({exc})") from None
    return text


def read_fields(action: Action, form: dict[str, str]) -> dict[str, Any]:
    """Typed values of the fields ``action`` knows; unknown fields are ignored like the cloud does.

    JSON-text fields come back decoded. An empty value of an optional field counts as absent
    (the official client never sends one, other clients sometimes do).
    """
    values: dict[str, Any] = {}
    for name, spec in action.fields.items():
        if name == "Authorization":
            continue
        text = form.get(name)
        if text is None or (text == "" and not spec.required):
            if spec.required:
                raise missing(name)
            continue
        values[name] = _convert(spec, text)
    return values
