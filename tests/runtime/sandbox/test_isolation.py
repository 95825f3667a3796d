"""Real escape attempts from inside a session: none may reach the host or another session."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentbay_local.sandbox import Sandbox, layers, userns
from agentbay_local.sandbox.inside import jail
from agentbay_local.sandbox.session_files import SessionRoot
from tests.runtime.sandbox.conftest import Env
from tests.support.paths import REPO


@pytest.fixture(scope="module")
def pair(env: Env) -> Iterator[tuple[Sandbox, Sandbox]]:
    """Two sessions of the same manager."""
    first, second = env.session("iso"), env.session("iso")
    yield first, second
    env.release(first)
    env.release(second)


async def _hostname_on_loop() -> str:
    return socket.gethostname()  # on the thread that runs the manager's event loop


def _cmdline(pid: int) -> bytes:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    return b""


def _fails(env: Env, box: Sandbox, command: str) -> str:
    """Run a command that must fail; returns its error text."""
    return env.error(box, "shell", command=command, timeout_ms=10000)


def _host_hosts() -> str:
    """The host's /etc/hosts ("" where it has none, as a minimal root filesystem)."""
    try:
        return Path("/etc/hosts").read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def test_writes_stay_in_the_session(env: Env, pair: tuple[Sandbox, Sandbox]) -> None:
    first, second = pair
    marker = f"agentbay-iso-{os.getpid()}"
    env.sh(first, f"echo inside > /etc/{marker} && echo inside > /tmp/{marker}")
    env.sh(first, "echo x >> /etc/hosts")  # the session's own (written at create)
    # The image's system files are the session root's, in both modes (its own copy).
    env.sh(first, f"echo {marker}:x:4242:4242::/:/bin/sh >> /etc/passwd")
    assert marker not in env.sh(second, "cat /etc/passwd")
    assert env.sh(first, f"cat /etc/{marker} /tmp/{marker}") == "inside\ninside\n"
    assert not os.path.exists(f"/etc/{marker}") and not os.path.exists(f"/tmp/{marker}")
    assert not _host_hosts().endswith("x\n")
    assert "No such file" in _fails(env, second, f"cat /etc/{marker}")
    assert "No such file" in _fails(env, second, f"cat /tmp/{marker}")
    # The runtime sees the session's files: through the overlay mounted on the host (root),
    # or through the tool server's root (rootless).
    assert (first.root_path / "etc" / marker).read_text() == "inside\n"


def test_scratch_dirs_start_empty_and_stay_private(
    env: Env, pair: tuple[Sandbox, Sandbox], tmp_path: Path
) -> None:
    first, _ = pair
    host_secret = Path("/tmp") / f"agentbay-host-secret-{os.getpid()}"
    host_secret.write_text("host only")
    try:
        for scratch in ("/tmp", "/var/tmp"):
            assert env.sh(first, f"ls -A {scratch} | grep -c agentbay-host-secret || true") in (
                "0\n",
                "",
            )
            assert env.sh(first, f"stat -c %a {scratch}") == "1777\n"
        assert "No such file" in _fails(env, first, f"cat {host_secret}")
        # The runtime's own pytest directories under /tmp are not there either.
        assert "No such file" in _fails(env, first, f"ls {tmp_path}")
        assert env.sh(first, "stat -c %a /var") == f"{os.stat('/var').st_mode & 0o7777:o}\n"
    finally:
        host_secret.unlink()


