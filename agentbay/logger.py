"""Logging: stdlib ``logging`` under the ``agentbay`` logger, secrets redacted.

Importing configures nothing (the library only adds a ``NullHandler``); call
``AgentBayLogger.setup()`` or configure ``logging`` yourself. Every record of the
``agentbay`` loggers passes a filter that replaces registered secrets and ``Bearer`` tokens
with ``***``.
"""

from __future__ import annotations

import logging
import os
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only named in a signature; importing it costs `import agentbay` 8 ms
    from pathlib import Path

__all__ = ["AgentBayLogger", "RedactingFilter", "get_logger", "log"]

_SECRETS: set[str] = set()
_BEARER = re.compile(r"(Bearer[ +])[^\s&'\"]+")


def register_secret(value: str) -> None:
    """Never let ``value`` (an API key) appear in a log record of the SDK."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """``text`` with secrets and bearer tokens replaced by ``***``."""
    for secret in _SECRETS:
        text = text.replace(secret, "***")
    return _BEARER.sub(r"\1***", text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with secrets removed (attached to handlers and loggers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; always True (no record is dropped)."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = RedactingFilter()


def _install() -> logging.Logger:
    root = logging.getLogger("agentbay")
    root.addFilter(_FILTER)
    root.addHandler(logging.NullHandler())
    return root


log = _install()


def get_logger(name: str | None = None) -> logging.Logger:
    """A logger of the SDK (``agentbay.<name>``), with the redacting filter.

    Filters do not propagate to child loggers, so every SDK module logs through one of these.
    """
    full = (
        name if name and name.startswith("agentbay") else f"agentbay.{name}" if name else "agentbay"
    )
    logger = logging.getLogger(full)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


class AgentBayLogger:
    """0.9's logging entry point, on the standard library."""

    @classmethod
    def setup(
        cls,
        level: str = "INFO",
        log_file: str | Path | None = None,
        enable_console: bool = True,
        enable_file: bool = True,
        rotation: str = "10 MB",
        retention: str = "30 days",
    ) -> None:
        """Log the SDK to stderr and/or a file (``AGENTBAY_LOG_LEVEL``/``AGENTBAY_LOG_FILE``)."""
        del rotation, retention  # loguru options of 0.9; plain handlers here
        chosen = os.environ.get("AGENTBAY_LOG_LEVEL", level).upper()
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        for handler in list(log.handlers):
            if not isinstance(handler, logging.NullHandler):
                log.removeHandler(handler)
        handlers: list[logging.Handler] = []
        if enable_console:
            handlers.append(logging.StreamHandler())
        path = log_file or os.environ.get("AGENTBAY_LOG_FILE")
        if enable_file and path:
            handlers.append(logging.FileHandler(path, encoding="utf-8"))
        for handler in handlers:
            handler.setFormatter(formatter)
            handler.addFilter(_FILTER)
            log.addHandler(handler)
        log.setLevel(chosen)

    @classmethod
    def get_logger(cls, name: str | None = None) -> logging.Logger:
        """A logger of the SDK."""
        return get_logger(name)

    @classmethod
    def set_level(cls, level: str) -> None:
        """Change the SDK's log level."""
        log.setLevel(level.upper())
