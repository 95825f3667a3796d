"""What the local runtime (``agentbay_local``) uses of the SDK: the one contract between them.

The runtime imports nothing else of ``agentbay`` (an import-linter contract in ``make lint``
fails on any other import): the API description file, the wire models generated from it
(the runtime answers with the same classes the SDK parses), the tool timeout rule both sides
apply, and the SDK's logger with its secret redaction.
"""

from __future__ import annotations

from pathlib import Path

from agentbay._core.timeouts import ToolTimeout, in_session_deadline_s
from agentbay._rendered.openapi.models import Context, FileUrlData, InternalContext, SessionSummary
from agentbay.logger import RedactingFilter, get_logger, register_secret

__all__ = [
    "Context",
    "FileUrlData",
    "InternalContext",
    "RedactingFilter",
    "SessionSummary",
    "ToolTimeout",
    "description_path",
    "get_logger",
    "in_session_deadline_s",
    "register_secret",
]

# In a wheel the description ships inside the package (pyproject's force-include); in a
# source checkout it is read from openapi/.
_PACKAGE_COPY = Path(__file__).resolve().parent / "_description" / "agentbay.yaml"
_SOURCE_COPY = Path(__file__).resolve().parents[1] / "openapi" / "agentbay.yaml"


def description_path() -> Path:
    """Where the API description is read from (installed copy first, then the source tree)."""
    for candidate in (_PACKAGE_COPY, _SOURCE_COPY):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"the API description is missing: looked for {_PACKAGE_COPY} and {_SOURCE_COPY}"
    )
