"""``ApplicationManager`` and its data classes."""

from agentbay.application.application import (
    AppInfoResult,
    AppInstallResult,
    ApplicationManager,
    AppListResult,
    AppOperationResult,
    InstalledApp,
    InstalledAppListResult,
    Process,
    ProcessListResult,
)

__all__ = [
    "AppInfoResult",
    "AppInstallResult",
    "AppListResult",
    "AppOperationResult",
    "ApplicationManager",
    "InstalledApp",
    "InstalledAppListResult",
    "Process",
    "ProcessListResult",
]
