"""One process limit for a whole session, whatever user ids its processes switch to (stdlib
only; runs between the session's user namespace and the rest of its sandbox).

``RLIMIT_NPROC`` counts the processes of one user: a rootless session whose root switches
to its other ids (``setpriv --reuid=5``) starts a fresh count per id, 65536 ids times the
limit, enough to take every PID of the machine. Without a pids cgroup, what bounds the
whole session is the kernel's counting of user namespaces: every process of a user
namespace is also charged to the user that created it, in the parent namespace, and
checked against that creator's ``RLIMIT_NPROC`` at creation (``kernel/ucount.c``, Linux
5.14+). So ``main`` sets the limit, creates a second user namespace inside the session's
own, maps every id of the session onto itself there (the session sees the same ids), and
runs the rest of the sandbox in it: all its processes, of any id, count against the limit
as processes of one user (the session's root, in its own namespace, which is the session's
alone).

Usage: ``main([limit, "--", program, args...])``; ``program`` replaces this process.
"""

from __future__ import annotations

import os
import resource

from . import syscalls


def identity_map(parent_map: str) -> str:
    """The ``uid_map`` that maps every id of a namespace's map onto itself, one line per
    extent (a line may not span two extents of the parent's map)."""
    lines = []
    for line in parent_map.splitlines():
        fields = line.split()
        if len(fields) == 3:
            lines.append(f"{fields[0]} {fields[0]} {fields[2]}")
    return "\n".join(lines) + "\n"


def enter(limit: int) -> None:
    """Set ``RLIMIT_NPROC`` to ``limit`` and move this (single-threaded) process into a
    new user namespace with the same ids, as root with every capability there.

    Raises:
        OSError: the namespace or its id maps could not be made.
    """
    resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))
    maps = {}
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/self/{name}") as handle:
            maps[name] = identity_map(handle.read())
    me = os.getpid()
    go_read, go_write = os.pipe()
    done_read, done_write = os.pipe()
    helper = os.fork()
    if helper == 0:  # stays in the session's namespace, where it may write the new maps
        os.close(go_write)
        os.close(done_read)
        answer = b"no maps written"
        try:
            if os.read(go_read, 1) == b"1":
                for name, text in maps.items():
                    with open(f"/proc/{me}/{name}", "w") as handle:
                        handle.write(text)
                answer = b"ok"
        except OSError as exc:
            answer = str(exc).encode()
        finally:
            os.write(done_write, answer)
            os._exit(0)
    os.close(go_read)
    os.close(done_write)
    try:
        syscalls.unshare(syscalls.CLONE_NEWUSER)
        os.write(go_write, b"1")
    finally:
        os.close(go_write)
        answer = os.read(done_read, 4096)
        os.close(done_read)
        os.waitpid(helper, 0)
    if answer != b"ok":
        raise OSError(f"the nested user namespace's id maps: {answer.decode(errors='replace')}")
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


def main(argv: list[str]) -> None:
    """``[limit, "--", program, args...]``: enter the bounded namespace, then run
    ``program`` (with the same environment)."""
    limit, separator, *command = argv
    if separator != "--" or not command:
        raise SystemExit("usage: process_bound LIMIT -- PROGRAM [ARG...]")
    enter(int(limit))
    os.execv(command[0], command)
