"""Making a root filesystem: ``mmdebstrap`` from a recipe, or a tarball made elsewhere.

Either way the tree gets the owners a session's user namespace needs (so the session's root
owns the image's files):

- as root, the tree keeps the ids the packages gave it (root's files are uid 0 on disk,
  like any Debian system; ``mmdebstrap --mode=root`` builds straight into the directory, a
  tarball is unpacked by root). A root-mode session sees it through an idmapped mount onto the
  session's own id range (``userns.idmapped_root``, as the host's ``/`` today), so the same
  tree serves whatever range ``userns.root_mode_ids`` picks, and the tree's setuid files
  are reachable only by root (the cache directory is 0700);
- rootless, ``tar`` runs as root of a user namespace with the sessions' mapping
  (``userns.id_mapping``: the user is 0, the subordinate ids are 1...), so the files belong,
  on disk, to exactly the host ids a rootless session's ids are: no shifting at run time.
  ``mmdebstrap --mode=unshare`` maps root onto the first subordinate id instead, which is
  why a rootless build's output is a tar stream unpacked that way, not its directory.

``mmdebstrap`` runs where a kill cannot leave anything behind: as root in a private mount
and PID namespace of its own (its mounts and processes end with it), rootless in its own
namespaces; both die with the builder (``PR_SET_PDEATHSIG``). What it prints goes to the
caller's progress output, and a customize hook asks dpkg in the finished tree for the exact
package versions.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from agentbay_local.images import byte_compile
from agentbay_local.images.manifest import (
    IMAGE_PYTHON,
    MIRROR_ENV,
    SECURITY_MIRROR_ENV,
    Recipe,
)
from agentbay_local.sandbox import userns
from agentbay_local.sandbox.host_programs import SANDBOX_PATH, unshare_binary
from agentbay_local.sandbox.inside import syscalls

Output = Callable[[str], None]

#: Runs a rootless mmdebstrap so that its namespaced processes end with it (``guardian``).
GUARDIAN = Path(__file__).with_name("guardian.py")
#: Links a new tree's files to identical ones of other trees (``share_identical_files``).
SHARE_FILES = Path(__file__).with_name("share_files.py")
#: Files the customize hook leaves at the tree's top for the builder (removed afterwards).
PACKAGES_FILE = ".agentbay-packages"
PYTHON_FILE = ".agentbay-python"
#: dpkg-query's answer, one ``package<TAB>version`` per line.
_DPKG_FORMAT = r"${binary:Package}\t${Version}\n"
#: Longest a build may take (a slow mirror); the builder stops it then.
BUILD_TIMEOUT_S = 3600.0
#: Longest removing or measuring a tree may take.
TREE_TIMEOUT_S = 600.0
#: Where mmdebstrap writes the build's ``--dpkgopt`` options in the tree.
_DPKG_CONFIG = "etc/dpkg/dpkg.cfg.d/99mmdebstrap"
#: What ``tar`` leaves out of every image: device nodes (sessions get a /dev of their own,
#: and a user namespace may not create them).
_TAR_EXCLUDES = ("--anchored", "--exclude=./dev/*", "--exclude=dev/*")

#: mmdebstrap's own hooks that run dpkg under eatmydata (no fsync at all, postinsts' too:
#: ``force-unsafe-io`` spares only the unpacked files'); used where mmdebstrap ships them
#: and the host has what they run (``dpkg-architecture``, of dpkg-dev: a fresh machine lacks
#: it, and the hooks fail the build there).
_EATMYDATA_HOOKS = Path("/usr/share/mmdebstrap/hooks/eatmydata")
_EATMYDATA_NEEDS = "dpkg-architecture"

INSTALL_MMDEBSTRAP = (
    "install mmdebstrap (as root: apt-get install mmdebstrap uidmap), or make a root "
    "filesystem elsewhere and import it: agentbay local image import NAME TARBALL"
)


class RootfsError(Exception):
    """A root filesystem that could not be made; the message says why and what to do."""


@dataclass(frozen=True)
class TreeFacts:
    """What was found in a finished tree.

    Attributes:
        packages: installed Debian packages and their exact versions (empty: no dpkg).
        python: the image's interpreter (``IMAGE_PYTHON``), "" when it has none.
        python_version: its version (e.g. ``3.11.2``), "" when unknown.
    """

    packages: dict[str, str]
    python: str
    python_version: str


def builder_problem() -> str | None:
    """Why ``mmdebstrap`` builds are impossible here (what to install or run), or None."""
    if shutil.which("mmdebstrap") is None:
        return f"mmdebstrap is not installed: {INSTALL_MMDEBSTRAP}"
    return extractor_problem()


def extractor_problem() -> str | None:
    """Why trees with the sessions' owners cannot be made here, or None."""
    if shutil.which("tar") is None:
        return "GNU tar is not installed (apt-get install tar)"
    if not userns.rootless():
        return None
    if unshare_binary() is None:
        return "util-linux 'unshare' is not installed (apt-get install util-linux)"
    missing = userns.missing_id_mapping()
    if missing:
        return f"images are built rootless in a user namespace with subordinate ids, and {missing}"
    return None


