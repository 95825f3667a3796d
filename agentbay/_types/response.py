"""Result objects returned by the client and session methods (exact 0.9 constructors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentbay._types.mcp_tool import McpTool


@dataclass
class ApiResponse:
    """Base of every result: the ``RequestId`` of the answer (``""`` when none arrived)."""

    request_id: str = ""

    def get_request_id(self) -> str:
        """The request id."""
        return self.request_id


@dataclass
class SessionResult(ApiResponse):
    """``AgentBay.create`` / ``get``: the session on success."""

    success: bool = False
    error_message: str = ""
    session: Any = None


@dataclass
class SessionListResult(ApiResponse):
    """``AgentBay.list`` / ``list_by_labels``: session ids of one page."""

    success: bool = False
    error_message: str = ""
    session_ids: list[str] = field(default_factory=list)
    next_token: str = ""
    max_results: int = 0
    total_count: int = 0


@dataclass
class DeleteResult(ApiResponse):
    """``delete``: whether the session was released."""

    success: bool = False
    error_message: str = ""
    code: str = ""
    message: str = ""
    http_status_code: int = 0


@dataclass
class GetSessionData:
    """Connection data of a session (``GetSession``)."""

    app_instance_id: str = ""
    resource_id: str = ""
    session_id: str = ""
    success: bool = False
    http_port: str = ""
    network_interface_ip: str = ""
    token: str = field(default="", repr=False)
    vpc_resource: bool = False
    resource_url: str = ""
    #: The session WebSocket (terminals, streams; docs/reference/session-websocket.md).
    ws_url: str = ""


@dataclass
class GetSessionResult(ApiResponse):
    """``AgentBay.get_session``."""

    http_status_code: int = 0
    code: str = ""
    success: bool = False
    data: GetSessionData | None = None
    error_message: str = ""


@dataclass
class OperationResult(ApiResponse):
    """A generic outcome with ``data``."""

    success: bool = False
    data: Any = None
    error_message: str = ""
    code: str = ""
    message: str = ""
    http_status_code: int = 0


@dataclass
class BoolResult(ApiResponse):
    """An outcome whose ``data`` is a bool."""

    success: bool = False
    data: bool | None = None
    error_message: str = ""


@dataclass
class McpToolsResult(ApiResponse):
    """``Session.list_mcp_tools``: the tools (``success`` is True when the list arrived)."""

    tools: list[McpTool] = field(default_factory=list)
    success: bool = True


@dataclass
class McpToolResult(ApiResponse):
    """``Session.call_mcp_tool``: the tool's answer text, or why the call failed (0.22's shape).

    ``error_message`` is the tool's own message when the tool reported an error, otherwise
    what failed on the way (the request, the transport).
    """

    success: bool = False
    data: str = ""
    error_message: str = ""


@dataclass
class SessionStatusResult(ApiResponse):
    """``Session.get_status`` (0.22's shape): ``status`` is RUNNING, PAUSING, PAUSED,
    RESUMING or DELETING; a session that is gone answers ``success=False`` with "not found"
    in ``error_message`` (what 0.22's delete waits for)."""

    success: bool = False
    status: str = ""
    error_message: str = ""
    code: str = ""
    http_status_code: int = 0


@dataclass
class SessionPauseResult(ApiResponse):
    """``Session.beta_pause`` (0.22's shape): ``status`` is the last one seen (PAUSED once
    paused)."""

    success: bool = False
    status: str = ""
    error_message: str = ""


@dataclass
class SessionResumeResult(ApiResponse):
    """``Session.beta_resume`` (0.22's shape): ``status`` is the last one seen (RUNNING once
    resumed)."""

    success: bool = False
    status: str = ""
    error_message: str = ""


@dataclass
class NetworkResult(ApiResponse):
    """``beta_network.get_network_bind_token`` (0.22's shape): the network and its token."""

    success: bool = False
    network_id: str = ""
    network_token: str = ""
    error_message: str = ""


@dataclass
class NetworkStatusResult(ApiResponse):
    """``beta_network.describe`` (0.22's shape): whether the network is ready for sessions."""

    success: bool = False
    online: bool = False
    error_message: str = ""


@dataclass
class EnvResult(ApiResponse):
    """``session.env.get`` (0.22's shape): the variables asked for."""

    success: bool = False
    envs: dict[str, str] = field(default_factory=dict)
    error_message: str = ""


@dataclass
class SessionMetrics:
    """What ``Session.get_metrics`` measured (0.22's fields; sizes in bytes, rates in KB/s)."""

    cpu_count: int = 0
    cpu_used_pct: float = 0.0
    disk_total: int = 0
    disk_used: int = 0
    mem_total: int = 0
    mem_used: int = 0
    rx_rate_kbyte_per_s: float = 0.0
    tx_rate_kbyte_per_s: float = 0.0
    rx_used_kbyte: float = 0.0
    tx_used_kbyte: float = 0.0
    timestamp: str = ""


@dataclass
class SessionMetricsResult(ApiResponse):
    """``Session.get_metrics`` (0.22's shape): ``metrics`` parsed, ``raw`` as answered."""

    success: bool = False
    metrics: SessionMetrics | None = None
    error_message: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


def parse_metrics(raw: dict[str, Any]) -> SessionMetrics:
    """``SessionMetrics`` from a ``get_metrics`` answer (0.22's reading, its older key names
    for the network figures included)."""

    def first(keys: tuple[str, ...]) -> float:
        for key in keys:
            if raw.get(key) is not None:
                return float(raw[key] or 0.0)
        return 0.0

    return SessionMetrics(
        cpu_count=int(raw.get("cpu_count", 0) or 0),
        cpu_used_pct=float(raw.get("cpu_used_pct", 0.0) or 0.0),
        disk_total=int(raw.get("disk_total", 0) or 0),
        disk_used=int(raw.get("disk_used", 0) or 0),
        mem_total=int(raw.get("mem_total", 0) or 0),
        mem_used=int(raw.get("mem_used", 0) or 0),
        rx_rate_kbyte_per_s=first(("rx_rate_kbyte_per_s", "rx_rate_kbps", "rx_rate_KBps")),
        tx_rate_kbyte_per_s=first(("tx_rate_kbyte_per_s", "tx_rate_kbps", "tx_rate_KBps")),
        rx_used_kbyte=first(("rx_used_kbyte", "rx_used_kb", "rx_used_KB")),
        tx_used_kbyte=first(("tx_used_kbyte", "tx_used_kb", "tx_used_KB")),
        timestamp=str(raw.get("timestamp", "") or ""),
    )


def extract_request_id(response: Any) -> str:
    """The RequestId of a raw answer (a dict, or an object with ``body``)."""
    body = (
        response.get("body", response)
        if isinstance(response, dict)
        else getattr(response, "body", None)
    )
    if isinstance(body, dict):
        return str(body.get("RequestId") or "")
    return str(getattr(body, "request_id", "") or "")
