"""agentbay: a Python SDK for AgentBay cloud sessions, with an embedded local runtime.

``from agentbay import AgentBay`` gives the documented 0.9 API; ``AsyncAgentBay`` the same
with ``async``/``await``. ``AgentBay(cfg=Config(endpoint="local", timeout_ms=60000))`` or
``AGENTBAY_ENDPOINT=local`` runs sessions on this machine. Names are imported on first use,
so ``import agentbay`` stays light.
"""

from __future__ import annotations

# typing (with re, enum, functools and collections behind it) would be most of this module's
# import time; mypy reads a module-level TYPE_CHECKING as typing's.
TYPE_CHECKING = False

__version__ = "0.1.0"

#: Public name -> module that defines it (imported on first access).
_EXPORTS: dict[str, str] = {
    "AgentBay": "agentbay.agentbay",
    "AsyncAgentBay": "agentbay.aio.agentbay",
    "Session": "agentbay.session",
    "AsyncSession": "agentbay.aio.session",
    "Config": "agentbay.config",
    "AgentBayError": "agentbay.exceptions",
    "AuthenticationError": "agentbay.exceptions",
    "APIError": "agentbay.exceptions",
    "Computer": "agentbay.computer.computer",
    "Mobile": "agentbay.mobile.mobile",
    "UI": "agentbay.ui.ui",
    "Oss": "agentbay.oss.oss",
    "FileSystem": "agentbay.filesystem.filesystem",
    "Window": "agentbay.window.window",
    "Agent": "agentbay.agent.agent",
    "Command": "agentbay.command.command",
    "Code": "agentbay.code.code",
    "ApplicationManager": "agentbay.application.application",
    "InstalledApp": "agentbay._types.application",
    "Process": "agentbay._types.application",
    "CreateSessionParams": "agentbay.session_params",
    "ListSessionParams": "agentbay.session_params",
    "LifecyclePolicy": "agentbay.session_params",
    "ContextSync": "agentbay.context_sync",
    "BetaContextMount": "agentbay.context_mount",
    "BetaContextMountAccessMode": "agentbay.context_mount",
    "BetaContextMountStrategy": "agentbay.context_mount",
    "SyncPolicy": "agentbay.context_sync",
    "UploadPolicy": "agentbay.context_sync",
    "UploadStrategy": "agentbay.context_sync",
    "DownloadPolicy": "agentbay.context_sync",
    "DownloadStrategy": "agentbay.context_sync",
    "DeletePolicy": "agentbay.context_sync",
    "ExtractPolicy": "agentbay.context_sync",
    "BWList": "agentbay.context_sync",
    "WhiteList": "agentbay.context_sync",
    "ContextManager": "agentbay.context_manager",
    "BetaNetwork": "agentbay.beta_network",
    "BetaNetworkService": "agentbay.beta_network",
    "AsyncBetaNetwork": "agentbay.aio.beta_network",
    "AsyncBetaNetworkService": "agentbay.aio.beta_network",
    "NetworkResult": "agentbay._types.response",
    "NetworkStatusResult": "agentbay._types.response",
    "ScreenshotResult": "agentbay._types.screenshot",
    "Env": "agentbay.env",
    "Git": "agentbay.git.git",
    "GitError": "agentbay.exceptions",
    "GitAuthError": "agentbay.exceptions",
    "GitConflictError": "agentbay.exceptions",
    "GitNotARepoError": "agentbay.exceptions",
    "GitNotFoundError": "agentbay.exceptions",
    "EnvResult": "agentbay._types.response",
    "SessionMetrics": "agentbay._types.response",
    "SessionMetricsResult": "agentbay._types.response",
    "ContextInfoResult": "agentbay._types.context_manager",
    "ContextSyncResult": "agentbay._types.context_manager",
    "ExtensionsService": "agentbay.extension",
    "ExtensionOption": "agentbay._types.extension",
    "Extension": "agentbay._types.extension",
    "AgentBayLogger": "agentbay.logger",
    "get_logger": "agentbay.logger",
    "log": "agentbay.logger",
}