def mmdebstrap_argv(recipe: Recipe, target: str) -> list[str]:
    """The ``mmdebstrap`` command that builds the recipe's tree into the directory
    ``target``, or as a tar stream to stdout (``-``)."""
    argv = [
        "mmdebstrap",
        f"--mode={'unshare' if userns.rootless() else 'root'}",
        f"--variant={recipe.variant}",
        f"--format={'tar' if target == '-' else 'directory'}",
        "--dpkgopt=force-unsafe-io",  # a failed build is thrown away whole: no fsync
    ]
    if recipe.packages:
        argv.append("--include=" + ",".join(recipe.packages))
    argv += [f"--dpkgopt=path-exclude={pattern}" for pattern in recipe.path_exclude]
    argv += [f"--dpkgopt=path-include={pattern}" for pattern in recipe.path_include]
    argv += [
        f"--essential-hook={byte_compile.DEFER}",
        # Before eatmydata's customize hook puts dpkg back: py3compile runs ``dpkg -L``.
        f"--customize-hook={byte_compile.AWAIT}",
    ]
    if _EATMYDATA_HOOKS.is_dir() and shutil.which(_EATMYDATA_NEEDS) is not None:
        argv.append(f"--hook-directory={_EATMYDATA_HOOKS}")
    argv += [
        # Asked of the tree's own dpkg and interpreter, as a session would see them.
        f'--customize-hook=chroot "$1" dpkg-query -W -f \'{_DPKG_FORMAT}\' > "$1/{PACKAGES_FILE}"',
        f'--customize-hook=if [ -x "$1{IMAGE_PYTHON}" ]; then chroot "$1" {IMAGE_PYTHON} -I -c '
        f"'import sys; print(sys.version.split()[0])' > \"$1/{PYTHON_FILE}\"; fi",
        # The host's resolver and name are no part of an image, nor the build's dpkg
        # shortcut: a session's own apt-get keeps dpkg's safe writes.
        '--customize-hook=rm -f "$1/etc/resolv.conf" "$1/etc/hostname"',
        f"--customize-hook=sed -i '/^force-unsafe-io$/d' \"$1/{_DPKG_CONFIG}\"",
        recipe.suite,
        target,
        *recipe.sources,
    ]
    return argv


def tar_extract_argv(target: Path, source: str = "-") -> list[str]:
    """``tar`` extracting ``source`` (a file, or ``-``) into ``target`` with the numeric
    owners, modes and file capabilities it holds, as the tree's owner (see module doc)."""
    # From a pipe, tar reads on past the end-of-archive blocks to the writer's end: stopping
    # there, it left mmdebstrap's last padding unread, and mmdebstrap died of SIGPIPE.
    drain = ["--ignore-zeros"] if source == "-" else []
    return as_tree_owner(
        [
            "tar",
            "--extract",
            *drain,
            "--numeric-owner",
            "--same-owner",
            "--same-permissions",
            "--xattrs",
            "--xattrs-include=security.capability",
            *_TAR_EXCLUDES,
            "--directory",
            str(target),
            "--file",
            source,
        ]
    )


