"""The session's seccomp filter: Docker's default profile, a little stricter (stdlib only).

``install()`` loads a classic BPF program with ``prctl(PR_SET_SECCOMP)``; the tool server
calls it from ``jail.enter`` right after dropping capabilities (and setting
``no_new_privs``, which an unprivileged filter needs), so it binds the tool server and
every process of the session, and nothing can remove it.

What it allows is Docker's allowlist (moby ``profiles/seccomp/default.json``) for a
container with our capabilities (``jail.KEEP_CAPABILITIES``): so ``mount``, ``setns``,
``chroot``, ``bpf``, ``perf_event_open``, ``userfaultfd``, the keyring, module, ``kexec``,
clock-setting and swap calls are refused, with these differences, each stricter:

- ``io_uring_*`` answer ENOSYS (newer Docker profiles dropped them too: the io_uring
  interface bypasses per-call filtering);
- ``adjtimex`` and ``clock_adjtime`` are refused (Docker lets a container read the clock's
  adjustment; it may not change it anyway, but nothing here needs either);
- calls of 32-bit x86 (``AUDIT_ARCH_I386``) and x32 kill the process, where Docker
  allows the 32-bit calls;
- numbers above ``syscall_numbers.NEWEST`` answer ENOSYS (as runc does for calls newer
  than its profile), so a program probing a new call falls back to an older one.

As in Docker: ``clone`` only without namespace flags (no new user namespace, the way to
get new capabilities), ``clone3`` ENOSYS (its flags are in memory the filter cannot read;
glibc falls back to ``clone``), ``socket`` not for ``AF_VSOCK``, ``personality`` only for
the harmless personas. Every other refusal is EPERM.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

from .syscall_numbers import NEWEST, NUMBERS

#: Docker's unconditional allowlist, the calls neither architecture has left out.
ALLOWED = frozenset(
    [
        "accept", "accept4", "access", "alarm", "bind", "brk", "capget", "capset", "chdir",
        "chmod", "chown", "clock_getres", "clock_gettime", "clock_nanosleep", "close",
        "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3",
        "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
        "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve",
        "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
        "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchown", "fchownat",
        "fcntl", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
        "fsetxattr", "fstat", "fstatfs", "fsync", "ftruncate", "futex", "futex_waitv",
        "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "geteuid",
        "getgid", "getgroups", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid",
        "getppid", "getpriority", "getrandom", "getresgid", "getresuid", "getrlimit",
        "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt",
        "get_thread_area", "gettid", "gettimeofday", "getuid", "getxattr",
        "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
        "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents", "ioprio_get",
        "ioprio_set", "io_setup", "io_submit", "kill", "landlock_add_rule",
        "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lgetxattr", "link",
        "linkat", "listen", "listxattr", "llistxattr", "lremovexattr", "lseek", "lsetxattr",
        "lstat", "madvise", "membarrier", "memfd_create", "memfd_secret", "mincore",
        "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap",
        "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
        "mq_timedsend", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd",
        "msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep",
        "newfstatat", "open", "openat", "openat2", "pause", "pidfd_open",
        "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect",
        "poll", "ppoll", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
        "process_mrelease", "pselect6", "pwrite64", "pwritev", "pwritev2", "read",
        "readahead", "readlink", "readlinkat", "readv", "recvfrom", "recvmmsg", "recvmsg",
        "remap_file_pages", "removexattr", "rename", "renameat", "renameat2",
        "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
        "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
        "rt_sigtimedwait", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
        "sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
        "sched_getscheduler", "sched_rr_get_interval", "sched_setaffinity", "sched_setattr",
        "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select",
        "semctl", "semget", "semop", "semtimedop", "sendfile", "sendmmsg", "sendmsg",
        "sendto", "setfsgid", "setfsuid", "setgid", "setgroups", "setitimer", "setpgid",
        "setpriority", "setregid", "setresgid", "setresuid", "setreuid", "setrlimit",
        "set_robust_list", "setsid", "setsockopt", "set_thread_area", "set_tid_address",
        "setuid", "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown",
        "sigaltstack", "signalfd", "signalfd4", "socketpair", "splice", "stat", "statfs",
        "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo",
        "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun",
        "timer_gettime", "timer_settime", "timerfd_create", "timerfd_gettime",
        "timerfd_settime", "times", "tkill", "truncate", "umask", "uname", "unlink",
        "unlinkat", "utime", "utimensat", "utimes", "vfork", "vmsplice", "wait4", "waitid",
        "write", "writev",
        # Docker allows these on kernels from 4.8 on (ptrace's checks became sound) ...
        "ptrace", "process_vm_readv", "process_vm_writev",
        # ... and these on x86_64 only (absent from the aarch64 table).
        "arch_prctl", "modify_ldt",
    ]
)  # fmt: skip
#: Answered ENOSYS, not EPERM: callers then fall back to an older interface.
NOT_IMPLEMENTED = ("clone3", "io_uring_setup", "io_uring_enter", "io_uring_register")
#: ``clone`` flags that create namespaces (Docker's mask, 0x7E020000): NEWNS, NEWCGROUP,
#: NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET.
CLONE_NAMESPACE_FLAGS = 0x7E020000
#: ``socket`` families refused (Docker's): AF_VSOCK reaches the hypervisor's host.
REFUSED_SOCKET_FAMILIES = (40,)
#: ``personality`` values allowed (Docker's): PER_LINUX, PER_LINUX32, UNAME26 variants and
#: the query 0xffffffff.
ALLOWED_PERSONAS = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)

#: The architectures filtered: ``platform.machine()`` -> (AUDIT_ARCH, index in NUMBERS).
ARCHITECTURES = {"x86_64": (0xC000003E, 0), "aarch64": (0xC00000B7, 1)}
#: x32 calls on x86_64 carry this bit in their number.
_X32_SYSCALL_BIT = 0x40000000

# Classic BPF (linux/filter.h, linux/seccomp.h)
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGT_K = 0x25
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_EPERM = _RET_ERRNO | errno.EPERM
_ENOSYS = _RET_ERRNO | errno.ENOSYS
# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6] (the low
# half of an argument comes first on these little-endian machines).
_NR, _ARCH = 0, 4


def _arg(index: int) -> int:
    return 16 + 8 * index


PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


class _Program:
    """Instructions with symbolic jump targets, resolved to BPF's relative offsets."""

    def __init__(self) -> None:
        self.code: list[tuple[int, object, object, int]] = []
        self.labels: dict[str, int] = {}

    def op(self, code: int, k: int, jt: object = 0, jf: object = 0) -> None:
        self.code.append((code, jt, jf, k))

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def assemble(self) -> bytes:
        out = []
        for index, (code, jt, jf, k) in enumerate(self.code):
            offsets = []
            for target in (jt, jf):
                offset = target if isinstance(target, int) else self.labels[str(target)] - index - 1
                if not 0 <= offset <= 255:
                    raise ValueError(f"BPF jump out of range at {index}")
                offsets.append(offset)
            out.append(struct.pack("=HBBI", code, offsets[0], offsets[1], k))
        return b"".join(out)


