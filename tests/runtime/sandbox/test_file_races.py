"""A session that swaps a folder for a link while the runtime works on its files gets
nothing out of the host (``docker cp``'s CVE-2018-15664), and nothing setuid leaves it.

Each test runs the runtime's own operation (the functions its actions call) many times while
a process in the session exchanges a folder with a link to a host folder the test owns
(``renameat2(RENAME_EXCHANGE)`` in a loop, bounded by a deadline and counted); the host
folder holds a marker file. Nothing outside may be read or written: the marker keeps its
content, no entry appears beside it, and what the runtime reads never is the marker.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

from agentbay_local.contexts.actions import download_into_session, upload_from_session
from agentbay_local.contexts.files import ContextTree
from agentbay_local.contexts.sync_policy import ExtractRule
from agentbay_local.images import user_images
from agentbay_local.sandbox import Sandbox
from agentbay_local.sessions.desktop import read_screenshot
from tests.runtime.sandbox.conftest import Env

#: Times each operation runs at least against the swapping loop...
ROUNDS = 150
#: ... and times it must have started with each position of the swap in place.
MIN_SEEN = 20
#: Longest one operation is repeated in search of both positions.
RACE_DEADLINE_S = 60
#: COPY steps of the image build raced (each is a build step).
BUILD_ROUNDS = 60
#: Longest the swapping loop runs (it normally stops when the test says so).
LOOP_DEADLINE_S = 120
HOST_SECRET = b"HOST-SECRET: the session must never see or change this\n"
SESSION_TEXT = b"written by the session\n"
#: Files of the swapped folder, each also in the host folder (with HOST_SECRET).
SWAPPED_FILES = ("f", "a.txt", "screenshot_1.png")

#: The swapping loop, run inside the session with the session's own python (no C).
EXCHANGE_LOOP = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
first, second, stop, report, deadline_s = sys.argv[1:6]
end = time.monotonic() + float(deadline_s)
done = 0
open(report + ".started", "w").close()
while time.monotonic() < end and not os.path.exists(stop):
    # RENAME_EXCHANGE (2): both names stay, their entries trade places atomically.
    if libc.renameat2(-100, first.encode(), -100, second.encode(), 2) == 0:
        done += 1
with open(report + ".tmp", "w") as handle:
    handle.write(str(done))
os.rename(report + ".tmp", report)
"""


@dataclass
class Swapper:
    """A running exchange loop: ``folder`` (a real folder of the session) trades places
    with a link to a host folder, again and again."""

    env: Env
    box: Sandbox
    base: str  # session folder holding the swapped pair and the loop's files
    name: str  # the swapped folder's name in it

    def is_link(self) -> bool:
        """Whether the swapped name is the link right now (looked at by descriptor)."""
        with self.box.files() as session:
            found = session.lstat(f"{self.base}/{self.name}")
        return found is not None and stat.S_ISLNK(found.st_mode)

    def stop(self) -> int:
        """End the loop; answer how many exchanges it made."""
        self.env.sh(self.box, f"touch {self.base}/stop")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = self.env.sh(self.box, f"cat {self.base}/report 2>/dev/null || true")
            if text.strip().isdigit():
                return int(text)
            time.sleep(0.05)
        raise AssertionError("the exchange loop did not report")


@pytest.fixture
def host_dir(tmp_path: Path) -> Iterator[Path]:
    """A host folder outside the data dir with a marker file; checked untouched after."""
    folder = tmp_path / "host-owned"
    folder.mkdir()
    for name in SWAPPED_FILES:
        (folder / name).write_bytes(HOST_SECRET)
    yield folder
    assert sorted(os.listdir(folder)) == sorted(SWAPPED_FILES), "the host folder changed"
    for name in SWAPPED_FILES:
        assert (folder / name).read_bytes() == HOST_SECRET, f"{name} was changed"


def start_swapping(env: Env, box: Sandbox, base: str, name: str, host_dir: Path) -> Swapper:
    """Make ``base/name`` a folder holding SWAPPED_FILES (the session's), ``base/.swap`` a
    link to ``host_dir``, and exchange the two in a loop inside the session.

    The session also gets a folder of its own at ``host_dir``'s path, with the same files:
    the link then works inside the session too, so an operation that follows it as the
    session does succeeds (on the session's files); one that follows it in the host's
    view reaches the host's marker.
    """
    env.text(box, "write_file", path=f"{base}/.loop.py", content=EXCHANGE_LOOP)
    files = " ".join(
        f"{folder}/{file}" for folder in (f"{base}/{name}", host_dir) for file in SWAPPED_FILES
    )
    env.sh(
        box,
        f"mkdir -p {base}/{name} {host_dir} && echo '{SESSION_TEXT.decode().strip()}' "
        f"| tee {files} >/dev/null && ln -sfn {host_dir} {base}/.swap "
        f"&& rm -f {base}/stop {base}/report*",
    )
    env.sh(
        box,
        f"nohup python3 {base}/.loop.py {base}/{name} {base}/.swap {base}/stop "
        f"{base}/report {LOOP_DEADLINE_S} >/dev/null 2>&1 &",
    )
    deadline = time.monotonic() + 30
    while not env.sh(box, f"test -e {base}/report.started && echo yes || true").strip():
        if time.monotonic() > deadline:
            raise AssertionError("the exchange loop did not start")
        time.sleep(0.02)
    return Swapper(env, box, base, name)