def test_the_hosts_data_is_not_in_the_session(env: Env, pair: tuple[Sandbox, Sandbox]) -> None:
    first, _ = pair
    secret = Path.home() / f"agentbay-host-secret-{os.getpid()}"  # /root, or /home/...
    secret.write_text("host only")
    try:
        assert "No such file" in _fails(env, first, f"cat {secret}")
        assert env.image.tree is not None
        for private in ("/root", "/home", "/mnt", "/media", "/srv"):
            # The image's own (a fresh Debian's /root has its shell's dotfiles), no more.
            own = "".join(f"{name}\n" for name in sorted(os.listdir(f"{env.image.tree}{private}")))
            assert env.sh(first, f"ls -A {private}") == own, private
        # Top-level entries that are not part of a Linux system (e.g. this checkout's /work)
        # do not exist at all.
        for name in sorted(set(os.listdir("/")) - layers.SYSTEM_ENTRIES):
            assert "No such file" in _fails(env, first, f"ls -d /{name}"), name
        # The tool server's own code and interpreter are at fixed paths, read-only.
        code = jail.FIXED_CODE
        assert env.sh(first, f"test -f {code}/toolserver.py && echo shown") == "shown\n"
        assert "Read-only" in _fails(env, first, f"touch {code}/x")
        assert "No such file" in _fails(env, first, f"ls {REPO}")
        assert env.text(first, "run_code", code="print(6 * 7)", language="python") == "42\n"
    finally:
        secret.unlink()


def test_data_dir_with_other_sessions_is_hidden(env: Env, pair: tuple[Sandbox, Sandbox]) -> None:
    first, second = pair
    env.text(first, "write_file", path="/root/secret.txt", content="mine")
    data_dir = env.manager.data_dir
    assert env.sh(second, f"ls -A {data_dir} | wc -l") == "0\n"
    for path in (
        first.session_dir / "upper" / "root" / "secret.txt",
        first.root_path / "root" / "secret.txt",
        data_dir / "sessions",
    ):
        assert "No such file" in _fails(env, second, f"cat {path} || ls {path}")
    assert "ENOENT" in env.error(second, "read_file", path=str(first.root_path / "root/secret.txt"))
    # Read-only and empty, or absent altogether when it lives under the private /tmp.
    refused = _fails(env, second, f"touch {data_dir}/x")
    assert "Read-only" in refused or "No such file" in refused
    assert "umount" in _fails(env, second, f"umount {data_dir}")
    # The other session's processes are not in this one's /proc, so neither is its root.
    assert first.pid is not None
    assert "No such file" in _fails(env, second, f"ls /proc/{first.pid}/root/root")


def test_host_processes_are_invisible_and_unkillable(
    env: Env, pair: tuple[Sandbox, Sandbox]
) -> None:
    first, _ = pair
    sleeper = subprocess.Popen(["sleep", "300"])
    try:
        assert env.sh(first, "cat /proc/1/comm") != "systemd\n"
        pids = env.sh(first, "ls /proc | grep -E '^[0-9]+$'").split()
        assert len(pids) < 10, pids
        assert str(sleeper.pid) not in pids
        assert "No such process" in _fails(env, first, f"kill -9 {sleeper.pid}")
        env.sh(first, "kill -9 -1 || true")  # every process it may signal: only its own
        assert sleeper.poll() is None
        assert env.sh(first, "echo survived") == "survived\n"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_tool_server_cannot_be_inspected_or_killed(env: Env, pair: tuple[Sandbox, Sandbox]) -> None:
    first, _ = pair
    # Root inside may list PID 1's descriptors, but not follow or open them.
    assert "Permission denied" in _fails(env, first, "ls -l /proc/1/fd")
    for path in ("/proc/1/environ", "/proc/1/mem", "/proc/1/root/etc/hostname"):
        assert "Permission denied" in _fails(env, first, f"cat {path}")
    env.sh(first, "kill -9 1; kill -TERM 1; kill -INT 1; true")
    assert env.sh(first, "echo alive") == "alive\n"


