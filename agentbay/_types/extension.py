"""Browser extension data."""

from __future__ import annotations

EXTENSIONS_BASE_PATH = "/tmp/extensions"


class Extension:
    """An uploaded browser extension (``id`` is its file name in the extension context)."""

    def __init__(self, id: str, name: str, created_at: str | None = None) -> None:
        self.id = id
        self.name = name
        self.created_at = created_at

    def __repr__(self) -> str:
        return f"Extension(id={self.id!r}, name={self.name!r})"


class ExtensionOption:
    """The extensions to load into a session's browser."""

    def __init__(self, context_id: str, extension_ids: list[str]) -> None:
        if not context_id or not context_id.strip():
            raise ValueError("context_id cannot be empty")
        if not extension_ids:
            raise ValueError("extension_ids cannot be empty")
        self.context_id = context_id
        self.extension_ids = list(extension_ids)

    def validate(self) -> bool:
        """Whether the option is usable."""
        return bool(self.context_id.strip()) and bool(self.extension_ids)

    def __repr__(self) -> str:
        ids = self.extension_ids
        return f"ExtensionOption(context_id='{self.context_id}', extension_ids={ids})"

    def __str__(self) -> str:
        count = len(self.extension_ids)
        return f"Extension Config: {count} extension(s) in context '{self.context_id}'"
