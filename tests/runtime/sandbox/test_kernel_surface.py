"""The kernel a session reaches: real system calls from inside, refused as Docker would
(or more), and the keyring, capabilities and /proc of a hardened container."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import re
from pathlib import Path

import pytest

from agentbay_local.sandbox import Sandbox
from agentbay_local.sandbox.inside import seccomp
from agentbay_local.sandbox.inside.syscall_numbers import NUMBERS
from tests.runtime.sandbox.conftest import Env
from tests.support.system_parts import skip_unless_installed

#: Each attempt: the call, its arguments as a Python expression over ``buf`` (a zeroed
#: 4 KiB buffer) and ``s`` (bytes -> char *), and the errno the filter must answer. The
#: arguments are real ones: without the filter these calls would do their work (or fail
#: for want of a capability, which the filter answers first).
ATTEMPTS = {
    "io_uring_setup": ("8, buf", errno.ENOSYS),
    "add_key": ('s(b"user"), s(b"agentbay-test"), s(b"secret"), 6, -3', errno.EPERM),
    "keyctl": ("0, -3, 1", errno.EPERM),  # KEYCTL_GET_KEYRING_ID of the session keyring
    "request_key": ('s(b"user"), s(b"agentbay-host-key"), None, 0', errno.EPERM),
    "perf_event_open": ("buf, 0, -1, -1, 0", errno.EPERM),
    "bpf": ("0, buf, 72", errno.EPERM),  # BPF_MAP_CREATE
    "userfaultfd": ("0o2000000", errno.EPERM),
    "unshare": ("0x10000000", errno.EPERM),  # CLONE_NEWUSER
    "clone": ("0x10000000 | 17, 0, 0, 0, 0", errno.EPERM),  # CLONE_NEWUSER | SIGCHLD
    "clone3": ("buf, 88", errno.ENOSYS),
    "init_module": ('buf, 64, s(b"")', errno.EPERM),
    "finit_module": ('0, s(b""), 0', errno.EPERM),
    "kexec_load": ("0, 0, 0, 0", errno.EPERM),
    "clock_settime": ("0, buf", errno.EPERM),
    "settimeofday": ("buf, 0", errno.EPERM),
    "swapon": ('s(b"/tmp/swapfile"), 0', errno.EPERM),
    "swapoff": ('s(b"/tmp/swapfile")', errno.EPERM),
    "mount": ('s(b"none"), s(b"/mnt"), s(b"tmpfs"), 0, 0', errno.EPERM),
    "setns": ("0, 0", errno.EPERM),
    "open_tree": ('-100, s(b"/"), 1', errno.EPERM),
    "socket": ("40, 1, 0", errno.EPERM),  # AF_VSOCK
    "personality": ("0x0040000", errno.EPERM),  # ADDR_NO_RANDOMIZE
}
#: Calls the filter lets through, run the same way: the probe itself works.
ALLOWED = {"getpid": "", "uname": "buf", "socket": "1, 1, 0", "personality": "0xffffffff"}

PROBE = """
import ctypes, json
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(4096)
s = ctypes.c_char_p
out = {}
for label, (nr, args) in json.loads(CALLS).items():
    values = eval("(" + args + ",)") if args else ()
    ctypes.set_errno(0)
    values = [ctypes.c_long(v) if type(v) is int else v for v in values]
    result = libc.syscall(ctypes.c_long(nr), *values)
    out[label] = [result, ctypes.get_errno()]
