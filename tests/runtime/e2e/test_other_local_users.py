"""Another local user against a running ``agentbay local serve``, in the mode the suite runs
in (root or rootless): the data dir (its database holds every session's token) is closed
to it, and the API keys appear in no command line or environment of the runtime's processes.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentbay_local.sandbox import probe
from tests.runtime.e2e.api import Api
from tests.support.other_user import other_user_problem, run_as_other_user
from tests.support.spawn import free_port, serve_argv, stop_serve, wait_until_listening

KEYS_ENV = "AGENTBAY_LOCAL_API_KEYS"


@dataclass
class Served:
    process: subprocess.Popen[str]
    data_dir: Path
    env_key: str
    file_key: str
    api: Api
    session: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    problem = probe.isolation_problem()
    if problem is not None:
        pytest.skip(f"isolated sandboxes do not work here: {problem}")
    data_dir = tmp_path_factory.mktemp("private") / "data"
    data_dir.mkdir()
    os.chmod(data_dir, 0o755)  # as a user's umask may leave it: serve makes it private
    env_key, file_key = (f"akm-{secrets.token_urlsafe(24)}" for _ in range(2))
    port = free_port()
    process = subprocess.Popen(
        serve_argv(data_dir, port, file_key, "--pool-size", "1", "--network", "none"),
        env={**os.environ, KEYS_ENV: env_key},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_listening(process, port)
        api = Api(f"http://127.0.0.1:{port}", env_key)
        yield Served(process, data_dir, env_key, file_key, api, api.create_session())
    finally:
        stop_serve(process)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_data_dir_and_the_database_are_the_runtime_users_only(served: Served) -> None:
    assert _mode(served.data_dir) == 0o700
    database = served.data_dir / "state.sqlite3"
    # In WAL mode both side files exist while the runtime runs; they hold recent writes.
    for path in (
        database,
        database.with_name("state.sqlite3-wal"),
        served.data_dir / "runtime.lock",
    ):
        assert _mode(path) == 0o600, path
    assert _mode(database.with_name("state.sqlite3-shm")) == 0o600


def test_another_user_reads_neither_the_database_nor_a_session_token(served: Served) -> None:
    problem = other_user_problem()
    if problem is not None:
        pytest.skip(f"no other local user to act as: {problem}")
    database = served.data_dir / "state.sqlite3"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        (token,) = db.execute(
            "SELECT token FROM sessions WHERE id = ?", (served.session,)
        ).fetchone()
    assert token
    for argv in (
        ["cat", str(database)],
        ["cat", f"{database}-wal"],
        ["ls", str(served.data_dir)],
        ["grep", "-rlF", "-e", token, str(served.data_dir)],  # a token may start with "-"
    ):
        attempt = run_as_other_user(argv)
        assert attempt.returncode != 0, (argv, attempt.stdout)
        assert "Permission denied" in attempt.stderr, (argv, attempt.stderr)
        assert token not in attempt.stdout
    # The runtime's environment is the kernel's to guard (/proc/<pid>/environ is 0400).
    environ = run_as_other_user(["cat", f"/proc/{served.process.pid}/environ"])
    assert environ.returncode != 0 and served.env_key not in environ.stdout


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parent = int(text.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, []))
    return found


def test_no_process_of_the_runtime_shows_a_key(served: Served) -> None:
    # Both keys work: the one from the environment and the one from the file.
    assert Api(served.api.endpoint, served.file_key).call("GetLabel", SessionId=served.session)
    processes = _descendants(served.process.pid)
    assert len(processes) >= 3, processes  # serve, its watchdog, the session's tool server
    secrets_seen, read = [], 0
    for pid in processes:
        for name in ("cmdline", "environ"):
            try:
                data = Path(f"/proc/{pid}/{name}").read_bytes()
            except (PermissionError, ProcessLookupError, FileNotFoundError):
                continue  # gone, or a session process this user may not inspect
            read += 1
            for key in (served.env_key, served.file_key):
                if key.encode() in data:
                    secrets_seen.append((pid, name))
    assert read >= 2 * 3
    assert not secrets_seen


def test_a_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    argv = serve_argv(tmp_path / "data", free_port(), "akm-shared-key")
    key_file = Path(argv[argv.index("--api-key-file") + 1])
    os.chmod(key_file, 0o644)
    finished = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 2
    assert "readable by other users" in finished.stderr and "chmod 600" in finished.stderr
    assert "akm-shared-key" not in finished.stderr
