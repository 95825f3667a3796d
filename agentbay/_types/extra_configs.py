"""``ExtraConfigs`` and its parts (public at ``agentbay.api.models``, their 0.9 path).

They are not sent to the server: ``create()`` applies mobile settings with shell commands.
"""

from __future__ import annotations

from typing import Any


class AppManagerRule:
    """A white or black list of Android packages (``rule_type`` "White" or "Black")."""

    def __init__(
        self, rule_type: str | None = None, app_package_name_list: list[str] | None = None
    ) -> None:
        self.rule_type = rule_type
        self.app_package_name_list = app_package_name_list

    def validate(self) -> None:
        """Raise ValueError for a malformed rule."""
        if self.app_package_name_list is not None and not all(
            isinstance(item, str) for item in self.app_package_name_list
        ):
            raise ValueError("app_package_name_list items must be strings")

    def to_map(self) -> dict[str, Any]:
        """Wire form."""
        out: dict[str, Any] = {}
        if self.rule_type is not None:
            out["RuleType"] = self.rule_type
        if self.app_package_name_list is not None:
            out["AppPackageNameList"] = self.app_package_name_list
        return out

    def from_map(self, m: dict[str, Any] | None = None) -> AppManagerRule:
        """Read the wire form into this object."""
        m = m or {}
        self.rule_type = m.get("RuleType")
        self.app_package_name_list = m.get("AppPackageNameList")
        return self


class MobileExtraConfig:
    """Mobile settings: resolution lock and an app white/black list."""

    def __init__(
        self, lock_resolution: bool | None = None, app_manager_rule: AppManagerRule | None = None
    ) -> None:
        self.lock_resolution = lock_resolution
        self.app_manager_rule = app_manager_rule

    def validate(self) -> None:
        """Raise ValueError for a malformed configuration."""
        if self.app_manager_rule is not None:
            self.app_manager_rule.validate()

    def to_map(self) -> dict[str, Any]:
        """Wire form."""
        out: dict[str, Any] = {}
        if self.lock_resolution is not None:
            out["LockResolution"] = self.lock_resolution
        if self.app_manager_rule is not None:
            out["AppManagerRule"] = self.app_manager_rule.to_map()
        return out

    def from_map(self, m: dict[str, Any] | None = None) -> MobileExtraConfig:
        """Read the wire form into this object."""
        m = m or {}
        self.lock_resolution = m.get("LockResolution")
        rule = m.get("AppManagerRule")
        self.app_manager_rule = AppManagerRule().from_map(rule) if rule else None
        return self


class ExtraConfigs:
    """Extra session settings by image kind (only ``mobile`` exists)."""

    def __init__(self, mobile: MobileExtraConfig | None = None) -> None:
        self.mobile = mobile

    def validate(self) -> None:
        """Raise ValueError for malformed settings."""
        if self.mobile is not None:
            self.mobile.validate()

    def to_map(self) -> dict[str, Any]:
        """Wire form."""
        return {"Mobile": self.mobile.to_map()} if self.mobile is not None else {}

    def from_map(self, m: dict[str, Any] | None = None) -> ExtraConfigs:
        """Read the wire form into this object."""
        m = m or {}
        self.mobile = MobileExtraConfig().from_map(m["Mobile"]) if m.get("Mobile") else None
        return self
