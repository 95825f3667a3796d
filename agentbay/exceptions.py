"""Exceptions of the SDK: the 0.9 family plus precise transport and server errors."""

from __future__ import annotations

# typing (with re and collections behind it) would be most of the import time of
# `from agentbay import AgentBay`, which needs these classes; mypy reads a module-level
# TYPE_CHECKING as typing's.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any


class AgentBayError(Exception):
    """Base class of every error the SDK raises; extra keyword arguments are kept in ``extra``."""

    default_message = "AgentBayError"

    def __init__(self, message: str | None = None, *args: Any, **kwargs: Any) -> None:
        self.message = message if message is not None else self.default_message
        self.extra = kwargs
        super().__init__(self.message, *args)


class AuthenticationError(AgentBayError):
    """The API key was refused."""

    default_message = "Authentication failed"


class APIError(AgentBayError):
    """The API answered with an error; ``status_code`` is the HTTP status when known."""

    default_message = "API error"

    def __init__(
        self, message: str | None = None, *args: Any, status_code: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, *args, **kwargs)
        self.status_code = status_code


class FileError(AgentBayError):
    """A file-system operation failed."""

    default_message = "File operation error"


class CommandError(AgentBayError):
    """A command or code run failed."""

    default_message = "Command execution error"


class SessionError(AgentBayError):
    """A session operation failed (labels, info, links)."""

    default_message = "Session error"


class OssError(AgentBayError):
    """An OSS operation failed."""

    default_message = "OSS operation error"


class ApplicationError(AgentBayError):
    """An application operation failed."""

    default_message = "Application operation error"


class UIError(AgentBayError):
    """A UI operation failed."""

    default_message = "UI operation error"


class BrowserError(AgentBayError):
    """A browser operation failed."""

    default_message = "Browser error"


class AgentError(AgentBayError):
    """An agent task failed."""

    default_message = "Agent action error"


class GitError(AgentBayError):
    """A git command of ``session.git`` failed: its ``exit_code`` and ``stderr``."""

    default_message = "Git operation error"

    def __init__(self, message: str | None = None, exit_code: int = 1, stderr: str = "") -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr = stderr


class GitAuthError(GitError):
    """Git was refused for its credentials."""


class GitNotFoundError(GitError):
    """There is no git in the session."""


class GitConflictError(GitError):
    """A merge or rebase stopped at a conflict."""


class GitNotARepoError(GitError):
    """The path is not a git repository."""


class ClearanceTimeoutError(AgentBayError):
    """``agent_bay.context.clear`` did not see the context cleared in time (0.22)."""

    default_message = "Context clearing operation timed out"


class ServerError(APIError):
    """An HTTP error answer of the API, with its Code, Message and RequestId.

    ``str()`` reads like the official client's errors, so messages built from it
    (``"Failed to create session: Error: <Code> code: <status>, ..."``) look the same.
    """

    def __init__(self, *, code: str, message: str, request_id: str, status_code: int) -> None:
        self.code = code
        self.server_message = message
        self.request_id = request_id
        super().__init__(
            f"Error: {code} code: {status_code}, {message} request id: {request_id}",
            status_code=status_code,
        )


class TransportError(AgentBayError):
    """The request could not be completed (connection refused, reset, not JSON)."""

    default_message = "Transport error"

    def __init__(self, message: str | None = None, *, action: str = "") -> None:
        super().__init__(message)
        self.action = action


class RequestTimeoutError(TransportError):
    """No answer arrived within the timeout."""

    default_message = "Request timed out"
