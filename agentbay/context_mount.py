"""Direct-mount persistence of a context (0.22's beta ``BetaContextMount``).

Unlike a ``ContextSync``, which copies a context into the session and back by policy, a
mount shows the context's files at ``path`` of the session: what the session writes there
is the context's at once, and another session mounting the same context sees it. The
AgentBay cloud offers it on the ``aio-ubuntu-2404`` image; the local runtime's behaviour is
in docs/guides/contexts.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["BetaContextMount", "BetaContextMountAccessMode", "BetaContextMountStrategy"]


class BetaContextMountAccessMode(Enum):
    """Whether the session may write to the mounted context."""

    READ_WRITE = "readWrite"
    READ_ONLY = "readOnly"


class BetaContextMountStrategy(Enum):
    """How the cloud backs the mount (a hint; sent as ``StorageMode``)."""

    STANDARD = "standard"
    PERFORMANCE = "performance"


@dataclass
class BetaContextMount:
    """[Beta] The context ``context_id`` mounted at ``path`` of a session.

    ``source_path`` is the folder of the context to mount ("" the whole context);
    ``access_mode`` and ``strategy`` as their enums say. Pass it in
    ``CreateSessionParams(beta_context_mounts=[...])`` or to ``session.context.bind``.
    """

    context_id: str
    path: str
    access_mode: BetaContextMountAccessMode = BetaContextMountAccessMode.READ_WRITE
    strategy: BetaContextMountStrategy = BetaContextMountStrategy.STANDARD
    source_path: str = ""

    @classmethod
    def new(
        cls,
        context_id: str,
        path: str,
        access_mode: BetaContextMountAccessMode | None = None,
        strategy: BetaContextMountStrategy | None = None,
        source_path: str | None = None,
    ) -> BetaContextMount:
        """A new mount; ``None`` takes the defaults."""
        return cls(
            context_id=context_id,
            path=path,
            access_mode=access_mode or BetaContextMountAccessMode.READ_WRITE,
            strategy=strategy or BetaContextMountStrategy.STANDARD,
            source_path=source_path or "",
        )

    def with_access_mode(self, access_mode: BetaContextMountAccessMode) -> BetaContextMount:
        """Set the access mode; answer self."""
        self.access_mode = access_mode
        return self

    def with_strategy(self, strategy: BetaContextMountStrategy) -> BetaContextMount:
        """Set the strategy; answer self."""
        self.strategy = strategy
        return self

    def with_source_path(self, source_path: str) -> BetaContextMount:
        """Set the folder of the context to mount; answer self."""
        self.source_path = source_path
        return self
