"""``get_file_change``: what inotify reports for a tree, coalesced per poll (stdlib only;
runs inside the sandbox).

The first call for a path starts watching it (every directory below it) and answers ``[]``;
each later call answers, as a JSON array, the events since the previous one, in the order
they happened and without repeating a (type, path) pair within one answer:

- a new file: ``create`` (and ``modify`` when something was written into it),
- writing to an existing file (overwrite or append): ``modify``,
- removing a file or directory: ``delete``,
- a new directory: ``create`` with ``pathType`` ``directory``, then its contents as above;
  what was made inside it before its own watch was in place (the watch is added when the
  poll reads the directory's creation) is found by a scan and reported right after it,
- a move: ``delete`` of the old path and ``create`` of the new (a move into the tree is a
  ``create``, out of it a ``delete``); as with inotify, a moved directory is one event, not
  one per entry inside it (it is watched from the poll that reads the move on).

The tool server's own atomic writes (a temporary file renamed over the target) are reported
as the write they are, not as their temporary file. A path that is a file is watched through
its directory, so a replaced file keeps being watched.
"""

from __future__ import annotations

import json
import os
import struct
import threading
from collections import OrderedDict

from . import syscalls as sc
from . import tool_args as ta
from .fs_tools import atomic_write_replaces

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Directories one watched path may watch (each costs one kernel inotify watch).
MAX_WATCHES = 8192
#: Watched paths one session may have; the least recently polled one is dropped first.
MAX_TREES = 32
#: Events kept between two polls (the kernel's own queue is of the same order).
MAX_EVENTS = 100_000

_DIR_MASK = (
    sc.IN_CREATE
    | sc.IN_MODIFY
    | sc.IN_DELETE
    | sc.IN_MOVED_FROM
    | sc.IN_MOVED_TO
    | sc.IN_DELETE_SELF
    | sc.IN_MOVE_SELF
    | sc.IN_ONLYDIR
    | sc.IN_DONT_FOLLOW
    | sc.IN_EXCL_UNLINK
)
_HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then the name)

#: One event: (eventType, path, is a directory).
Event = tuple[str, str, bool]