print(json.dumps(out))
"""


def _column() -> int:
    machine = os.uname().machine
    if machine not in seccomp.ARCHITECTURES:
        pytest.skip(f"no seccomp filter for {machine}: sessions refuse to start there")
    return seccomp.ARCHITECTURES[machine][1]


def _run_calls(env: Env, box: Sandbox, calls: dict[str, tuple[str, str]]) -> dict[str, list[int]]:
    """Make each ``label: (name, arguments)`` call inside the session; ``[result, errno]``."""
    column = _column()
    numbers = {}
    for label, (name, args) in calls.items():
        number = NUMBERS[name][column]
        assert number is not None, name
        numbers[label] = (number, args)
    code = f"CALLS = {json.dumps(json.dumps(numbers))}\n" + PROBE
    return dict(json.loads(env.text(box, "run_code", code=code, language="python")))


def test_dangerous_calls_are_refused(env: Env, box: Sandbox) -> None:
    results = _run_calls(env, box, {name: (name, args) for name, (args, _) in ATTEMPTS.items()})
    for name, (_, expected) in ATTEMPTS.items():
        assert results[name] == [-1, expected], (name, errno.errorcode.get(results[name][1]))
    allowed = _run_calls(env, box, {f"ok-{n}": (n, args) for n, args in ALLOWED.items()})
    for label, (result, _) in allowed.items():
        assert result >= 0, label
    # Newer calls than the filter knows answer ENOSYS, so programs fall back.
    unknown = env.text(
        box,
        "run_code",
        code="import ctypes; libc = ctypes.CDLL(None, use_errno=True); "
        f"print(libc.syscall({seccomp.NEWEST + 10}), ctypes.get_errno())",
        language="python",
    )
    assert unknown == f"-1 {errno.ENOSYS}\n"


def test_programs_still_work_under_the_filter(env: Env, box: Sandbox) -> None:
    # fork/exec (clone3 falls back to clone), threads, pipes, sockets, a new process group.
    script = (
        "import subprocess, threading, socket; t = threading.Thread(target=print, args=('t',));"
        " t.start(); t.join(); a, b = socket.socketpair(); a.send(b'p'); print(b.recv(1));"
        " print(subprocess.run(['sh', '-c', 'echo $((6*7)) | cat'], capture_output=True,"
        " text=True, start_new_session=True).stdout, end='')"
    )
    assert env.text(box, "run_code", code=script, language="python") == "t\nb'p'\n42\n"
    assert env.sh(box, "unshare --user true 2>&1 || echo refused").strip().endswith("refused")


def test_sessions_share_no_keys(env: Env, tmp_path: Path) -> None:
    """A key stored by the host (or by another session) is out of reach: the keyring
    calls are refused, /proc/keys shows nothing."""
    libc = ctypes.CDLL(None, use_errno=True)
    payload = b"host-secret"
    # KEY_SPEC_USER_KEYRING: the keyring every process of this uid shares.
    key = libc.syscall(
        ctypes.c_long(NUMBERS["add_key"][_column()]),
        b"user",
        b"agentbay-host-key",
        payload,
        ctypes.c_size_t(len(payload)),
        ctypes.c_int(-4),
    )
    if key < 0:
        pytest.skip(f"the host refuses keys here too: {os.strerror(ctypes.get_errno())}")
    first, second = env.session("keys"), env.session("keys")
    try:
        stored = _run_calls(env, first, {"add": ("add_key", ATTEMPTS["add_key"][0])})
        assert stored["add"] == [-1, errno.EPERM]
        search = '2, -4, s(b"user"), s(b"agentbay-host-key"), 0'  # KEYCTL_SEARCH
        read = f"11, {key}, buf, 4096"  # KEYCTL_READ of the host's key by its serial
        for box in (first, second):
            found = _run_calls(env, box, {"search": ("keyctl", search), "read": ("keyctl", read)})
            assert found == {"search": [-1, errno.EPERM], "read": [-1, errno.EPERM]}
            assert env.sh(box, "cat /proc/keys; echo end") == "end\n"
    finally:
        libc.syscall(ctypes.c_long(NUMBERS["keyctl"][_column()]), 3, ctypes.c_long(key))  # revoke
        env.release(first)
        env.release(second)


def test_proc_cmdline_hides_the_boot_arguments(env: Env, box: Sandbox) -> None:
    with open("/proc/cmdline") as handle:
        host = handle.read().strip()
    assert host, "the host's /proc/cmdline is empty: nothing to compare"
    assert env.sh(box, "cat /proc/cmdline; echo end") == "end\n"


def test_filter_matches_the_kernel_headers() -> None:
    """The numbers the filter uses are the kernel's (checked where headers are installed)."""
    column = _column()
    if column == 0:
        header = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
        pattern = r"#define __NR_(\w+) (\d+)"
    else:  # arm64 takes the generic table; the 64-bit names of its __NR3264_ entries
        header = Path("/usr/include/asm-generic/unistd.h")
        pattern = r"#define __NR(?:3264)?_(\w+) (\d+)"
    skip_unless_installed("linux-libc-dev")  # the kernel's headers: what to check against
    assert header.is_file(), f"linux-libc-dev is installed, but {header} is not there"
    defined = dict(re.findall(pattern, header.read_text()))
    checked = 0
    for name, numbers in NUMBERS.items():
        if name in defined and numbers[column] is not None:
            assert numbers[column] == int(defined[name]), name
            checked += 1
    assert checked > 200