def test_no_mounting_devices_or_kernel_knobs(env: Env, pair: tuple[Sandbox, Sandbox]) -> None:
    first, _ = pair
    root_device = os.stat("/").st_dev
    major, minor = os.major(root_device), os.minor(root_device)
    assert "Operation not permitted" in _fails(env, first, f"mknod /tmp/disk b {major} {minor}")
    _fails(env, first, "mkdir -p /mnt/h && mount /dev/vda /mnt/h")
    _fails(env, first, "mount -t ext4 /dev/root /mnt/h")
    assert "permission denied" in _fails(env, first, "mount -t proc proc /mnt/h").lower()
    _fails(env, first, "unshare -m true")
    _fails(env, first, "hostname evil")
    assert env.sh(first, "ls /dev | sort | tr '\\n' ' '") == (
        "fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero "
    )
    # Read-only: tested with access(2), never by writing (sysrq-trigger would act on the host).
    for path in ("/proc/sysrq-trigger", "/proc/sys/kernel/hostname", "/proc/sys/vm/drop_caches"):
        assert env.sh(first, f"[ -w {path} ] && echo writable || echo read-only") == "read-only\n"
    assert "Read-only" in _fails(env, first, "echo 1 > /proc/sys/kernel/hostname")
    assert "Read-only" in _fails(env, first, "touch /sys/kernel/x")
    assert env.sh(first, "ls /sys/fs/cgroup | wc -l") == "0\n"


def test_reduced_capabilities_and_no_new_privileges(
    env: Env, pair: tuple[Sandbox, Sandbox]
) -> None:
    first, _ = pair
    status = dict(
        line.split(":\t", 1)
        for line in env.sh(first, "cat /proc/self/status").splitlines()
        if ":\t" in line
    )
    keep = {0, 1, 3, 4, 5, 6, 7, 8, 10, 31}  # no NET_RAW, MKNOD, SYS_CHROOT, AUDIT_WRITE
    expected = f"{sum(1 << cap for cap in keep):016x}"
    for key in ("CapEff", "CapPrm", "CapBnd"):
        assert status[key].strip() == expected, key
    assert status["CapInh"].strip() == "0" * 16 and status["CapAmb"].strip() == "0" * 16
    assert status["NoNewPrivs"].strip() == "1"
    assert env.sh(first, "id -u") == "0\n"


def test_hostname_and_namespaces(env: Env, pair: tuple[Sandbox, Sandbox]) -> None:
    first, second = pair
    assert env.sh(first, "hostname") == f"{first.session_id}\n"
    assert env.sh(second, "hostname") == f"{second.session_id}\n"
    assert socket.gethostname() not in (first.session_id, second.session_id)
    # The hostname is set from the manager's own thread, which joins the session's UTS
    # namespace for it: that thread must be back in the runtime's afterwards.
    assert env.run(_hostname_on_loop()) == socket.gethostname()
    assert env.sh(first, "readlink /proc/self/ns/pid") != env.sh(
        second, "readlink /proc/self/ns/pid"
    )
    # IPC: a SysV segment of one session is invisible in the other.
    env.sh(first, "ipcmk -M 4096 >/dev/null")
    assert env.sh(second, "ipcs -m | grep -c 0x || true") == "0\n"


def test_etc_hostname_and_hosts_name_the_session(env: Env, pair: tuple[Sandbox, Sandbox]) -> None:
    """As on a cloud machine: `hostname` and /etc/hostname agree, /etc/hosts resolves it."""
    first, second = pair
    for box in pair:
        assert env.sh(box, "cat /etc/hostname") == env.sh(box, "hostname") == f"{box.session_id}\n"
        resolved = env.sh(box, 'getent hosts "$(hostname)"').split()
        assert resolved == ["127.0.1.1", box.session_id]
        code = "import socket; print(socket.gethostbyname(socket.gethostname()))"
        assert env.sh(box, f"python3 -c '{code}'") == "127.0.1.1\n"
    assert first.session_id not in env.sh(second, "cat /etc/hosts")
    assert first.session_id not in _host_hosts()  # the host's file is untouched


