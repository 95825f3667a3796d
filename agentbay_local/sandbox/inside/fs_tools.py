"""The file-system tools but ``get_file_change`` (file_changes.py) (stdlib only; runs inside
the sandbox).

Text formats follow the AgentBay wire contract (c.1), because the official SDK parses
them: ``get_file_info`` as ``key: value`` lines, ``list_directory`` as ``[DIR]``/``[FILE]``
lines, ``read_multiple_files`` as ``<path>: <content>`` blocks separated by ``---``,
``search_files`` as one path per line (empty text when nothing matches, as in the cloud).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import re
import stat
import time

from . import tool_args as ta

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: ``read_file`` refuses to return more than this in one call (the SDK reads 50 KiB chunks).
MAX_READ_BYTES = 64 * 1024 * 1024
#: ``search_files`` stops after this many matches; ``get_file_change`` watches this many entries.
MAX_ENTRIES = 100_000

_write_counter = itertools.count()
#: Marks the temporary files of atomic writes: ``.<name>.agentbay-<pid>-<n>.<replace|new>``.
#: The suffix says whether the write replaces a file, so get_file_change can report the
#: write as the caller made it (``modify``, or ``create`` and ``modify``), not as its rename.
_TEMP_PATTERN = re.compile(r"\..+\.agentbay-\d+-\d+\.(replace|new)", re.S)


def atomic_write_replaces(name: str) -> bool | None:
    """For the name of an atomic write's temporary file: whether that write replaces an
    existing file; None for any other name."""
    match = _TEMP_PATTERN.fullmatch(name)
    return None if match is None else match.group(1) == "replace"


def _absolute(path: str) -> str:
    return os.path.abspath(path)


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def _atomic_write(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` via a temporary file and rename (keeps its mode)."""
    target = _absolute(path)
    directory = os.path.dirname(target)
    number = next(_write_counter)  # atomic under the GIL
    try:
        existing: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        existing = None
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        raise IsADirectoryError(21, "Is a directory", path)
    kind = "new" if existing is None else "replace"
    name = f".{os.path.basename(target)}.agentbay-{os.getpid()}-{number}.{kind}"
    temp = os.path.join(directory, name)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(fd, "wb") as handle:
            handle.write(data)
        if existing is not None:
            os.chmod(temp, stat.S_IMODE(existing.st_mode))
            with contextlib.suppress(OSError):
                os.chown(temp, existing.st_uid, existing.st_gid)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


# ---- tools ----


def create_directory(args: dict[str, Any], ctx: object) -> str:
    """Create a directory and its missing parents (an existing directory is fine)."""
    path = ta.path(args)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise ta.os_error(exc, "mkdir", path) from None
    return f"Successfully created directory {path}"


def write_file(args: dict[str, Any], ctx: object) -> str:
    """Write text (mode ``overwrite``: atomically; ``append``: at the end); makes parents."""
    path = ta.path(args)
    content = ta.text(args, "content")
    mode = ta.text(args, "mode", "overwrite")
    if mode not in ("overwrite", "append"):
        raise ta.ToolError("Invalid arguments: 'mode' must be 'overwrite' or 'append'")
    data = content.encode("utf-8", "surrogatepass")
    try:
        parent = os.path.dirname(_absolute(path))
        os.makedirs(parent, exist_ok=True)
        if mode == "append":
            with open(path, "ab") as handle:
                handle.write(data)
        else:
            _atomic_write(path, data)
    except OSError as exc:
        raise ta.os_error(exc, "open", path) from None
    return f"Successfully wrote to {path}"


