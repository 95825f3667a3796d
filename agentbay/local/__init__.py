"""The AgentBay local runtime: an AgentBay-compatible server with isolated Linux sessions."""