def as_tree_owner(argv: Sequence[str]) -> list[str]:
    """``argv`` run as the owner of image trees: itself as root, else root of a user
    namespace with the sessions' mapping."""
    if not userns.rootless():
        return list(argv)
    unshare = unshare_binary()
    if unshare is None:
        raise RootfsError("util-linux 'unshare' is not installed (apt-get install util-linux)")
    return [unshare, *userns.id_mapping().unshare_args(), "--", *argv]


def build_tree(recipe: Recipe, target: Path, work: Path, output: Output) -> TreeFacts:
    """Build ``recipe`` into the empty directory ``target``; ``work`` is scratch space of
    the caller's (mode 1777, reached through directories others may pass; removed by it).
    Progress lines go to ``output`` as they come.

    Raises:
        RootfsError: mmdebstrap or tar failed (the message ends with mmdebstrap's last lines).
    """
    problem = builder_problem()
    if problem:
        raise RootfsError(problem)
    # HOME: dpkg reads a ~/.dpkg.cfg; the unshared root of a rootless build reads "/" only.
    env = {"PATH": SANDBOX_PATH, "LANG": "C.UTF-8", "HOME": "/"}
    # mmdebstrap's scratch tree goes into the build's directory, so whatever a killed build
    # left is removed with it; a rootless build's unshared root must reach it (1777, and
    # every directory above open to pass through), else it stays in /tmp.
    if not userns.rootless() or _passable_by_anyone(work):
        env["TMPDIR"] = str(work)
    if userns.rootless():
        # Its own mapping puts root on the first subordinate id: unpacked again with the
        # sessions' (module doc).
        guarded = [sys.executable, "-I", "-S", str(GUARDIAN), *mmdebstrap_argv(recipe, "-")]
        steps = [("mmdebstrap", guarded), ("tar", tar_extract_argv(target))]
    else:
        # A private mount and PID namespace: if the builder is killed, the namespace's
        # processes die with it and its mounts (proc, sys, dev of the tree) go away.
        unshare = unshare_binary()
        if unshare is None:
            raise RootfsError("util-linux 'unshare' is not installed (apt-get install util-linux)")
        isolated = [unshare, "--mount", "--propagation=private", "--pid", "--fork"]
        command = mmdebstrap_argv(recipe, str(target))
        steps = [("mmdebstrap", [*isolated, "--kill-child", "--", *command])]
    output(f"Building {recipe.name} ({recipe.suite}, {len(recipe.packages)} packages listed)\n")
    try:
        _run_pipeline(steps, env, output)
    except RootfsError as exc:
        if "apt-get update" in str(exc) and "Failed to fetch" in str(exc):
            raise RootfsError(f"{exc}\n{_unreachable_advice(recipe)}") from None
        raise
    if not userns.rootless():
        _empty_dev(target)
    return _collect_facts(target)


def _unreachable_advice(recipe: Recipe) -> str:
    archives = ", ".join(dict.fromkeys(line.split()[1] for line in recipe.sources))
    return (
        f"The Debian package archive could not be reached ({archives}): check this machine's "
        f"network, set {MIRROR_ENV} (and {SECURITY_MIRROR_ENV}) to a mirror it reaches, or "
        "make a root filesystem elsewhere and import it: agentbay local image import NAME "
        "TARBALL"
    )


def _empty_dev(target: Path) -> None:
    """Remove the device nodes mmdebstrap made in the tree's /dev (root mode): sessions get a
    /dev of their own, and a tarball's are left out the same way (``_TAR_EXCLUDES``)."""
    dev = target / "dev"
    for entry in os.scandir(dev):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)


def _passable_by_anyone(directory: Path) -> bool:
    """Whether every directory from ``/`` down to ``directory`` lets others pass."""
    path = directory.resolve()
    return all(os.stat(part).st_mode & 0o001 for part in (path, *path.parents))