def read_file(args: dict[str, Any], ctx: object) -> str:
    """A byte range of a file as text (``length`` 0 or absent: to the end), or with
    ``format="binary"`` (0.22's ``read_file(format="bytes")``) the exact bytes in base64.

    Text range ends are moved to UTF-8 character boundaries: the start skips continuation
    bytes and the end takes the rest of a character cut in two. Consecutive ranges (the
    SDK reads 51200-byte chunks) therefore concatenate to exactly the file's text.
    """
    path = ta.path(args)
    offset = ta.integer(args, "offset", 0)
    length = ta.integer(args, "length", 0)
    form = ta.text(args, "format", "text")
    if form not in ("text", "binary"):
        raise ta.ToolError("Invalid arguments: 'format' must be 'text' or 'binary'")
    too_large = ta.ToolError(
        f"Error: the requested range of '{path}' is larger than {MAX_READ_BYTES} bytes; "
        "read it in parts with offset and length"
    )
    if length > MAX_READ_BYTES:
        raise too_large
    try:
        with open(path, "rb") as handle:
            if offset:
                handle.seek(offset)
            # Bounded even without a length: /dev/zero or /proc files report no size.
            data = handle.read(length + 3 if length else MAX_READ_BYTES + 1)
    except IsADirectoryError as exc:
        raise ta.os_error(exc, "read", path) from None
    except OSError as exc:
        raise ta.os_error(exc, "open", path) from None
    if not length and len(data) > MAX_READ_BYTES:
        raise too_large
    if form == "binary":
        return base64.b64encode(data[:length] if length else data).decode("ascii")
    end = len(data)
    if length:
        end = min(length, len(data))
        extra = 0
        while end < len(data) and extra < 3 and 0x80 <= data[end] < 0xC0:
            end += 1
            extra += 1
    start = 0
    if offset > 0:
        while start < end and start < 3 and 0x80 <= data[start] < 0xC0:
            start += 1
    return data[start:end].decode("utf-8", "replace")


def read_multiple_files(args: dict[str, Any], ctx: object) -> str:
    """``<path>: <content>`` blocks separated by a ``---`` line; failures stay per path."""
    paths = ta.text_list(args, "paths")
    blocks = []
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                content = handle.read(MAX_READ_BYTES)
            blocks.append(f"{path}: {content}")
        except OSError as exc:
            reason = str(ta.os_error(exc, "open", path)).removeprefix("Error: ")
            blocks.append(f"{path}: Error - {reason}")
    return "\n---\n".join(blocks)


def get_file_info(args: dict[str, Any], ctx: object) -> str:
    """``key: value`` lines; the SDK needs ``size`` and ``isDirectory``."""
    path = ta.path(args)
    try:
        info = os.stat(path)
        is_link = os.path.islink(path)
    except OSError as exc:
        raise ta.os_error(exc, "stat", path) from None
    is_dir = stat.S_ISDIR(info.st_mode)
    is_file = stat.S_ISREG(info.st_mode)
    lines = [
        f"name: {os.path.basename(os.path.normpath(path)) or '/'}",
        f"path: {_absolute(path)}",
        f"size: {info.st_size}",
        f"isDirectory: {str(is_dir).lower()}",
        f"isFile: {str(is_file).lower()}",
        f"isSymlink: {str(is_link).lower()}",
        f"modified: {_iso(info.st_mtime)}",
        # Linux stat has no birth time in Python 3.11; the change time is the closest.
        f"created: {_iso(info.st_ctime)}",
        f"accessed: {_iso(info.st_atime)}",
        f"permissions: {stat.filemode(info.st_mode)}",
    ]
    return "\n".join(lines) + "\n"


def list_directory(args: dict[str, Any], ctx: object) -> str:
    """``[DIR] name`` / ``[FILE] name`` lines, sorted by name."""
    path = ta.path(args)
    try:
        with os.scandir(path) as entries:
            listed = sorted((entry.name, _is_dir(entry)) for entry in entries)
    except OSError as exc:
        raise ta.os_error(exc, "scandir", path) from None
    return "\n".join(f"[DIR] {name}" if is_dir else f"[FILE] {name}" for name, is_dir in listed)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def delete_file(args: dict[str, Any], ctx: object) -> str:
    """Delete one file (or symbolic link); a directory is refused, as ``rm`` without -r."""
    path = ta.path(args)
    if os.path.isdir(path) and not os.path.islink(path):
        raise ta.ToolError(f"Error: EISDIR: illegal operation on a directory, unlink '{path}'")
    try:
        os.unlink(path)
    except OSError as exc:
        raise ta.os_error(exc, "unlink", path) from None
    return f"Successfully deleted {path}"