def _ranges(numbers: list[int]) -> list[tuple[int, int]]:
    """Sorted numbers as inclusive (first, last) runs."""
    runs: list[tuple[int, int]] = []
    for number in sorted(set(numbers)):
        if runs and runs[-1][1] == number - 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs


def build(machine: str) -> bytes:
    """The filter for ``machine`` (``platform.machine()``) as packed ``sock_filter``s.

    Raises:
        ValueError: an architecture the filter has no numbers for.
    """
    if machine not in ARCHITECTURES:
        raise ValueError(f"no seccomp filter for the {machine} architecture")
    audit_arch, column = ARCHITECTURES[machine]

    def number(name: str) -> int | None:
        return NUMBERS[name][column]

    p = _Program()
    p.op(_LD_W_ABS, _ARCH)
    p.op(_JEQ_K, audit_arch, 0, "kill")
    p.op(_LD_W_ABS, _NR)
    if machine == "x86_64":
        p.op(_JGE_K, _X32_SYSCALL_BIT, "kill", 0)
    special = {"clone": "clone", "socket": "socket", "personality": "personality"}
    for name, target in special.items():
        nr = number(name)
        if nr is not None:
            p.op(_JEQ_K, nr, target, 0)
    for name in NOT_IMPLEMENTED:
        nr = number(name)
        if nr is not None:
            p.op(_JEQ_K, nr, "enosys", 0)
    allowed = [nr for nr in map(number, ALLOWED) if nr is not None]
    # Runs in ascending order: past every run below it, a number inside the current run's
    # bound is allowed exactly when it reaches the run's start.
    for first, last in _ranges(allowed):
        p.op(_JGT_K, last, 1, 0)
        p.op(_JGE_K, first, "allow", "eperm")
    p.op(_JGT_K, NEWEST, "enosys", "eperm")
    p.label("clone")
    p.op(_LD_W_ABS, _arg(0))
    p.op(_JSET_K, CLONE_NAMESPACE_FLAGS, "eperm", "allow")
    p.label("socket")
    p.op(_LD_W_ABS, _arg(0))
    for family in REFUSED_SOCKET_FAMILIES:
        p.op(_JEQ_K, family, "eperm", 0)
    p.op(_RET_K, _RET_ALLOW)
    p.label("personality")
    p.op(_LD_W_ABS, _arg(0))
    for persona in ALLOWED_PERSONAS:
        p.op(_JEQ_K, persona, "allow", 0)
    p.label("eperm")
    p.op(_RET_K, _EPERM)
    p.label("allow")
    p.op(_RET_K, _RET_ALLOW)
    p.label("enosys")
    p.op(_RET_K, _ENOSYS)
    p.label("kill")
    p.op(_RET_K, _RET_KILL_PROCESS)
    return p.assemble()


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(machine: str | None = None) -> None:
    """Load the filter for this thread and everything it starts later (irrevocably).

    Needs ``no_new_privs`` (or CAP_SYS_ADMIN) and must run before other threads exist:
    a filter binds only the calling thread and its future children.

    Raises:
        ValueError: an architecture without a filter (the sandbox must not start).
        OSError: the kernel refused the filter.
    """
    program = build(machine or os.uname().machine)
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    result = libc.prctl(
        ctypes.c_int(PR_SET_SECCOMP),
        ctypes.c_ulong(SECCOMP_MODE_FILTER),
        ctypes.byref(fprog),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
    )
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"cannot install the seccomp filter: {os.strerror(err)}")
