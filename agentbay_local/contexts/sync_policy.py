"""What a ``SyncPolicy`` asks of one context mapping, in the runtime's terms.

The policy arrives as the JSON text of a ``PersistenceDataList`` entry (see
``openapi/agentbay.yaml``, ``SyncPolicy``). Every member is optional; a missing member means
the SDK's default. A mapping without any policy (the file-transfer context) is never uploaded
automatically and never has its archives extracted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import PurePosixPath
from typing import Any

from agentbay_local.contexts.files import clean_key

#: The whole mount, as a relative path.
_ALL = PurePosixPath(".")


@dataclass(frozen=True)
class WhiteList:
    """One white-list entry: a sub-path of the mount and what to leave out below it.

    ``path`` is relative to the mount path ("" or "/" is the whole mount); each exclude path
    is relative to ``path``.
    """

    path: PurePosixPath
    excludes: tuple[PurePosixPath, ...] = ()

    def admits(self, rel: PurePosixPath, is_dir: bool) -> bool:
        """Whether ``rel`` (relative to the mount) is synced under this entry.

        Folders on the way down to ``path`` are admitted too, so the walk can reach it.
        """
        if self.path == _ALL or rel == self.path or rel.is_relative_to(self.path):
            inner = rel if self.path == _ALL else rel.relative_to(self.path)
            return not any(inner == ex or inner.is_relative_to(ex) for ex in self.excludes)
        return is_dir and (rel == _ALL or self.path.is_relative_to(rel))


@dataclass(frozen=True)
class ExtractRule:
    """``extractPolicy``: unpack archives that a download brings into the session."""

    delete_source: bool = True
    into_current_folder: bool = False


@dataclass(frozen=True)
class SyncSpec:
    """One ``PersistenceDataList`` entry: a context synced at a session path."""

    context_id: str
    path: str
    policy_text: str = ""
    policy: dict[str, Any] = field(default_factory=dict)

    @property
    def transfers_files(self) -> bool:
        """A mapping without a policy (the file-transfer context, browser replay).

        It is never uploaded at release, and a sync of one path below the mount moves that
        path alone, named the same in the context and in the session, as for a path outside
        it: the client puts or gets the file under that full path.
        """
        return not self.policy_text

    @property
    def uploads_at_release(self) -> bool:
        """Whether the session's release uploads this mapping (its policy's autoUpload)."""
        return not self.transfers_files and self.wants("uploadPolicy", "autoUpload", True)

    def _section(self, name: str) -> dict[str, Any]:
        part = self.policy.get(name)
        return part if isinstance(part, dict) else {}

    def wants(self, section: str, flag: str, default: bool) -> bool:
        """A boolean of the SyncPolicy (e.g. uploadPolicy.autoUpload), or its default."""
        return bool(self._section(section).get(flag, default))

    @cached_property
    def white_lists(self) -> list[WhiteList]:
        """``bwList.whiteLists``; no list (or an empty one) admits the whole mount.

        Parsed once: ``admits`` asks for them for every file of a sync.
        """
        raw = self._section("bwList").get("whiteLists")
        entries = [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []
        lists = [
            WhiteList(
                clean_key(str(entry.get("path") or "")),
                tuple(
                    key
                    for key in (clean_key(str(p)) for p in entry.get("excludePaths") or [])
                    if key != _ALL
                ),
            )
            for entry in entries
        ]
        return lists or [WhiteList(_ALL)]

    def admits(self, rel: PurePosixPath, is_dir: bool) -> bool:
        """Whether a path relative to the mount is synced (uploaded into the context, or
        downloaded into the session: the cloud's browser extensions choose which of a
        context's extensions a session gets by white list, with uploads off)."""
        return any(entry.admits(rel, is_dir) for entry in self.white_lists)

    def mirrors_deletions(self) -> bool:
        """``deletePolicy.syncLocalFile``: an upload also removes what the session deleted."""
        return self.wants("deletePolicy", "syncLocalFile", True)

    def extract_rule(self) -> ExtractRule | None:
        """``extractPolicy``, or None when downloaded archives stay as they are."""
        if not self.policy or not self.wants("extractPolicy", "extract", True):
            return None
        return ExtractRule(
            delete_source=self.wants("extractPolicy", "deleteSrcFile", True),
            into_current_folder=self.wants("extractPolicy", "extractToCurrentFolder", False),
        )
