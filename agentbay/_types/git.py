"""Git results (``session.git``, 0.22) and the parsing of git's own output into them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote


@dataclass
class GitCloneResult:
    """``git.clone``: where the repository is."""

    path: str


@dataclass
class GitInitResult:
    """``git.init``: where the repository is."""

    path: str


@dataclass
class GitCommitResult:
    """``git.commit``: the new commit's short hash (None when git's output did not say)."""

    commit_hash: str | None = None


@dataclass
class GitFileStatus:
    """One file of ``git status``: its normalised ``status`` (modified, added, deleted,
    renamed, copied, typechange, untracked, conflict), the two porcelain letters, whether
    the change is staged, and the old path of a rename."""

    path: str
    status: str
    index_status: str
    work_tree_status: str
    staged: bool
    renamed_from: str | None = None


@dataclass
class GitStatusResult:
    """``git.status``: the branch, its upstream and distance, and the changed files."""

    current_branch: str | None = None
    upstream: str | None = None
    ahead: int = 0
    behind: int = 0
    detached: bool = False
    files: list[GitFileStatus] = field(default_factory=list)

    @property
    def is_clean(self) -> bool:
        """No changed or untracked file."""
        return not self.files

    @property
    def has_changes(self) -> bool:
        """Some changed or untracked file."""
        return bool(self.files)

    @property
    def has_staged(self) -> bool:
        """Some change is staged."""
        return any(f.staged for f in self.files)

    @property
    def has_untracked(self) -> bool:
        """Some file is untracked."""
        return any(f.status == "untracked" for f in self.files)

    @property
    def has_conflicts(self) -> bool:
        """Some file is in conflict."""
        return any(f.status == "conflict" for f in self.files)

    @property
    def total_count(self) -> int:
        """How many files are listed."""
        return len(self.files)

    @property
    def staged_count(self) -> int:
        """How many changes are staged."""
        return sum(1 for f in self.files if f.staged)

    @property
    def unstaged_count(self) -> int:
        """How many tracked files changed without being staged."""
        return sum(1 for f in self.files if not f.staged and f.status != "untracked")

    @property
    def untracked_count(self) -> int:
        """How many files are untracked."""
        return sum(1 for f in self.files if f.status == "untracked")

    @property
    def conflict_count(self) -> int:
        """How many files are in conflict."""
        return sum(1 for f in self.files if f.status == "conflict")


@dataclass
class GitLogEntry:
    """One commit of ``git.log`` (``date`` in ISO 8601, ``message`` its subject line)."""

    hash: str
    short_hash: str
    author_name: str
    author_email: str
    date: str
    message: str


@dataclass
class GitLogResult:
    """``git.log``: newest commit first."""

    entries: list[GitLogEntry] = field(default_factory=list)


@dataclass
class GitBranchInfo:
    """One local branch."""

    name: str
    is_current: bool


@dataclass
class GitBranchListResult:
    """``git.list_branches``: the local branches and the checked-out one."""

    branches: list[GitBranchInfo] = field(default_factory=list)
    current: str = ""


#: ``git log`` format: fields split by \x01, commits by \x00.
LOG_FORMAT = "%H%x01%h%x01%an%x01%ae%x01%aI%x01%s%x00"
_STATUS_ORDER = (
    ("U", "conflict"),
    ("R", "renamed"),
    ("C", "copied"),
    ("D", "deleted"),
    ("A", "added"),
    ("M", "modified"),
    ("T", "typechange"),
    ("?", "untracked"),
)


def repo_dir_of(url: str) -> str:
    """The directory ``git clone url`` makes (the last part of the URL, ``.git`` off)."""
    cleaned = unquote(url.rstrip("/").removesuffix(".git"))
    cut = max(cleaned.rfind("/"), cleaned.rfind(":"))
    return cleaned[cut + 1 :] if 0 <= cut < len(cleaned) - 1 else cleaned


def commit_hash(output: str) -> str | None:
    """The short hash ``git commit`` prints (``[main abc1234] message``)."""
    found = re.search(r"\[[\w/.-]+(?:\s+\([^)]+\))?\s+([a-f0-9]+)\]", output)
    return found.group(1) if found else None


def parse_status(output: str) -> GitStatusResult:
    """``git status --porcelain=1 -b`` as a ``GitStatusResult``."""
    lines = [line for line in output.split("\n") if line.strip()]
    if not lines:
        return GitStatusResult()
    result = GitStatusResult()
    if lines[0].startswith("## "):
        _read_branch_line(lines[0][3:], result)
        lines = lines[1:]
    for line in lines:
        if len(line) < 3:
            continue
        index, work, path = line[0], line[1], line[3:]
        if line.startswith("?? "):
            result.files.append(GitFileStatus(path, "untracked", "?", "?", False))
            continue
        old, _, new = path.partition(" -> ")
        combined = index + work
        status = next((name for letter, name in _STATUS_ORDER if letter in combined), "unknown")
        result.files.append(
            GitFileStatus(
                path=new or old,
                status=status,
                index_status=index,
                work_tree_status=work,
                staged=index not in (" ", "?"),
                renamed_from=old if new else None,
            )
        )
    return result


def _read_branch_line(info: str, result: GitStatusResult) -> None:
    fresh = re.match(r"No commits yet on (.+)", info)
    if fresh:
        result.current_branch = fresh.group(1).split("...")[0]
        return
    branch, _, distance = info.partition(" [")
    if "detached" in branch or branch == "HEAD (no branch)":
        result.detached = True
    else:
        local, _, upstream = branch.partition("...")
        result.current_branch = local or None
        result.upstream = upstream or None
    for word, name in (("ahead", "ahead"), ("behind", "behind")):
        found = re.search(rf"{word} (\d+)", distance)
        if found:
            setattr(result, name, int(found.group(1)))


def parse_log(output: str) -> GitLogResult:
    """``git log --format=LOG_FORMAT`` as a ``GitLogResult``."""
    entries = []
    for record in filter(str.strip, output.split("\x00")):
        parts = record.split("\x01")
        if len(parts) >= 6:
            full, short, name, email, date, subject = parts[:6]
            entries.append(GitLogEntry(full.strip(), short, name, email, date, subject.strip()))
    return GitLogResult(entries)


def parse_branches(output: str) -> GitBranchListResult:
    """``git branch --format=%(refname:short)<TAB>%(HEAD)`` as a ``GitBranchListResult``."""
    result = GitBranchListResult()
    for line in filter(str.strip, output.split("\n")):
        name, _, head = line.partition("\t")
        name = name.strip()
        if not name or name.startswith("(HEAD detached"):
            continue
        current = head.strip() == "*"
        result.branches.append(GitBranchInfo(name, current))
        if current:
            result.current = name
    return result
