"""The session's environment variables (session.env in 0.22): what later commands see.

The tool server starts every command and code run with its ``env``; ``set_env`` changes that
mapping, so a variable set here is seen by every later ``shell`` and ``run_code`` call (and
the desktop's programs started after it), not by processes already running.
"""

from __future__ import annotations

import json
import re

from . import tool_args as ta

TYPE_CHECKING = False  # not imported from typing: importing typing costs startup time
if TYPE_CHECKING:
    from collections.abc import MutableMapping
    from typing import Any, Protocol

    class Context(Protocol):
        """What these tools need of the tool server."""

        @property
        def env(self) -> MutableMapping[str, str]: ...


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def set_env(args: dict[str, Any], ctx: Context) -> str:
    """Set or replace variables: ``envs`` is a list of ``{"key", "value"}``."""
    envs = args.get("envs")
    if not isinstance(envs, list) or not envs:
        raise ta.ToolError("Invalid arguments: 'envs' must be a non-empty list of {key, value}")
    pairs = {}
    for item in envs:
        key = item.get("key") if isinstance(item, dict) else None
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(key, str) or not _NAME.fullmatch(key):
            raise ta.ToolError(f"Invalid arguments: {key!r} is not a variable name")
        if not isinstance(value, str) or "\0" in value:
            raise ta.ToolError(f"Invalid arguments: the value of {key} must be text")
        pairs[key] = value
    ctx.env.update(pairs)  # all or nothing: checked first
    return "Successfully set " + ", ".join(pairs)


def get_env(args: dict[str, Any], ctx: Context) -> str:
    """The variables named by ``keys`` that are set, or all of them: a JSON object."""
    keys = args.get("keys")
    if keys in (None, []):
        return json.dumps(dict(ctx.env), ensure_ascii=False)
    names = ta.text_list(args, "keys")
    return json.dumps({name: ctx.env[name] for name in names if name in ctx.env})