def extract_tarball(tarball: Path, target: Path, output: Output) -> TreeFacts:
    """Extract a root filesystem tarball (plain, gzip, xz, zstd or bzip2) into ``target``.

    Raises:
        RootfsError: not a readable tarball, or tar failed.
    """
    problem = extractor_problem()
    if problem:
        raise RootfsError(problem)
    try:
        with open(tarball, "rb"):
            pass
    except OSError as exc:
        raise RootfsError(f"cannot read {tarball}: {exc.strerror}") from None
    output(f"Extracting {tarball}\n")
    env = {"PATH": SANDBOX_PATH, "LANG": "C.UTF-8"}
    # tar reads the file itself (it recognises the compression from the contents).
    _run_pipeline([("tar", tar_extract_argv(target, str(Path(tarball).resolve())))], env, output)
    return TreeFacts(read_dpkg_status(target), *_python_of(target))


def _collect_facts(target: Path) -> TreeFacts:
    """Read what the customize hooks wrote, then remove their files from the tree."""
    packages_file, python_file = target / PACKAGES_FILE, target / PYTHON_FILE
    try:
        lines = packages_file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RootfsError(f"the build recorded no package versions: {exc}") from None
    packages = dict(line.split("\t", 1) for line in lines if "\t" in line)
    version = ""
    with contextlib.suppress(OSError):
        version = python_file.read_text(encoding="utf-8").strip()
    for path in (packages_file, python_file):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return TreeFacts(packages, IMAGE_PYTHON if version else "", version)


def _python_of(target: Path) -> tuple[str, str]:
    """The tree's interpreter (``IMAGE_PYTHON``) if it has one; its version is unknown
    without running it, which only a session may do."""
    return (IMAGE_PYTHON, "") if os.path.lexists(f"{target}{IMAGE_PYTHON}") else ("", "")


def read_dpkg_status(target: Path) -> dict[str, str]:
    """Installed packages and versions from the tree's dpkg database (``var/lib/dpkg/
    status``, the file dpkg-query reads), named as dpkg-query's ``${binary:Package}``
    names them; empty when the tree has none."""
    try:
        text = (target / "var/lib/dpkg/status").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    native = ""
    with contextlib.suppress(OSError):
        native = (target / "var/lib/dpkg/arch").read_text().split()[0]
    found: dict[str, str] = {}
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line[:1] not in (" ", "\t") and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields.get("Status", "").endswith(" installed") and "Package" in fields:
            name, arch = fields["Package"], fields.get("Architecture", "")
            multi = fields.get("Multi-Arch") == "same" or (arch not in ("all", native, ""))
            found[f"{name}:{arch}" if multi and arch != "all" else name] = fields.get("Version", "")
    return found


def remove_tree(path: Path) -> None:
    """Delete a tree (or a failed build's leftovers) as its owner.

    Raises:
        RootfsError: it could not be deleted.
    """
    if not os.path.lexists(path):
        return
    if not userns.rootless():
        shutil.rmtree(path)
        return
    userns.remove_as_namespace_root(path)  # the sessions' mapping owns every file of a tree
    if os.path.lexists(path):
        raise RootfsError(f"cannot delete {path} (see the log for why)")


def share_identical_files(tree: Path, others: Sequence[Path]) -> tuple[int, int]:
    """Replace the files of the unpublished ``tree`` that other trees hold identically
    (bytes, owners, mode, time, attributes) by hard links to theirs (``share_files``);
    the count and bytes now shared.

    Raises:
        RootfsError: the sharing failed (the tree is as it was, or partly linked: either
            way whole).
    """
    if not others:
        return 0, 0
    text = _run_quietly(
        as_tree_owner([sys.executable, "-I", "-S", str(SHARE_FILES), str(tree), *map(str, others)]),
        f"cannot share files of {tree}",
    )
    try:
        files, shared = (int(word) for word in text.split()[-2:])
    except ValueError:
        raise RootfsError(f"cannot share files of {tree}: it said {text!r}") from None
    return files, shared


