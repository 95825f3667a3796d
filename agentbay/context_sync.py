"""Context sync policies: how a context is synced into and out of a session.

Each policy class has the 0.9 constructor and a ``__dict__()`` method returning the camelCase
wire dictionary (as the 0.9 code defines it). ``persistence_data_list`` produces the exact
``PersistenceDataList`` text the official client sends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentbay.context_mount import BetaContextMount

__all__ = [
    "BWList",
    "ContextSync",
    "DeletePolicy",
    "DownloadPolicy",
    "DownloadStrategy",
    "ExtractPolicy",
    "Lifecycle",
    "RecyclePolicy",
    "SyncPolicy",
    "UploadPolicy",
    "UploadStrategy",
    "WhiteList",
]

_WILDCARDS = frozenset("*?[]")


def _reject_wildcards(paths: Iterable[str], what: str) -> None:
    """Refuse glob patterns, in 0.9.3's words (callers match on them)."""
    for path in paths:
        if any(char in _WILDCARDS for char in path):
            raise ValueError(
                f"Wildcard patterns are not supported in {what}. Got: {path}. "
                "Please use exact directory paths instead."
            )


class UploadStrategy(Enum):
    """When a context is uploaded."""

    UPLOAD_BEFORE_RESOURCE_RELEASE = "UploadBeforeResourceRelease"


class DownloadStrategy(Enum):
    """How a context is downloaded."""

    DOWNLOAD_ASYNC = "DownloadAsync"


class Lifecycle(Enum):
    """How long recycled data is kept."""

    LIFECYCLE_1DAY = "Lifecycle_1Day"
    LIFECYCLE_3DAYS = "Lifecycle_3Days"
    LIFECYCLE_5DAYS = "Lifecycle_5Days"
    LIFECYCLE_10DAYS = "Lifecycle_10Days"
    LIFECYCLE_15DAYS = "Lifecycle_15Days"
    LIFECYCLE_30DAYS = "Lifecycle_30Days"
    LIFECYCLE_90DAYS = "Lifecycle_90Days"
    LIFECYCLE_180DAYS = "Lifecycle_180Days"
    LIFECYCLE_360DAYS = "Lifecycle_360Days"
    LIFECYCLE_FOREVER = "Lifecycle_Forever"


@dataclass
class UploadPolicy:
    """Upload the session's files to the context (at release by default)."""

    auto_upload: bool = True
    upload_strategy: UploadStrategy = UploadStrategy.UPLOAD_BEFORE_RESOURCE_RELEASE

    @classmethod
    def default(cls) -> UploadPolicy:
        """The default policy."""
        return cls()

    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        return {"autoUpload": self.auto_upload, "uploadStrategy": self.upload_strategy.value}


@dataclass
class DownloadPolicy:
    """Download the context into the session when it starts."""

    auto_download: bool = True
    download_strategy: DownloadStrategy = DownloadStrategy.DOWNLOAD_ASYNC

    @classmethod
    def default(cls) -> DownloadPolicy:
        """The default policy."""
        return cls()

    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        return {
            "autoDownload": self.auto_download,
            "downloadStrategy": self.download_strategy.value,
        }


@dataclass
class DeletePolicy:
    """Propagate deletions of session files to the context."""

    sync_local_file: bool = True

    @classmethod
    def default(cls) -> DeletePolicy:
        """The default policy."""
        return cls()

    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        return {"syncLocalFile": self.sync_local_file}


@dataclass
class ExtractPolicy:
    """Extract archives on download."""

    extract: bool = True
    delete_src_file: bool = True
    extract_current_folder: bool = False

    @classmethod
    def default(cls) -> ExtractPolicy:
        """The default policy."""
        return cls()

    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        return {
            "extract": self.extract,
            "deleteSrcFile": self.delete_src_file,
            "extractToCurrentFolder": self.extract_current_folder,
        }


