"""The runtime's state in SQLite: sessions, their labels and contexts, contexts, sync tasks.

One connection, used from the server's event loop thread only; every statement is short, so
running them inline is cheaper than a thread hop. WAL keeps readers and the writer apart.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agentbay_local.data_dir import make_private, private_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    image_id TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    vpc INTEGER NOT NULL DEFAULT 0,
    token TEXT NOT NULL,
    policy_id TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    released_at REAL,
    idle_timeout_s REAL,
    max_runtime_s REAL
);
CREATE INDEX IF NOT EXISTS sessions_token ON sessions(token);
CREATE TABLE IF NOT EXISTS session_contexts (
    session_id TEXT NOT NULL,
    context_id TEXT NOT NULL,
    path TEXT NOT NULL,
    policy TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (session_id, context_id, path)
);
CREATE TABLE IF NOT EXISTS contexts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    name TEXT UNIQUE NOT NULL,
    state TEXT NOT NULL DEFAULT 'available',
    created_at REAL NOT NULL,
    last_used_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    context_id TEXT NOT NULL,
    path TEXT NOT NULL,
    task_type TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    start_time INTEGER NOT NULL,
    finish_time INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sync_tasks_session ON sync_tasks(session_id);
-- A session's own contexts (GetAndLoadInternalContext): removed with the session.
CREATE TABLE IF NOT EXISTS internal_contexts (
    session_id TEXT NOT NULL,
    context_type TEXT NOT NULL,
    context_id TEXT NOT NULL,
    PRIMARY KEY (session_id, context_type)
);
-- Networks sessions join at create (CreateNetwork); their members are the runtime's memory.
CREATE TABLE IF NOT EXISTS networks (
    id TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""

RUNNING = "RUNNING"
#: Pause and resume (PauseSessionAsync, ResumeSessionAsync): the states the clients poll for.
PAUSING = "PAUSING"
PAUSED = "PAUSED"
RESUMING = "RESUMING"
#: DeleteSessionAsync answered, the release is under way: the session still exists.
DELETING = "DELETING"
#: A session that exists: it answers GetSession and counts against --max-sessions.
LIVE = (RUNNING, PAUSING, PAUSED, RESUMING, DELETING)
RELEASED = "RELEASED"
#: What the clients call a released session (ListSession's Status filter).
DELETED = "DELETED"
#: GetSessionDetail's status of a released session, as the cloud answers after a delete.
FINISH = "FINISH"
#: The session's sandbox stopped by itself (its tool server died): nothing runs any more,
#: the session answers GetSession with this status until it is released.
FAILED = "FAILED"


@dataclass(frozen=True)
class SessionRow:
    """A session as stored."""

    id: str
    image_id: str
    labels: dict[str, str]
    status: str
    vpc: bool
    token: str
    policy_id: str
    created_at: float
    #: Released after this long without activity (None: never; ManualRelease).
    idle_timeout_s: float | None = None
    #: Released this long after creation (None: never).
    max_runtime_s: float | None = None


@dataclass(frozen=True)
class ContextRow:
    """A context as stored."""

    id: str
    name: str
    state: str
    created_at: float
    last_used_at: float


@dataclass(frozen=True)
class SyncTaskRow:
    """One upload or download between a context and a session path."""

    seq: int
    session_id: str
    context_id: str
    path: str
    task_type: str
    status: str
    error: str
    start_time: int
    finish_time: int


def _session(row: sqlite3.Row) -> SessionRow:
    return SessionRow(
        id=row["id"],
        image_id=row["image_id"],
        labels=json.loads(row["labels"]),
        status=row["status"],
        vpc=bool(row["vpc"]),
        token=row["token"],
        policy_id=row["policy_id"],
        created_at=row["created_at"],
        idle_timeout_s=row["idle_timeout_s"],
        max_runtime_s=row["max_runtime_s"],
    )


def _marks(values: tuple[str, ...]) -> str:
    """``?, ?, ?`` for an ``IN`` list of ``values``."""
    return ", ".join("?" * len(values))


def _context(row: sqlite3.Row) -> ContextRow:
    return ContextRow(row["id"], row["name"], row["state"], row["created_at"], row["last_used_at"])


class Store:
    """Typed access to the runtime's tables."""

    def __init__(self, path: Path) -> None:
        # Session tokens live here: only the runtime's user may read the database, and
        # SQLite gives the -wal and -shm files it makes the database's mode.
        make_private(path.parent)
        for name in (path.name, path.name + "-wal", path.name + "-shm"):
            if name == path.name or (path.parent / name).exists():
                private_file(path.parent / name)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._add_missing_columns()
        # Live sessions are looked up on every tool call; the table stays the record.
        self._running: dict[str, SessionRow] = {}

    def _add_missing_columns(self) -> None:
        """Bring a data dir of an earlier version up to this schema (columns added since)."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(sessions)")}
        for column in ("idle_timeout_s", "max_runtime_s"):
            if column not in have:
                self._db.execute(f"ALTER TABLE sessions ADD COLUMN {column} REAL")

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    # ---- sessions ----
    def release_all_running(self) -> int:
        """Mark sessions of an earlier process released (their sandboxes died with it)."""
        live = (*LIVE, FAILED)
        cursor = self._db.execute(
            f"UPDATE sessions SET status = ?, released_at = ? WHERE status IN ({_marks(live)})",
            (RELEASED, time.time(), *live),
        )
        self._running.clear()
        return cursor.rowcount

    def add_session(self, row: SessionRow, contexts: list[tuple[str, str, str]]) -> None:
        """Record a new running session and the contexts it syncs (id, path, policy JSON)."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT INTO sessions (id, image_id, labels, status, vpc, token, policy_id,"
                " created_at, idle_timeout_s, max_runtime_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.id,
                    row.image_id,
                    json.dumps(row.labels),
                    row.status,
                    int(row.vpc),
                    row.token,
                    row.policy_id,
                    row.created_at,
                    row.idle_timeout_s,
                    row.max_runtime_s,
                ),
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO session_contexts VALUES (?, ?, ?, ?)",
                [(row.id, context_id, path, policy) for context_id, path, policy in contexts],
            )
        if row.status in LIVE:
            self._running[row.id] = row

    def session(self, session_id: str) -> SessionRow | None:
        """A session by id, running or released."""
        cached = self._running.get(session_id)
        if cached is not None:
            return cached
        found = self._db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return _session(found) if found else None

    def session_by_token(self, token: str) -> SessionRow | None:
        """The live session a VPC token belongs to."""
        found = self._db.execute(
            f"SELECT * FROM sessions WHERE token = ? AND status IN ({_marks(LIVE)})",
            (token, *LIVE),
        ).fetchone()
        return _session(found) if found else None

    def live_sessions(
        self,
        labels: dict[str, str],
        statuses: tuple[str, ...] = LIVE,
        image_id: str | None = None,
    ) -> list[SessionRow]:
        """Sessions in one of ``statuses`` (by default: every session that exists, running,
        paused or being deleted) whose labels include every pair of ``labels``, of
        ``image_id`` if given; oldest first."""
        rows = self._db.execute(
            f"SELECT * FROM sessions WHERE status IN ({_marks(statuses)}) ORDER BY seq",
            statuses,
        ).fetchall()
        sessions = [_session(row) for row in rows]
        return [
            s
            for s in sessions
            if all(s.labels.get(k) == v for k, v in labels.items())
            and (image_id is None or s.image_id == image_id)
        ]

    def live_rows(self) -> list[SessionRow]:
        """Every live session, from memory (no query: the reaper asks twice a second)."""
        return list(self._running.values())

    def set_status(self, session_id: str, status: str) -> None:
        """Move a live session to another live state (pausing, paused, deleting, ...)."""
        self._db.execute("UPDATE sessions SET status = ? WHERE id = ?", (status, session_id))
        cached = self._running.get(session_id)
        if cached is not None:
            self._running[session_id] = replace(cached, status=status)

    def set_labels(self, session_id: str, labels: dict[str, str]) -> None:
        """Replace a session's labels."""
        self._db.execute(
            "UPDATE sessions SET labels = ? WHERE id = ?", (json.dumps(labels), session_id)
        )
        cached = self._running.get(session_id)
        if cached is not None:
            self._running[session_id] = replace(cached, labels=dict(labels))

    def mark_failed(self, session_id: str) -> None:
        """Record that a running session's sandbox stopped by itself."""
        self._db.execute(
            f"UPDATE sessions SET status = ? WHERE id = ? AND status IN ({_marks(LIVE)})",
            (FAILED, session_id, *LIVE),
        )
        self._running.pop(session_id, None)

    def mark_released(self, session_id: str) -> None:
        """Record that a session is released."""
        self._db.execute(
            "UPDATE sessions SET status = ?, released_at = ? WHERE id = ?",
            (RELEASED, time.time(), session_id),
        )
        self._running.pop(session_id, None)

    def add_session_context(self, session_id: str, context_id: str, path: str, policy: str) -> None:
        """Record one more context a session syncs (id, mount path, policy JSON)."""
        self._db.execute(
            "INSERT OR REPLACE INTO session_contexts VALUES (?, ?, ?, ?)",
            (session_id, context_id, path, policy),
        )

    def session_contexts(self, session_id: str) -> list[tuple[str, str, str]]:
        """(context id, path, policy JSON) of every context a session syncs."""
        rows = self._db.execute(
            "SELECT context_id, path, policy FROM session_contexts WHERE session_id = ?",
            (session_id,),
        ).fetchall()
        return [(row[0], row[1], row[2]) for row in rows]

    def sessions_syncing(self, context_id: str) -> list[str]:
        """Ids of the sessions not yet released or failed that sync ``context_id``."""
        rows = self._db.execute(
            "SELECT s.id FROM session_contexts c JOIN sessions s ON s.id = c.session_id"
            " WHERE c.context_id = ? AND s.status NOT IN (?, ?) ORDER BY s.seq",
            (context_id, RELEASED, FAILED),
        ).fetchall()
        return list(dict.fromkeys(row[0] for row in rows))

    # ---- contexts ----
    def add_context(self, context_id: str, name: str) -> ContextRow:
        """Create a context."""
        now = time.time()
        self._db.execute(
            "INSERT INTO contexts (id, name, state, created_at, last_used_at)"
            " VALUES (?, ?, 'available', ?, ?)",
            (context_id, name, now, now),
        )
        return ContextRow(context_id, name, "available", now, now)

    def context_by_name(self, name: str) -> ContextRow | None:
        """A context by name."""
        found = self._db.execute("SELECT * FROM contexts WHERE name = ?", (name,)).fetchone()
        return _context(found) if found else None

    def context(self, context_id: str) -> ContextRow | None:
        """A context by id."""
        found = self._db.execute("SELECT * FROM contexts WHERE id = ?", (context_id,)).fetchone()
        return _context(found) if found else None

    def contexts(self, offset: int, limit: int) -> tuple[list[ContextRow], int]:
        """One page of contexts, oldest first, and how many there are in all."""
        total = self._db.execute("SELECT COUNT(*) FROM contexts").fetchone()[0]
        rows = self._db.execute(
            "SELECT * FROM contexts ORDER BY seq LIMIT ? OFFSET ?", (limit, offset)
        ).fetchall()
        return [_context(row) for row in rows], int(total)

    def rename_context(self, context_id: str, name: str) -> None:
        """Rename a context (the caller checked the name is free)."""
        self._db.execute(
            "UPDATE contexts SET name = ?, last_used_at = ? WHERE id = ?",
            (name, time.time(), context_id),
        )

    def touch_context(self, context_id: str) -> None:
        """Record that a context was used now."""
        self._db.execute(
            "UPDATE contexts SET last_used_at = ? WHERE id = ?", (time.time(), context_id)
        )

    def delete_context(self, context_id: str) -> None:
        """Forget a context (its files are removed by the caller)."""
        self._db.execute("DELETE FROM contexts WHERE id = ?", (context_id,))
        self._db.execute("DELETE FROM internal_contexts WHERE context_id = ?", (context_id,))

    # ---- a session's internal contexts ----
    def internal_context(self, session_id: str, context_type: str) -> str | None:
        """The id of a session's internal context of ``context_type``, if it has one."""
        found = self._db.execute(
            "SELECT context_id FROM internal_contexts WHERE session_id = ? AND context_type = ?",
            (session_id, context_type),
        ).fetchone()
        return str(found[0]) if found else None

    def add_internal_context(
        self, session_id: str, context_type: str, context_id: str, name: str, path: str
    ) -> None:
        """Create a session's internal context, mounted (policy-less) at ``path``."""
        now = time.time()
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT INTO contexts (id, name, created_at, last_used_at) VALUES (?, ?, ?, ?)",
                (context_id, name, now, now),
            )
            self._db.execute(
                "INSERT INTO internal_contexts VALUES (?, ?, ?)",
                (session_id, context_type, context_id),
            )
            self.add_session_context(session_id, context_id, path, "")

    def internal_contexts(self, session_id: str | None = None) -> list[str]:
        """Ids of the internal contexts of ``session_id``, or (None) of every session that is
        no longer live (released, or failed)."""
        if session_id is not None:
            rows = self._db.execute(
                "SELECT context_id FROM internal_contexts WHERE session_id = ?", (session_id,)
            ).fetchall()
        else:
            rows = self._db.execute(
                "SELECT i.context_id FROM internal_contexts i"
                " LEFT JOIN sessions s ON s.id = i.session_id"
                " WHERE s.id IS NULL OR s.status IN (?, ?)",
                (RELEASED, FAILED),
            ).fetchall()
        return [str(row[0]) for row in rows]

    # ---- sync tasks ----
    # ---- networks ----
    def add_network(self, network_id: str, token: str) -> None:
        """Record a new network and its bind token."""
        self._db.execute(
            "INSERT INTO networks (id, token, created_at) VALUES (?, ?, ?)",
            (network_id, token, time.time()),
        )

    def network_token(self, network_id: str) -> str | None:
        """The bind token of a network (None: no such network)."""
        query = "SELECT token FROM networks WHERE id = ?"
        found = self._db.execute(query, (network_id,)).fetchone()
        return None if found is None else str(found["token"])

    def set_network_token(self, network_id: str, token: str) -> None:
        """Give a network a fresh bind token."""
        self._db.execute("UPDATE networks SET token = ? WHERE id = ?", (token, network_id))

    def add_task(self, session_id: str, context_id: str, path: str, task_type: str) -> int:
        """Record a pending sync task; answer its sequence number."""
        cursor = self._db.execute(
            "INSERT INTO sync_tasks (session_id, context_id, path, task_type, status, start_time)"
            " VALUES (?, ?, ?, ?, 'Pending', ?)",
            (session_id, context_id, path, task_type, int(time.time())),
        )
        return int(cursor.lastrowid or 0)

    def update_task(self, seq: int, status: str, error: str = "") -> None:
        """Move a task on (Running, Success, Failed)."""
        finish = int(time.time()) if status in ("Success", "Failed") else 0
        self._db.execute(
            "UPDATE sync_tasks SET status = ?, error = ?, finish_time = ? WHERE seq = ?",
            (status, error, finish, seq),
        )

    def tasks(self, session_id: str, **match: Any) -> list[SyncTaskRow]:
        """A session's sync tasks, newest per (context, path, type), filtered by ``match``."""
        rows = self._db.execute(
            "SELECT * FROM sync_tasks WHERE session_id = ? ORDER BY seq", (session_id,)
        ).fetchall()
        latest: dict[tuple[str, str, str], SyncTaskRow] = {}
        for row in rows:
            task = SyncTaskRow(*row)
            latest[(task.context_id, task.path, task.task_type)] = task
        wanted = {key: value for key, value in match.items() if value}
        return [
            task
            for task in latest.values()
            if all(getattr(task, key) == value for key, value in wanted.items())
        ]