def tree_size(path: Path) -> int:
    """Disk space the tree uses, in bytes (read as its owner: some of its directories are
    closed to anyone else)."""
    text = _run_quietly(
        as_tree_owner(["du", "--summarize", "--block-size=1", "--one-file-system", str(path)]),
        f"cannot measure {path}",
    )
    try:
        return int(text.split()[0])
    except (IndexError, ValueError):
        raise RootfsError(f"cannot measure {path}: du said {text!r}") from None


def _run_quietly(argv: list[str], failure: str) -> str:
    try:
        result = subprocess.run(
            argv,
            capture_output=True,
            timeout=TREE_TIMEOUT_S,
            env={"PATH": SANDBOX_PATH, "LANG": "C.UTF-8"},
            check=False,
            preexec_fn=_die_with_parent,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RootfsError(f"{failure}: {exc}") from None
    if result.returncode != 0:
        raise RootfsError(f"{failure}: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout.decode(errors="replace")


def _die_with_parent() -> None:
    """In the child before exec: killed when the builder dies, however it dies."""
    syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGKILL)


def _stop_with_parent() -> None:
    """In the guardian of a rootless mmdebstrap before exec: told to stop when the builder
    dies, it stops mmdebstrap and kills what mmdebstrap left in its namespaces (which no
    signal of ours reaches); a SIGKILL would leave them running."""
    syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGTERM)


def _run_pipeline(steps: list[tuple[str, list[str]]], env: dict[str, str], output: Output) -> None:
    """Run the ``(name, argv)`` steps as a pipeline (each one's stdout into the next),
    their messages forwarded to ``output`` line by line; all are stopped when this is
    interrupted or times out.

    Raises:
        RootfsError: a step failed (named, with its last messages) or the time ran out.
    """
    started = time.monotonic()
    processes: list[subprocess.Popen[bytes]] = []
    tails: list[list[str]] = []
    readers: list[threading.Thread] = []
    try:
        stdin: int | IO[bytes] = subprocess.DEVNULL
        for number, (name, argv) in enumerate(steps):
            last = number == len(steps) - 1
            process = subprocess.Popen(
                argv,
                stdin=stdin,
                stdout=subprocess.DEVNULL if last else subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,  # a terminal's Ctrl-C reaches the builder only
                preexec_fn=_stop_with_parent if name == "mmdebstrap" else _die_with_parent,
            )
            if not isinstance(stdin, int):
                stdin.close()  # the next step holds the pipe now
            if not last:
                assert process.stdout is not None
                stdin = process.stdout
            processes.append(process)
            tail: list[str] = []
            tails.append(tail)
            assert process.stderr is not None
            reader = threading.Thread(
                target=_forward, args=(process.stderr, tail, output, started), daemon=True
            )
            reader.start()
            readers.append(reader)
        deadline = started + BUILD_TIMEOUT_S
        for process in processes:
            process.wait(max(0.0, deadline - time.monotonic()))
        for reader in readers:
            reader.join(TREE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise RootfsError(f"the build took longer than {BUILD_TIMEOUT_S:g} s") from None
    finally:
        _stop(processes)
    # Every failed step: when one fails the others often do too (a broken pipe, a cut
    # archive), and only together do they say which was first.
    failures = [
        f"{name} failed with exit code {process.returncode}:\n" + "".join(tail[-12:]).rstrip()
        for (name, _argv), process, tail in zip(steps, processes, tails, strict=True)
        if process.returncode != 0
    ]
    if failures:
        raise RootfsError("\n".join(failures))


def _forward(stream: IO[bytes], tail: list[str], output: Output, started: float) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace")
        tail.append(line)
        del tail[:-40]
        text = line.removeprefix("I: ")
        output(f"[{time.monotonic() - started:6.1f} s] {text}")
    stream.close()


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """End what still runs: TERM first (mmdebstrap cleans up its scratch tree), KILL after."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
