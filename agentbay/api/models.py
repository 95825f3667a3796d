"""The 0.9 path of ``ExtraConfigs`` and its parts (defined in ``agentbay._types.extra_configs``)."""

from agentbay._types.extra_configs import AppManagerRule, ExtraConfigs, MobileExtraConfig

__all__ = ["AppManagerRule", "ExtraConfigs", "MobileExtraConfig"]