def test_the_runtime_resolves_session_links_inside_the_session(
    env: Env, pair: tuple[Sandbox, Sandbox]
) -> None:
    first, _ = pair
    env.sh(first, "mkdir -p /root/hp && ln -sfn /etc /root/hp/abs && ln -sfn ../../.. /root/hp/up")
    env.sh(first, "echo in-session > /tmp/hp-mark && ln -sfn loop /root/hp/loop")

    def read(session: SessionRoot, path: str) -> str:
        with session.read_file(path) as handle:
            return handle.read().decode()

    with first.files() as session:
        assert read(session, "/root/hp/abs/hostname") == f"{first.session_id}\n"
        assert read(session, "/root/hp/up/root/hp/up/etc/hostname") == f"{first.session_id}\n"
        assert read(session, "../../../etc/../tmp/hp-mark") == "in-session\n"
        assert session.stat("/root/hp/missing/file") is None
        with pytest.raises(OSError):
            read(session, "/root/hp/loop/x")


@pytest.mark.unisolated
def test_config_links_into_host_tmpfs_are_copied(tmp_path: Path) -> None:
    """systemd-resolved's /etc/resolv.conf -> /run/... would leave a session without DNS."""
    from agentbay_local.sandbox.inside import jail

    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "resolv.conf").symlink_to("../run/systemd/resolve/stub-resolv.conf")
    (tmp_path / "etc" / "hosts").symlink_to("/etc/hosts-elsewhere")
    (tmp_path / "etc" / "hosts-elsewhere").write_text("kept")
    jail._copy_dangling_config(str(tmp_path))
    copied = tmp_path / "etc" / "resolv.conf"
    assert not copied.is_symlink()
    assert copied.read_bytes() == Path("/etc/resolv.conf").read_bytes()
    assert (tmp_path / "etc" / "hosts").is_symlink()  # resolvable inside: left alone


def test_nothing_of_a_session_is_the_hosts_root(env: Env, pair: tuple[Sandbox, Sandbox]) -> None:
    """Every process of a session runs under ids of its own user namespace and every file
    it makes belongs to them, never to the host's root: rootless, the runtime's user (or
    its subordinate ids); as root, the range ``userns.root_mode_ids`` gives it."""
    first, _ = pair
    env.sh(
        first,
        "mkdir -p /root/own /var/tmp/own /opt/own && touch /root/own/f /tmp/f /etc/own-f"
        " && (chown 1000:1000 /root/own/f || true)"
        " && (sleep 600 >/dev/null 2>&1 &) && echo done",
    )
    assert env.sh(first, "id -u; cat /proc/self/uid_map").split()[:2] == ["0", "0"]
    # Not the runtime's own helper that gives the session its outbound network from the
    # host's side (slirp4netns: root mode runs it as root, sandboxed by its own seccomp
    # filter; nothing in the session can signal or trace it).
    pids = [pid for pid in first.pids() if b"slirp4netns" not in _cmdline(pid)]
    assert pids
    for pid in pids:
        with open(f"/proc/{pid}/status") as status:
            ids = {
                line.split(":")[0]: line.split()[1:]
                for line in status
                if line.startswith(("Uid:", "Gid:"))
            }
        assert "0" not in ids["Uid"] + ids["Gid"], (pid, ids, _cmdline(pid))
    made = ["root/own/f", "root/own", "tmp/f", "etc/own-f", "var/tmp/own", "opt/own"]
    for name in made:
        info = os.lstat(first.root_path / name)
        assert 0 not in (info.st_uid, info.st_gid), (name, info.st_uid, info.st_gid)
    if env.manager.rootless:
        owners = set()
        for directory, subdirs, files in os.walk(first.session_dir):
            for name in [*subdirs, *files]:
                with contextlib.suppress(FileNotFoundError):
                    info = os.lstat(os.path.join(directory, name))
                    owners.add((info.st_uid, info.st_gid))
        assert owners and all(0 not in owner for owner in owners), owners
        assert (os.getuid(), os.getgid()) in owners
    else:
        base = userns.root_mode_ids().start
        assert os.lstat(first.root_path / "root/own/f").st_uid == base + 1000
        assert os.lstat(first.root_path / "tmp/f").st_uid == base