@dataclass
class RecyclePolicy:
    """How long data of the given paths is kept after use."""

    lifecycle: Lifecycle = Lifecycle.LIFECYCLE_FOREVER
    paths: list[str] = field(default_factory=lambda: [""])

    def __post_init__(self) -> None:
        if not isinstance(self.lifecycle, Lifecycle):
            valid_values = ", ".join(item.value for item in Lifecycle)
            raise ValueError(
                f"Invalid lifecycle value: {self.lifecycle}. Valid values are: {valid_values}"
            )
        _reject_wildcards(self.paths, "recycle policy paths")

    @classmethod
    def default(cls) -> RecyclePolicy:
        """The default policy."""
        return cls()

    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        return {"lifecycle": self.lifecycle.value, "paths": list(self.paths)}


@dataclass
class WhiteList:
    """A path (relative to the sync path) to sync, minus excluded sub-paths."""

    path: str = ""
    exclude_paths: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        _reject_wildcards([self.path], "path")
        _reject_wildcards(self.exclude_paths, "exclude_paths")

    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        return {"path": self.path, "excludePaths": list(self.exclude_paths)}


@dataclass
class BWList:
    """The white lists of a sync."""

    white_lists: list[WhiteList] = field(default_factory=list)

    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        return {"whiteLists": [w.__dict__() for w in self.white_lists]}


@dataclass
class SyncPolicy:
    """A complete sync policy; members left ``None`` get their defaults."""

    upload_policy: UploadPolicy | None = None
    download_policy: DownloadPolicy | None = None
    delete_policy: DeletePolicy | None = None
    extract_policy: ExtractPolicy | None = None
    recycle_policy: RecyclePolicy | None = None
    bw_list: BWList | None = None

    def __post_init__(self) -> None:
        self.upload_policy = self.upload_policy or UploadPolicy()
        self.download_policy = self.download_policy or DownloadPolicy()
        self.delete_policy = self.delete_policy or DeletePolicy()
        self.extract_policy = self.extract_policy or ExtractPolicy()
        self.recycle_policy = self.recycle_policy or RecyclePolicy()
        self.bw_list = self.bw_list or BWList(white_lists=[WhiteList(path="")])

    @classmethod
    def default(cls) -> SyncPolicy:
        """The default policy."""
        return cls()

    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        parts: list[tuple[str, Any]] = [
            ("uploadPolicy", self.upload_policy),
            ("downloadPolicy", self.download_policy),
            ("deletePolicy", self.delete_policy),
            ("extractPolicy", self.extract_policy),
            ("recyclePolicy", self.recycle_policy),
            ("bwList", self.bw_list),
        ]
        return {key: value.__dict__() for key, value in parts if value is not None}


@dataclass
class ContextSync:
    """One context synced at ``path`` of a session, with an optional policy."""

    context_id: str
    path: str
    policy: SyncPolicy | None = None

    @classmethod
    def new(cls, context_id: str, path: str, policy: SyncPolicy | None = None) -> ContextSync:
        """A new context sync."""
        return cls(context_id, path, policy)

    def with_policy(self, policy: SyncPolicy) -> ContextSync:
        """Set the policy; answer self."""
        self.policy = policy
        return self


def policy_json(policy: SyncPolicy) -> str:
    """The ``Policy`` text of a PersistenceDataList entry, as the official client writes it."""
    return json.dumps(policy.__dict__(), ensure_ascii=False)


def persistence_data_list(syncs: Iterable[ContextSync | BetaContextMount]) -> str:
    """The ``PersistenceDataList`` form field: compact JSON, ``Policy`` only when set; a
    ``BetaContextMount`` is an entry of ``Type`` ``mount`` with its ``MountConfig``."""
    from agentbay.context_mount import BetaContextMount

    items = []
    for sync in syncs:
        item: dict[str, Any] = {"ContextId": sync.context_id, "Path": sync.path}
        if isinstance(sync, BetaContextMount):
            item["Type"] = "mount"
            item["MountConfig"] = {
                "AccessMode": sync.access_mode.value,
                "StorageMode": sync.strategy.value,
                "SourcePath": sync.source_path,
            }
        elif sync.policy is not None:
            item["Policy"] = policy_json(sync.policy)
        items.append(item)
    return json.dumps(items, separators=(",", ":"), ensure_ascii=False)