__all__ = [
    "UI",
    "APIError",
    "Agent",
    "AgentBay",
    "AgentBayError",
    "AgentBayLogger",
    "ApplicationManager",
    "AsyncAgentBay",
    "AsyncBetaNetwork",
    "AsyncBetaNetworkService",
    "AsyncSession",
    "AuthenticationError",
    "BWList",
    "BetaContextMount",
    "BetaContextMountAccessMode",
    "BetaContextMountStrategy",
    "BetaNetwork",
    "BetaNetworkService",
    "Code",
    "Command",
    "Computer",
    "Config",
    "ContextInfoResult",
    "ContextManager",
    "ContextSync",
    "ContextSyncResult",
    "CreateSessionParams",
    "DeletePolicy",
    "DownloadPolicy",
    "DownloadStrategy",
    "Env",
    "EnvResult",
    "Extension",
    "ExtensionOption",
    "ExtensionsService",
    "ExtractPolicy",
    "FileSystem",
    "Git",
    "GitAuthError",
    "GitConflictError",
    "GitError",
    "GitNotARepoError",
    "GitNotFoundError",
    "InstalledApp",
    "LifecyclePolicy",
    "ListSessionParams",
    "Mobile",
    "NetworkResult",
    "NetworkStatusResult",
    "Oss",
    "Process",
    "ScreenshotResult",
    "Session",
    "SessionMetrics",
    "SessionMetricsResult",
    "SyncPolicy",
    "UploadPolicy",
    "UploadStrategy",
    "WhiteList",
    "Window",
    "get_logger",
    "log",
]

if TYPE_CHECKING:
    from typing import Any

    from agentbay._types.application import InstalledApp, Process
    from agentbay._types.context_manager import ContextInfoResult, ContextSyncResult
    from agentbay._types.extension import Extension, ExtensionOption
    from agentbay._types.response import (
        EnvResult,
        NetworkResult,
        NetworkStatusResult,
        SessionMetrics,
        SessionMetricsResult,
    )
    from agentbay._types.screenshot import ScreenshotResult
    from agentbay.agent.agent import Agent
    from agentbay.agentbay import AgentBay
    from agentbay.aio.agentbay import AsyncAgentBay
    from agentbay.aio.beta_network import AsyncBetaNetwork, AsyncBetaNetworkService
    from agentbay.aio.session import AsyncSession
    from agentbay.application.application import ApplicationManager
    from agentbay.beta_network import BetaNetwork, BetaNetworkService
    from agentbay.code.code import Code
    from agentbay.command.command import Command
    from agentbay.computer.computer import Computer
    from agentbay.config import Config
    from agentbay.context_manager import ContextManager
    from agentbay.context_mount import (
        BetaContextMount,
        BetaContextMountAccessMode,
        BetaContextMountStrategy,
    )
    from agentbay.context_sync import (
        BWList,
        ContextSync,
        DeletePolicy,
        DownloadPolicy,
        DownloadStrategy,
        ExtractPolicy,
        SyncPolicy,
        UploadPolicy,
        UploadStrategy,
        WhiteList,
    )
    from agentbay.env import Env
    from agentbay.exceptions import (
        AgentBayError,
        APIError,
        AuthenticationError,
        GitAuthError,
        GitConflictError,
        GitError,
        GitNotARepoError,
        GitNotFoundError,
    )
    from agentbay.extension import ExtensionsService
    from agentbay.filesystem.filesystem import FileSystem
    from agentbay.git.git import Git
    from agentbay.logger import AgentBayLogger, get_logger, log
    from agentbay.mobile.mobile import Mobile
    from agentbay.oss.oss import Oss
    from agentbay.session import Session
    from agentbay.session_params import CreateSessionParams, LifecyclePolicy, ListSessionParams
    from agentbay.ui.ui import UI
    from agentbay.window.window import Window


def __getattr__(name: str) -> Any:
    from agentbay._core.lazy import lazy_attribute

    return lazy_attribute(__name__, _EXPORTS, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