def race(swapper: Swapper, operation: Callable[[int], None]) -> None:
    """Run ``operation(round)`` at least ROUNDS times while the loop swaps, and until each
    position of the swap was seen just before an operation MIN_SEEN times (the session's
    CPU share can pause the loop for a while: a burst of quick operations may otherwise
    all fall into one position)."""
    seen: Counter[bool] = Counter()
    deadline = time.monotonic() + RACE_DEADLINE_S
    number = 0
    try:
        while number < ROUNDS or min(seen[True], seen[False]) < MIN_SEEN:
            if time.monotonic() > deadline:
                break
            seen[swapper.is_link()] += 1
            operation(number)
            number += 1
    finally:
        exchanges = swapper.stop()
    assert min(seen[True], seen[False]) >= MIN_SEEN, f"no race: {seen}, {exchanges} exchanges"


@pytest.fixture
def box(env: Env) -> Iterator[Sandbox]:
    sandbox = env.session("race")
    yield sandbox
    env.release(sandbox)


def tolerated(call: Callable[[], None]) -> None:
    """Run one operation; a clean failure (the session's path changed under it) is fine."""
    with contextlib.suppress(OSError):
        call()


def test_uploads_never_read_host_files(
    env: Env, box: Sandbox, host_dir: Path, tmp_path: Path
) -> None:
    tree = ContextTree(tmp_path / "ctx-up")
    swapper = start_swapping(env, box, "/root/up", "d", host_dir)
    seen: set[bytes] = set()

    def upload(number: int) -> None:
        # A folder (a context sync) and a file (the SDK's download_file), alternately.
        if number % 2:
            path, key = "/root/up/d", PurePosixPath("m")
        else:
            path, key = "/root/up/d/f", PurePosixPath("m/f")
        tolerated(lambda: upload_from_session(box, path, tree, key, None, merge=False))
        for name in ("f", "a.txt"):
            fd = tree.open_file(PurePosixPath("m") / name)
            if fd is not None:
                with os.fdopen(fd, "rb") as handle:
                    seen.add(handle.read())

    race(swapper, upload)
    assert HOST_SECRET not in seen
    assert SESSION_TEXT in seen  # the uploads did take the session's files


def test_downloads_never_write_host_files(
    env: Env, box: Sandbox, host_dir: Path, tmp_path: Path
) -> None:
    tree = ContextTree(tmp_path / "ctx-down")
    for key in ("d/f", "d/new.txt", "d/sub/deep.txt"):
        writer = tree.open_writer(PurePosixPath(key))
        writer.write(b"from the context\n")
        writer.commit()
    swapper = start_swapping(env, box, "/root/down", "d", host_dir)

    def download(number: int) -> None:
        # A whole folder (context sync) and a single file (the SDK's upload_file).
        key, path = (
            (PurePosixPath("d"), "/root/down/d")
            if number % 2
            else (PurePosixPath("d/f"), "/root/down/d/f")
        )
        tolerated(lambda: download_into_session(box, tree, key, path, None, tmp_path / "s"))

    race(swapper, download)
    landed = env.sh(box, f"cat /root/down/d/new.txt {host_dir}/new.txt 2>/dev/null || true")
    assert "from the context" in landed  # the downloads did land, in the session


def test_archive_unpacking_never_writes_host_files(
    env: Env, box: Sandbox, host_dir: Path, tmp_path: Path
) -> None:
    tree = ContextTree(tmp_path / "ctx-zip")
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("a.txt", "unpacked\n")
        bundle.writestr("inner/b.txt", "unpacked\n")
    writer = tree.open_writer(PurePosixPath("d/a.zip"))
    writer.write(archive.read_bytes())
    writer.commit()
    swapper = start_swapping(env, box, "/root/zip", "d", host_dir)
    rule = ExtractRule(delete_source=True, into_current_folder=True)

    def unpack(_number: int) -> None:
        tolerated(
            lambda: download_into_session(
                box, tree, PurePosixPath("d"), "/root/zip/d", rule, tmp_path / "s"
            )
        )

    race(swapper, unpack)


def test_screenshot_urls_never_serve_host_files(env: Env, box: Sandbox, host_dir: Path) -> None:
    folder = ".agentbay-desktop-race"
    swapper = start_swapping(env, box, "/tmp", folder, host_dir)
    served: set[bytes | None] = set()
    race(swapper, lambda _n: served.add(read_screenshot(box, f"{folder}/screenshot_1.png")))
    assert HOST_SECRET not in served
    assert SESSION_TEXT in served