def move_file(args: dict[str, Any], ctx: object) -> str:
    """Move or rename; fails if the destination exists."""
    source = ta.path(args, "source")
    destination = ta.path(args, "destination")
    where = f"rename '{source}' -> '{destination}'"
    if os.path.lexists(destination):
        raise ta.ToolError(f"Error: EEXIST: file already exists, {where}")
    try:
        os.rename(source, destination)
    except OSError as exc:
        if exc.errno != 18:  # EXDEV: overlayfs cannot rename directories from the image
            raise ta.os_error(exc, "rename", source) from None
        import shutil  # only needed for this rare fallback

        try:
            shutil.move(source, destination)
        except OSError as exc2:
            raise ta.os_error(exc2, "rename", source) from None
    return f"Successfully moved {source} to {destination}"


def edit_file(args: dict[str, Any], ctx: object) -> str:
    """Apply exact-text replacements in order; returns a unified diff (dryRun: no write)."""
    path = ta.path(args)
    edits = args.get("edits")
    if not isinstance(edits, list) or not edits:
        raise ta.ToolError("Invalid arguments: 'edits' must be a non-empty list")
    dry_run = ta.flag(args, "dryRun", False)
    pairs = []
    for edit in edits:
        if not isinstance(edit, dict):
            raise ta.ToolError("Invalid arguments: every edit must be an object")
        pairs.append((ta.text(edit, "oldText"), ta.text(edit, "newText")))
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise ta.ToolError(f"Error: '{path}' is not a regular file")
            original = handle.read(MAX_READ_BYTES + 1)
    except OSError as exc:
        raise ta.os_error(exc, "open", path) from None
    if len(original) > MAX_READ_BYTES:
        raise ta.ToolError(f"Error: '{path}' is too large to edit ({MAX_READ_BYTES} bytes at most)")
    content = original
    for old, new in pairs:
        if not old:
            raise ta.ToolError("Invalid arguments: 'oldText' must not be empty")
        if old not in content:
            raise ta.ToolError(f"Could not find exact match for edit:\n{old}")
        content = content.replace(old, new, 1)
    import difflib  # imported on use: it is slow to import and rarely needed

    diff = "".join(
        difflib.unified_diff(
            original.splitlines(keepends=True),
            content.splitlines(keepends=True),
            fromfile=path,
            tofile=path,
        )
    )
    if not dry_run:
        try:
            _atomic_write(path, content.encode("utf-8", "surrogateescape"))
        except OSError as exc:
            raise ta.os_error(exc, "open", path) from None
    return f"```diff\n{diff}```\n"


def search_files(args: dict[str, Any], ctx: object) -> str:
    """Names under ``path`` (recursively) matching a glob or, failing that, a substring.

    Matching is case-insensitive; ``excludePatterns`` (comma-joined globs) prunes by name
    or by path relative to ``path``.
    """
    import fnmatch

    root = ta.path(args)
    pattern = ta.text(args, "pattern").lower()
    excludes_text = args.get("excludePatterns") or ""
    if isinstance(excludes_text, list):  # tolerate a list, as some clients send one
        excludes_text = ",".join(str(item) for item in excludes_text)
    if not isinstance(excludes_text, str):
        raise ta.ToolError("Invalid arguments: 'excludePatterns' must be a string")
    excludes = [item.strip().lower() for item in excludes_text.split(",") if item.strip()]
    if not os.path.isdir(root):
        if not os.path.exists(root):
            raise ta.os_error(FileNotFoundError(2, "No such file or directory"), "scandir", root)
        raise ta.os_error(NotADirectoryError(20, "Not a directory"), "scandir", root)

    def matches(name: str) -> bool:
        lowered = name.lower()
        return fnmatch.fnmatchcase(lowered, pattern) or pattern in lowered

    def excluded(name: str, relative: str) -> bool:
        lowered, rel = name.lower(), relative.lower()
        return any(
            fnmatch.fnmatchcase(lowered, item) or fnmatch.fnmatchcase(rel, item)
            for item in excludes
        )

    found: list[str] = []
    for directory, dirs, files in os.walk(root):
        relative_dir = os.path.relpath(directory, root)
        for name in sorted(dirs + files):
            relative = name if relative_dir == "." else f"{relative_dir}/{name}"
            if excludes and excluded(name, relative):
                if name in dirs:
                    dirs.remove(name)
                continue
            if matches(name):
                found.append(os.path.join(directory, name))
        dirs.sort()
        if len(found) >= MAX_ENTRIES:
            break
    return "\n".join(found[:MAX_ENTRIES])
