"""Code in a session: ``Code`` and ``CodeExecutionResult``."""

from agentbay._types.code import CodeExecutionResult
from agentbay.aio.code.code import Code

__all__ = ["Code", "CodeExecutionResult"]
