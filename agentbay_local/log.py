"""The runtime's log: where it goes, in which format, and what never appears in it.

Every runtime module logs through ``agentbay.contract.get_logger`` (loggers under
``agentbay.local``, each with the SDK's redacting filter); ``configure`` adds one handler on
stderr, as text for people or one JSON object per line for machines (``--log-format``).
Events carry their facts as fields (``event``, ``session``, ``action``, ...) so the JSON
form needs no parsing of messages. The API keys are registered as secrets, and the handler
redacts again: a key, a session token or an authcode never reaches the output.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import Any

from agentbay.contract import RedactingFilter, get_logger, register_secret

#: The formats of ``--log-format``.
FORMATS = ("text", "json")
#: Record attributes that are an event's facts (``extra=`` of the logging call).
FIELDS = (
    "event",
    "session",
    "image",
    "action",
    "code",
    "request_id",
    "duration_ms",
    "client",
    "tool",
    "reason",
    "limits",
)
#: Query parameters whose values are credentials (session tokens, page authcodes, URL
#: signatures): shown as ``***`` wherever a URL is logged.
_CREDENTIALS = re.compile(r"((?:token|authcode|signature|Authorization)=)[^&\s\"']+")


class _RedactCredentials(logging.Filter):
    """Replaces credential query parameters in the formatted message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _CREDENTIALS.sub(r"\1***", message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str, log_format: str, secrets: Iterable[str] = ()) -> None:
    """Send the runtime's log (and the SDK's, in this process) to stderr at ``level``.

    ``secrets`` (the API keys) are replaced by ``***`` in every record.
    """
    if log_format not in FORMATS:
        raise ValueError(f"the log format must be one of {', '.join(FORMATS)}")
    for secret in secrets:
        register_secret(secret)
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
        )
    handler.addFilter(RedactingFilter())
    handler.addFilter(_RedactCredentials())
    root = get_logger("agentbay")
    root.addHandler(handler)
    root.setLevel(level.upper())
