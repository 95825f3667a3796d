"""agentbay: a Python SDK for AgentBay cloud sessions, with an embedded local runtime.

The low-level client generated from ``openapi/agentbay.yaml`` lives in ``agentbay._api``.
"""

__version__ = "0.1.0"
