"""Generated-model compatibility path of the 0.9 API (``agentbay.api.models``)."""
