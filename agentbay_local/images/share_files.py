"""Share identical files between image trees by hard links (stdlib only, run as a script).

``python share_files.py NEW OTHER...`` replaces each regular file of the tree NEW with a
hard link to the file at the same path in the first of the trees OTHER that holds the same
bytes with the same owner, mode, modification time and extended attributes (file
capabilities among them). Bytes are compared by the MD5 sums both trees' dpkg recorded for
a package file, else by reading both files. It prints how many files and bytes are shared.

Why: the built-in images repeat each other (browser_latest is code_latest and Chromium,
linux_latest is browser_latest and a desktop), so most of a cache's disk held the same
files two or three times. Sharing them is safe because nothing writes to an image tree
once it is built: sessions see a tree only as an overlay's lower layer (their writes are
copied up into their own layer) or read-only, user images are layers of their own above
it, and a rebuild makes a new tree. Only NEW is changed, before it is published.

It runs as the trees' owner (``rootfs.as_tree_owner``: as root, or rootless as root of a
user namespace with the sessions' mapping, which owns every file of a tree), so that it may
read every file and link files of any of the tree's ids.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import stat
import sys

#: Suffix of the link made beside a file, then renamed over it (a rename is atomic).
_LINK_SUFFIX = ".agentbay-shared"


def _xattrs(path: str) -> dict[str, bytes]:
    """The file's extended attributes (empty where the filesystem has none)."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    return {name: os.getxattr(path, name, follow_symlinks=False) for name in sorted(names)}


def dpkg_sums(tree: str) -> dict[str, bytes]:
    """The MD5 sums dpkg recorded for the tree's package files, by path relative to the
    tree (``var/lib/dpkg/info/*.md5sums``); empty without dpkg."""
    sums: dict[str, bytes] = {}
    info = os.path.join(tree, "var/lib/dpkg/info")
    with contextlib.suppress(OSError):
        for name in os.listdir(info):
            if not name.endswith(".md5sums"):
                continue
            with open(os.path.join(info, name), "rb") as handle:
                for line in handle:
                    digest, _, path = line.rstrip(b"\n").partition(b"  ")
                    sums[os.fsdecode(path)] = digest
    return sums


def _same(new: str, new_info: os.stat_result, other: str, sums: tuple[bytes, bytes] | None) -> bool:
    """Whether ``other`` may stand for ``new``: a regular file of the same owners, mode,
    modification time (to the nanosecond), extended attributes and bytes, not already the
    same inode. ``sums`` are the MD5 sums both trees' dpkg recorded for the path, if both
    did: a package's file as unpacked (its time is the package's; a file a script wrote
    has the build's) is what its sum says, so equal sums stand for reading both files."""
    try:
        info = os.lstat(other)
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode) or info.st_ino == new_info.st_ino:
        return False
    fields = ("st_size", "st_mode", "st_uid", "st_gid", "st_mtime_ns", "st_dev")
    if any(getattr(info, name) != getattr(new_info, name) for name in fields):
        return False
    try:
        if _xattrs(new) != _xattrs(other):
            return False
        if sums is not None:
            return sums[0] == sums[1]
        return filecmp.cmp(new, other, shallow=False)
    except OSError:
        return False


def share(new: str, others: list[str]) -> tuple[int, int]:
    """Link NEW's files to identical ones of ``others``; the count and bytes shared."""
    files = shared_bytes = 0
    roots = [os.path.realpath(tree) for tree in others]
    new_sums = dpkg_sums(new)
    other_sums = {root: dpkg_sums(root) for root in roots}
    for directory, _dirs, names in os.walk(new):
        relative = os.path.relpath(directory, new)
        # The same directory in each other tree, where no part of its path is a symbolic
        # link: one (an absolute one above all) would lead out of that tree, to the host.
        counterparts = [
            (root, candidate)
            for root, candidate in (
                (root, os.path.normpath(os.path.join(root, relative))) for root in roots
            )
            if os.path.realpath(candidate) == candidate
        ]
        for name in names:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
                continue
            key = os.path.normpath(os.path.join(relative, name))
            for root, counterpart in counterparts:
                other = os.path.join(counterpart, name)
                mine, theirs = new_sums.get(key), other_sums[root].get(key)
                sums = (mine, theirs) if mine is not None and theirs is not None else None
                if not _same(path, info, other, sums):
                    continue
                link = path + _LINK_SUFFIX
                try:
                    os.link(other, link)
                except OSError:
                    continue  # that tree is being removed, or the link count is full
                try:
                    os.rename(link, path)
                except OSError:
                    with contextlib.suppress(OSError):
                        os.unlink(link)
                    continue
                files += 1
                shared_bytes += info.st_size
                break
    return files, shared_bytes


def main(argv: list[str]) -> int:
    """Command-line entry point (the module doc)."""
    if len(argv) < 2:
        print("usage: share_files.py NEW OTHER...", file=sys.stderr)
        return 2
    files, shared_bytes = share(argv[0], argv[1:])
    print(f"{files} {shared_bytes}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
