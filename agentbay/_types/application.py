"""Application data and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentbay._types.response import ApiResponse


@dataclass
class InstalledApp:
    """An installed application and how to start and stop it."""

    name: str
    start_cmd: str
    stop_cmd: str | None = None
    work_directory: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InstalledApp:
        """From the tool's JSON."""
        return cls(
            name=str(data.get("name", "")),
            start_cmd=str(data.get("start_cmd", "")),
            stop_cmd=data.get("stop_cmd"),
            work_directory=data.get("work_directory"),
        )


@dataclass
class Process:
    """A running process."""

    pname: str
    pid: int
    cmdline: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Process:
        """From the tool's JSON."""
        return cls(
            pname=str(data.get("pname", "")),
            pid=int(data.get("pid") or 0),
            cmdline=data.get("cmdline"),
        )


@dataclass
class ProcessListResult(ApiResponse):
    """Processes (``start_app``, ``list_visible_apps``)."""

    success: bool = False
    data: list[Process] = field(default_factory=list)
    error_message: str = ""


@dataclass
class InstalledAppListResult(ApiResponse):
    """``get_installed_apps``."""

    success: bool = False
    data: list[InstalledApp] = field(default_factory=list)
    error_message: str = ""


@dataclass
class AppOperationResult(ApiResponse):
    """Stop operations."""

    success: bool = False
    error_message: str = ""


@dataclass
class AppInfoResult(ApiResponse):
    """Unused by 0.9 methods; kept public."""

    success: bool = False
    app_info: dict[str, Any] = field(default_factory=dict)
    error_message: str = ""


@dataclass
class AppListResult(ApiResponse):
    """Unused by 0.9 methods; kept public."""

    success: bool = False
    apps: list[dict[str, Any]] = field(default_factory=list)
    error_message: str = ""


@dataclass
class AppInstallResult(ApiResponse):
    """Unused by 0.9 methods; kept public."""

    success: bool = False
    message: str = ""
