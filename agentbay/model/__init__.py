"""Generic result models of the 0.9 API (defined in ``agentbay._types.response``)."""

from agentbay.model.response import *  # noqa: F403 (its __all__: the names are listed once)
from agentbay.model.response import __all__ as __all__
