"""``session.git`` (0.22's Git service) end to end: real git in a real session, sync and
async. Remotes are paths inside the session (no network)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from agentbay import AgentBay, AsyncAgentBay, Config
from agentbay.exceptions import GitError, GitNotARepoError
from agentbay.session import Session
from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.conftest import API_KEY

REPO = "/root/repo"


@pytest.fixture(scope="module")
def session(bay: AgentBay) -> Iterator[Session]:
    created = bay.create()
    assert created.success, created.error_message
    probe = created.session.command.execute_command("git --version", 5000)
    if not probe.success:
        created.session.delete()
        pytest.skip(f"the session image has no git: {probe.error_message}")
    yield created.session
    created.session.delete()


def test_a_repository_from_init_to_log(session: Session) -> None:
    git = session.git
    assert git.init(REPO, initial_branch="main").path == REPO
    git.configure_user(REPO, "Agent", "agent@example.com", scope="local")
    assert git.get_config(REPO, "user.name", scope="local") == "Agent"
    assert git.get_config(REPO, "no.such-key", scope="local") is None
    assert session.file_system.write_file(f"{REPO}/a.txt", "one\n").success
    status = git.status(REPO)
    assert (status.current_branch, status.untracked_count) == ("main", 1)
    git.add(REPO)
    assert git.status(REPO).staged_count == 1
    first = git.commit(REPO, "first commit")
    assert first.commit_hash and len(first.commit_hash) >= 7
    assert git.status(REPO).is_clean
    session.file_system.write_file(f"{REPO}/a.txt", "two\n")
    changed = git.status(REPO)
    assert [(f.path, f.status, f.staged) for f in changed.files] == [("a.txt", "modified", False)]
    git.restore(REPO, ["a.txt"])
    assert git.status(REPO).is_clean
    git.commit(REPO, "empty one", allow_empty=True, author_name="Other", author_email="o@x")
    log = git.log(REPO)
    assert [e.message for e in log.entries] == ["empty one", "first commit"]
    assert log.entries[0].author_name == "Other" and log.entries[1].hash.startswith(
        first.commit_hash
    )
    assert len(git.log(REPO, max_count=1).entries) == 1
    git.reset(REPO, mode="hard", target="HEAD~1")
    assert [e.message for e in git.log(REPO).entries] == ["first commit"]
    with pytest.raises(ValueError, match="Invalid reset mode"):
        git.reset(REPO, mode="sideways")


def test_branches_remotes_and_clone(session: Session) -> None:
    git = session.git
    git.create_branch(REPO, "feature")
    assert git.list_branches(REPO).current == "feature"
    git.checkout_branch(REPO, "main")
    git.create_branch(REPO, "spare", checkout=False)
    branches = git.list_branches(REPO)
    assert {b.name for b in branches.branches} == {"main", "feature", "spare"}
    assert branches.current == "main"
    git.delete_branch(REPO, "spare")
    assert git.remote_get(REPO, "origin") is None
    git.remote_add(REPO, "origin", "/root/elsewhere.git")
    git.remote_add(REPO, "origin", REPO, overwrite=True)
    assert git.remote_get(REPO, "origin") == REPO
    cloned = git.clone(REPO, path="/root/copy", branch="main", depth=1)
    assert cloned.path == "/root/copy"
    assert [e.message for e in git.log("/root/copy").entries] == ["first commit"]
    git.pull("/root/copy")  # nothing new, and no network: the remote is a path


def test_failures_raise_what_they_are(session: Session) -> None:
    with pytest.raises(GitNotARepoError) as not_repo:
        session.git.status("/tmp")
    assert not_repo.value.exit_code != 0 and "not a git repository" in not_repo.value.stderr
    with pytest.raises(GitError, match=r"Git checkout_branch failed \(exit code"):
        session.git.checkout_branch(REPO, "no-such-branch")


def test_async_git(runtime: EmbeddedRuntime) -> None:
    async def main() -> tuple[str | None, bool]:
        cfg = Config(endpoint=runtime.endpoint, timeout_ms=60000)
        async with AsyncAgentBay(api_key=API_KEY, cfg=cfg) as bay:
            session = (await bay.create()).session
            async with session:
                await session.git.init("/root/r", initial_branch="trunk")
                status = await session.git.status("/root/r")
                return status.current_branch, status.is_clean

    assert asyncio.run(main()) == ("trunk", True)
