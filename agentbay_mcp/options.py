"""What ``agentbay mcp`` serves: the SDK endpoint, and how sessions are made and kept."""

from __future__ import annotations

from dataclasses import dataclass, field

#: The label every session the server creates carries, so its sessions can be found.
CREATED_BY_LABEL = ("created-by", "agentbay-mcp")
#: Tool answers longer than this many characters are cut, saying so (MCP clients hand tool
#: output to a model: a megabyte of log helps no one).
DEFAULT_MAX_OUTPUT_CHARS = 100_000
#: An HTTP client that sends nothing for this long is taken as gone: its session is deleted.
DEFAULT_IDLE_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class ServeOptions:
    """How ``agentbay mcp`` reaches AgentBay and manages sessions.

    Attributes:
        endpoint: ``"local"`` (the embedded runtime), a URL or host; ``None``: as the SDK
            resolves it (``AGENTBAY_ENDPOINT``, ``.env``, the cloud).
        image_id: the image of the sessions created on first use (``None``: the backend's).
        labels: labels of those sessions (``created-by=agentbay-mcp`` is always added).
        session_id: attach every client to this existing session instead of creating one.
        keep: never delete a session when its client goes away (attached sessions are
            never deleted by the server either way).
        max_output_chars: tool answers longer than this are cut, and the answer says so.
        idle_timeout_s: over HTTP, a client idle this long is taken as gone.
        timeout_ms: the SDK's timeout of one request.
    """

    endpoint: str | None = None
    image_id: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    session_id: str | None = None
    keep: bool = False
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    timeout_ms: int = 60_000

    def session_labels(self) -> dict[str, str]:
        """The labels of a session the server creates."""
        key, value = CREATED_BY_LABEL
        return {key: value, **self.labels}