class TreeWatch:
    """The inotify watches of one path, and the events read from them but not yet answered."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.recursive = os.path.isdir(root)
        self.fd = sc.inotify_init()
        self.dirs: dict[int, str] = {}  # watch descriptor -> directory
        self.root_wd = -1
        self._temp_moves: dict[int, bool] = {}  # cookie of a temp file's rename -> replaces
        self.events: list[Event] = []
        try:
            if self.recursive:
                self._watch_tree(root, report=False)
            else:
                self._watch_dir(os.path.dirname(root) or "/")
            self.root_wd = next(iter(self.dirs), -1)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Drop every watch (closing the descriptor does that)."""
        os.close(self.fd)

    @property
    def alive(self) -> bool:
        """Whether the watched directory is still the one being watched."""
        return self.root_wd in self.dirs

    # ---- watches ----
    def _watch_dir(self, directory: str) -> int | None:
        if len(self.dirs) >= MAX_WATCHES:
            return None
        try:
            wd = sc.inotify_add_watch(self.fd, directory, _DIR_MASK)
        except OSError:
            return None  # gone already, not a directory, or out of watches: not watched
        self.dirs[wd] = directory
        return wd

    def _watch_tree(self, top: str, *, report: bool) -> None:
        """Watch ``top`` and every directory below it; with ``report``, record what is
        already inside as created (it appeared before the watch could see it), depth first:
        each directory before its contents, names in order."""
        stack = [iter(self._scan(top))] if self._watch_dir(top) is not None else []
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                continue
            path, is_dir, size = entry
            if report:
                self._add("create", path, is_dir)
                if size:
                    self._add("modify", path, False)
            if is_dir and self._watch_dir(path) is not None:
                stack.append(iter(self._scan(path)))

    @staticmethod
    def _scan(directory: str) -> list[tuple[str, bool, int]]:
        """(path, is a directory, size) of the entries of ``directory``, by name."""
        found = []
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError:
            return []
        for entry in entries:
            if atomic_write_replaces(entry.name) is not None:
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                size = 0 if is_dir else entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
            found.append((entry.path, is_dir, size))
        return found

    def _forget_tree(self, top: str) -> None:
        """Stop watching ``top`` and what is below it (it moved away)."""
        prefix = top.rstrip("/") + "/"
        for wd, directory in list(self.dirs.items()):
            if directory == top or directory.startswith(prefix):
                sc.inotify_rm_watch(self.fd, wd)
                del self.dirs[wd]

    # ---- events ----
    def _add(self, kind: str, path: str, is_dir: bool) -> None:
        if (self.recursive or path == self.root) and len(self.events) < MAX_EVENTS:
            self.events.append((kind, path, is_dir))

    def read(self) -> None:
        """Translate every event the kernel has queued."""
        while True:
            try:
                data = os.read(self.fd, 256 * 1024)
            except BlockingIOError:
                return
            offset = 0
            while offset + _HEADER.size <= len(data):
                wd, mask, cookie, length = _HEADER.unpack_from(data, offset)
                offset += _HEADER.size
                raw = data[offset : offset + length].split(b"\0", 1)[0]
                offset += length
                self._translate(wd, mask, cookie, os.fsdecode(raw))

    def _translate(self, wd: int, mask: int, cookie: int, name: str) -> None:
        directory = self.dirs.get(wd)
        if mask & sc.IN_IGNORED:
            self.dirs.pop(wd, None)
            return
        if directory is None or mask & sc.IN_Q_OVERFLOW:
            return
        if mask & (sc.IN_DELETE_SELF | sc.IN_MOVE_SELF):
            if wd == self.root_wd and self.recursive:
                self._add("delete", self.root, True)
            return
        path = os.path.join(directory, name)
        is_dir = bool(mask & sc.IN_ISDIR)
        replaces = atomic_write_replaces(name)
        if replaces is not None:  # the temporary file of an atomic write
            if mask & sc.IN_MOVED_FROM:
                self._temp_moves[cookie] = replaces
            return
        if mask & sc.IN_CREATE:
            self._add("create", path, is_dir)
            if is_dir and self.recursive:
                self._watch_tree(path, report=True)
        elif mask & sc.IN_MODIFY:
            if not is_dir:
                self._add("modify", path, False)
        elif mask & sc.IN_DELETE:
            self._add("delete", path, is_dir)
        elif mask & sc.IN_MOVED_FROM:
            self._add("delete", path, is_dir)
            if is_dir:
                self._forget_tree(path)
        elif mask & sc.IN_MOVED_TO:
            replaced = self._temp_moves.pop(cookie, None)
            if replaced is None:
                self._add("create", path, is_dir)
                if is_dir and self.recursive:
                    self._watch_tree(path, report=False)
            else:
                if not replaced:
                    self._add("create", path, False)
                self._add("modify", path, False)

    def take(self) -> list[Event]:
        """The events since the last call, each (type, path) once, in order."""
        self.read()
        seen: set[tuple[str, str]] = set()
        answer = []
        for kind, path, is_dir in self.events:
            if (kind, path) not in seen:
                seen.add((kind, path))
                answer.append((kind, path, is_dir))
        self.events = []
        if len(self._temp_moves) > 1024:  # halves whose other half never came (moved away)
            self._temp_moves.clear()
        return answer


class ChangeWatcher:
    """The ``get_file_change`` tool: one TreeWatch per watched path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trees: OrderedDict[str, TreeWatch] = OrderedDict()

    def changes(self, args: dict[str, Any], ctx: object) -> str:
        """Events since the previous call for this path; the first call answers ``[]``."""
        path = ta.path(args)
        key = os.path.abspath(path)
        with self._lock:
            tree = self._trees.get(key)
            if not os.path.exists(key):
                if tree is None:
                    raise ta.os_error(
                        FileNotFoundError(2, "No such file or directory"), "stat", path
                    )
                # Its last events (its own deletion among them); the next call is an error.
                del self._trees[key]
                try:
                    return _encode(tree.take())
                finally:
                    tree.close()
            if tree is not None and tree.alive:
                self._trees.move_to_end(key)
                return _encode(tree.take())
            events = tree.take() if tree is not None else []
            if tree is not None:  # the directory was replaced: watch the new one
                tree.close()
                del self._trees[key]
            try:
                self._trees[key] = TreeWatch(key)
            except OSError as exc:
                raise ta.os_error(exc, "inotify", path) from None
            while len(self._trees) > MAX_TREES:
                self._trees.popitem(last=False)[1].close()
            return _encode(events)


def event_objects(events: list[Event]) -> list[dict[str, str]]:
    """Events as the answer (and the session WebSocket's pushes) show them."""
    return [
        {"eventType": kind, "path": path, "pathType": "directory" if is_dir else "file"}
        for kind, path, is_dir in events
    ]


def _encode(events: list[Event]) -> str:
    return json.dumps(event_objects(events), ensure_ascii=False)
