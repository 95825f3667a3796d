"""The 0.9 path ``agentbay.api.models``: ``ExtraConfigs`` and its parts."""