def test_image_build_copies_never_write_host_files(host_dir: Path, tmp_path: Path) -> None:
    """A RUN step leaves the exchange loop running; the COPY steps after it race it."""
    context = tmp_path / "build"
    (context / "payload").mkdir(parents=True)
    for name in (*SWAPPED_FILES, "new.txt"):
        (context / "payload" / name).write_text("from the build\n")
    (context / "loop.py").write_text(EXCHANGE_LOOP)
    copies = ["COPY payload/ /app/d/", "COPY payload/f /app/d/f"] * (BUILD_ROUNDS // 2)
    start = (
        f"mkdir -p /app/d {host_dir} && echo session | tee /app/d/f {host_dir}/f >/dev/null "
        f"&& ln -sfn {host_dir} /app/.swap && (nohup python3 /app/loop.py /app/d /app/.swap "
        f"/app/stop /app/report {LOOP_DEADLINE_S} >/dev/null 2>&1 &) "
        "&& for i in $(seq 3000); do [ -e /app/report.started ] && break; sleep 0.01; done"
    )
    stop = (
        "touch /app/stop && for i in $(seq 3000); do [ -e /app/report ] && break; sleep 0.01; "
        "done && echo made $(cat /app/report) exchanges"
    )
    recipe = [
        "FROM code_latest",
        "COPY loop.py /app/loop.py",
        f"RUN {start}",
        *copies,
        f"RUN {stop}",
    ]
    (context / "Imagefile").write_text("\n".join(recipe) + "\n")
    output: list[str] = []
    data_dir = tmp_path / "data"
    user_images.build_image(
        "race-image", imagefile_path=context / "Imagefile", data_dir=data_dir, output=output.append
    )
    try:
        counted = re.search(r"^made ([0-9]+) exchanges$", "".join(output), re.MULTILINE)
        assert counted is not None, "".join(output)
        exchanges = int(counted[1])
        assert exchanges > BUILD_ROUNDS, f"only {exchanges} exchanges: no race happened"
    finally:
        user_images.remove_image("race-image", data_dir)


def test_hostname_files_are_written_inside_the_session(
    env: Env, box: Sandbox, host_dir: Path
) -> None:
    """``/etc`` cannot be swapped (overlayfs refuses to rename a lower folder), so the
    session replaces the files themselves with links to host files between writes."""
    env.sh(box, f"ln -sfn {host_dir}/f /etc/hostname && ln -sfn {host_dir}/a.txt /etc/hosts")
    box.set_hostname("renamed")
    assert env.sh(box, "cat /etc/hostname") == "renamed\n"
    assert "127.0.1.1\trenamed" in env.sh(box, "cat /etc/hosts")


def test_nothing_setuid_leaves_a_session(env: Env, box: Sandbox, tmp_path: Path) -> None:
    # A real setuid, setgid program with a file capability (CAP_SETUID), a FIFO and a hard
    # link, as a session's root makes them in a folder of its own.
    capability = (  # VFS_CAP_REVISION_2 with CAP_SETUID (7) permitted and effective
        "import os, struct; os.setxattr('/root/suid/id', 'security.capability', "
        "struct.pack('<IIIII', 0x02000001, 1 << 7, 0, 0, 0)); print('capability set')"
    )
    made = env.sh(
        box,
        "mkdir -p /root/suid && cp /usr/bin/id /root/suid/id && chmod 6755 /root/suid/id "
        f'&& python3 -c "{capability}" && mkfifo /root/suid/fifo '
        "&& ln /root/suid/id /root/suid/hard && stat -c '%n %a %h %F' /root/suid/*",
    )
    assert "capability set" in made and "/root/suid/id 6755 2 regular file" in made, made
    tree = ContextTree(tmp_path / "ctx-suid")
    upload_from_session(box, "/root/suid", tree, PurePosixPath("."), None, merge=False)
    stored = tree.current
    assert sorted(os.listdir(stored)) == ["hard", "id"]  # the FIFO stayed behind
    for name in ("hard", "id"):
        info = os.lstat(stored / name)
        assert stat.S_IMODE(info.st_mode) == 0o755, oct(info.st_mode)
        assert (info.st_uid, info.st_gid) == (os.geteuid(), os.getegid())
        assert info.st_nlink == 1  # a copy, linked to nothing of the session's
        assert "security.capability" not in os.listxattr(stored / name)
    if os.geteuid() != 0:
        return  # (switching to another local user below needs root)
    # Another local user runs the stored program: it runs as that user, gaining nothing.
    shared = Path(tempfile.mkdtemp(prefix="agentbay-suid-"))
    try:
        shared.chmod(0o755)
        os.link(stored / "id", shared / "id")  # the stored file itself, reachable by nobody
        ran = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(shared / "id")],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    finally:
        shutil.rmtree(shared)
    assert ran.startswith("uid=65534") and "euid=" not in ran and "egid=" not in ran, ran
