"""Starting a session's tool server process, isolated or not.

Isolated, the process tree is::

    [nsenter --user=...] unshare [--user ...] --pid --fork --mount --uts --ipc ...  (waits)
      └─ python boot  = PID 1 of the new namespaces: builds the sandbox, then execs
         /.agentbay/python/... toolserver (the same PID): serves

Rootless, ``unshare --user`` creates the session's user namespace; as root, ``nsenter``
enters one made for it (``userns.new_user_namespace``) and execs ``unshare``. Either way
the session's root is not the host's (``userns.py``).
``--kill-child`` ties PID 1 to the helper, and PID 1 exits when the runtime's end of the
channel closes, so a crashed runtime leaves no session processes behind. ``--net`` gives
the session a network namespace of its own (loopback only, brought up by the tool server):
no route to the host's loopback services, the runtime or other sessions, and every port
free. The runtime reaches ports inside it through a second socket pair, the port channel
(see ``inside/network.py``). The tool server starts with the host's interpreter and the
stdlib-only package ``inside/`` at their host paths, and continues on the image's own
interpreter (the runtime's, at a fixed path, on the host's ``/``) with the package at a
fixed path inside the session (``inside/boot.py``, ``jail.FIXED_ROOT``): nothing of the
host's layout (a checkout, its venv, the data dir) shows in the session.
"""

from __future__ import annotations

import contextlib
import json
import os
import py_compile
import socket
import subprocess
import sys
from functools import cache
from importlib.util import cache_from_source
from pathlib import Path
from typing import Any, NamedTuple

from agentbay_local.sandbox import egress, inside, layers, userns
from agentbay_local.sandbox.host_programs import SANDBOX_PATH, nsenter_binary, unshare_binary
from agentbay_local.sandbox.image import HOST_ROOT, SandboxImage
from agentbay_local.sandbox.inside import jail

#: The package of in-sandbox code; its parent goes on the tool server's ``sys.path``, so the
#: sandbox imports it as the top-level package ``inside``.
CODE_DIR = Path(inside.__file__).resolve().parent
#: -E: no PYTHON* variables; -s, -S: no site-packages (faster start, nothing of the host
#: environment leaks in); sys.path gets CODE_DIR's parent appended, after the stdlib.
#: The first line the process writes is its host PID, before the ~30 ms of imports, so the
#: runtime can put it into its cgroup meanwhile (a cgroup move costs 10-30 ms on cgroup v1).
BOOT = (
    "import sys, os; fd = int(sys.argv[2]); "
    "os.write(fd, os.readlink('/proc/self').encode() + b'\\n'); "
    "sys.path.append(sys.argv[1]); from inside import boot; boot.main(fd)"
)
#: The watchdog runs from the same package, outside any sandbox (see ``inside/watchdog.py``).
WATCHDOG_BOOT = (
    "import sys; sys.path.append(sys.argv.pop(1)); "
    "from inside import watchdog; watchdog.main(sys.argv)"
)
#: Between a rootless session's user namespace and the rest: its process limit for every
#: id at once (see ``inside/process_bound.py``).
PROCESS_BOUND_BOOT = (
    "import sys; sys.path.append(sys.argv.pop(1)); "
    "from inside import process_bound; process_bound.main(sys.argv[1:])"
)
#: Where the session's commands run in isolated mode.
SANDBOX_HOME = "/root"
#: Placeholder hostname until a pooled sandbox is handed out.
POOL_HOSTNAME = "agentbay-pool"


@cache
def precompile() -> None:
    """Make sure the in-sandbox modules have up-to-date bytecode (faster sandbox start).

    The tool server reads ``__pycache__`` through the overlay; compiling here, once per
    process, spares every session the compile. Failure (read-only install) only costs time.
    """
    for source in CODE_DIR.glob("*.py"):
        cached = Path(cache_from_source(str(source)))
        try:
            if not cached.exists() or cached.stat().st_mtime < source.stat().st_mtime:
                py_compile.compile(str(source), cfile=str(cached), doraise=True)
        except (OSError, py_compile.PyCompileError):
            pass


def session_env(home: str, isolated: bool, image: SandboxImage = HOST_ROOT) -> dict[str, str]:
    """The environment of commands run in a session (never the runtime's own): the
    standard variables, then the image's ``ENV`` settings."""
    path = SANDBOX_PATH if isolated else os.environ.get("PATH", SANDBOX_PATH)
    env = {
        "PATH": path,
        "HOME": home,
        "USER": "root" if isolated else os.environ.get("USER", "root"),
        "LOGNAME": "root" if isolated else os.environ.get("LOGNAME", "root"),
        "SHELL": "/bin/bash",
        "LANG": "C.UTF-8",
        "TERM": "xterm",
    }
    env.update(image.env)
    return env


class Started(NamedTuple):
    """A just-started tool server, as ``start`` returns it."""

    process: subprocess.Popen[bytes]
    #: The runtime's end of the JSON-lines tool channel (the ready message comes first).
    channel: socket.socket
    #: The runtime's end of the port channel (``SOCK_SEQPACKET``, see ``inside/network.py``).
    port_channel: socket.socket


@cache
def interpreter() -> tuple[Path, str]:
    """The tool server's interpreter (the runtime's own): its installation prefix, shown in
    sessions at ``jail.FIXED_PYTHON``, and the executable's path below it."""
    prefix = Path(os.path.realpath(sys.base_prefix))
    executable = Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))
    if prefix not in executable.parents:
        raise RuntimeError(f"the interpreter {executable} is not inside its prefix {prefix}")
    return prefix, str(executable.relative_to(prefix))


def user_namespace(rootless: bool) -> tuple[list[str], int | None]:
    """How a sandbox gets its user namespace: the command that runs ``unshare`` for the
    other namespaces (``unshare`` and its options included), and a descriptor the new
    process must inherit (the caller closes it once the process started).

    Rootless: ``unshare --user`` with the user's mapping (see ``userns.py``). As root:
    ``nsenter`` into a new namespace mapped onto ``userns.root_mode_ids()``, as its root.
    """
    unshare = unshare_binary()
    if unshare is None:
        raise RuntimeError("the util-linux 'unshare' program is not installed")
    if rootless:
        return [unshare, *userns.id_mapping().unshare_args()], None
    nsenter = nsenter_binary()
    if nsenter is None:
        raise RuntimeError("the util-linux 'nsenter' program is not installed")
    namespace = userns.new_user_namespace(userns.root_mode_ids())
    # nsenter becomes uid and gid 0 of the namespace (the host's root_mode_ids().start).
    return [nsenter, f"--user=/proc/self/fd/{namespace}", "--", unshare], namespace


def _isolated(
    session_dir: Path,
    hide: list[str],
    overlays: layers.RootlessRoot | None,
    rlimits: dict[str, int] | None,
    passed: list[int],
    env: dict[str, str],
    image: SandboxImage,
) -> tuple[list[str], dict[str, Any], Path]:
    """The command line, configuration and working directory of an isolated tool server
    (its channel's descriptor goes last on the line); descriptors to pass go to
    ``passed``, and what the command needs into ``env``.

    As root, the tool server starts as the root of the session's user namespace, which is
    nobody on the host: it may not look up the host's paths of the interpreter, the
    checkout or the session's root (in a private data dir). So the runtime shows the code
    and interpreter in the session's root itself (``jail.mount_runtime``), passes
    descriptors of their directories to start from (``/proc/self/fd/N``), and starts the
    process in the session's root (``unshare --mount`` moves the working directory into
    the new mount namespace with it). Rootless, the tool server is the runtime's user and
    does all of that from the host's paths.
    """
    prefix, namespace = user_namespace(overlays is not None)
    if namespace is not None:
        passed.append(namespace)
    bound = (rlimits or {}).get("RLIMIT_NPROC")
    if overlays is not None and bound is not None:
        # The namespaces below are made inside a second user namespace, whose creator's
        # process limit then counts every process of the session, whatever its ids.
        nested = [sys.executable, "-E", "-s", "-S", "-c", PROCESS_BOUND_BOOT]
        prefix = [*prefix, "--", *nested, str(CODE_DIR.parent), str(bound), "--", prefix[0]]
    python_dir, executable = interpreter()
    # On an image's own root filesystem only the boot stage runs on the runtime's
    # interpreter; the tool server then runs on the image's (``boot._become_tool_server``).
    shown_python = None if image.tree is not None else str(python_dir)
    root = session_dir / "root"
    if overlays is None:

        def opened(path: Path) -> str:
            passed.append(os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
            return f"/proc/self/fd/{passed[-1]}"

        jail.mount_runtime(str(root), str(CODE_DIR), shown_python)
        python, code = opened(python_dir), opened(CODE_DIR.parent)
        # The interpreter finds its standard library (and a shared libpython) at its
        # prefix, here a descriptor: no -E, the environment is the runtime's own anyway.
        env.update(PYTHONHOME=python, LD_LIBRARY_PATH=f"{python}/lib")
        boot = [f"{python}/{executable}", "-s", "-S", "-c", BOOT, code]
    else:
        boot = [sys.executable, "-E", "-s", "-S", "-c", BOOT, str(CODE_DIR.parent)]
    argv = [
        *prefix,
        "--pid",
        "--fork",
        "--mount",
        "--uts",
        "--ipc",
        "--net",
        "--propagation",
        "private",
        "--kill-child=SIGKILL",
        "--",
        *boot,
    ]
    config: dict[str, Any] = {
        "isolated": True,
        "root": str(root) if overlays is not None else ".",
        "hide": hide,
        "runtime_fds": list(passed),
        "python_executable": image.python if image.tree is not None else executable,
        "hostname": POOL_HOSTNAME,
        "home": SANDBOX_HOME,
        "own_network": True,
    }
    if overlays is not None:
        config["rootless_root"] = overlays._asdict()
        config["runtime"] = {"code": str(CODE_DIR), "python": shown_python}
    return argv, config, (root if overlays is None else Path("/"))


def start(
    session_dir: Path,
    *,
    isolated: bool,
    hide: list[str],
    overlays: layers.RootlessRoot | None = None,
    rlimits: dict[str, int] | None = None,
    image: SandboxImage = HOST_ROOT,
    egress_rules: str | None = None,
    screen: dict[str, int] | None = None,
) -> Started:
    """Start the tool server of one sandbox.

    Isolated as root, ``session_dir/root`` must already be the session's overlay. Rootless,
    ``overlays`` (from ``layers.rootless_overlays``) are what the tool server mounts in its
    own user and mount namespaces; ``rlimits`` (``limits.SessionLimits.rlimits``) what it
    sets on itself. ``egress_rules`` (isolated only): the nftables rules the tool server
    loads into the session's network namespace before the NAT interface arrives (see
    ``egress.py``). The caller reads the tool server's ready message from the channel.
    ``screen`` is the size of the session's display (``width``, ``height``, ``dpi``), should
    it start one.
    """
    precompile()
    host_end, server_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    port_host_end, port_server_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    fd = server_end.fileno()
    # Descriptors the new process inherits besides its channels (closed here once it runs).
    passed: list[int] = []
    env = {"PATH": SANDBOX_PATH, "LANG": "C.UTF-8"}
    try:
        if isolated:
            argv, config, cwd = _isolated(session_dir, hide, overlays, rlimits, passed, env, image)
            if egress_rules is not None:
                config["firewall"] = {"program": egress.nft(), "ruleset": egress_rules}
                config["resolv_conf"] = f"nameserver {egress.NAMESERVER}\n"
            if rlimits:
                config["rlimits"] = rlimits
            home = SANDBOX_HOME
        else:
            argv = [sys.executable, "-E", "-s", "-S", "-c", BOOT, str(CODE_DIR.parent)]
            cwd = Path("/")
            home = str(session_dir / "home")
            config = {"isolated": False, "home": home}
        argv.append(str(fd))
    except BaseException:
        for descriptor in passed:
            os.close(descriptor)
        for end in (host_end, server_end, port_host_end, port_server_end):
            end.close()
        raise
    config["env"] = session_env(home, isolated, image)
    if image.workdir:
        config["workdir"] = image.workdir
    config["port_fd"] = port_server_end.fileno()
    config["desktop"] = dict(screen or {})
    try:
        with open(session_dir / "toolserver.log", "ab") as log_file:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                pass_fds=(fd, port_server_end.fileno(), *passed),
                cwd=cwd,
                env=env,
                # Its own session: a Ctrl-C meant for the runtime must not kill sandboxes
                # before the runtime releases them (and uploads their contexts).
                start_new_session=True,
            )
    except BaseException:
        host_end.close()
        port_host_end.close()
        raise
    finally:
        server_end.close()
        port_server_end.close()
        for descriptor in passed:
            os.close(descriptor)
    # If it died already, the caller sees end of file instead of a ready message.
    with contextlib.suppress(OSError):
        host_end.sendall(json.dumps(config).encode() + b"\n")
    return Started(process, host_end, port_host_end)


def start_watchdog(
    sessions_dir: Path, cgroup_prefix: str, cgroup_parents: list[Path], *, rootless: bool
) -> tuple[subprocess.Popen[bytes], int]:
    """Start the manager's watchdog (see ``watchdog.py``); returns it and the pipe's write end.

    Write ``b"q"`` to the returned descriptor before closing it on an orderly shutdown.
    """
    read_end, write_end = os.pipe()  # both close-on-exec: no sandbox ever inherits them
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-E",
                "-s",
                "-S",
                "-c",
                WATCHDOG_BOOT,
                str(CODE_DIR.parent),
                str(read_end),
                str(sessions_dir),
                cgroup_prefix,
                json.dumps(userns.remover_argv() if rootless else []),
                *map(str, cgroup_parents),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(read_end,),
            cwd="/",
            env={"PATH": SANDBOX_PATH, "LANG": "C.UTF-8"},
            start_new_session=True,
        )
    except BaseException:
        os.close(write_end)
        raise
    finally:
        os.close(read_end)
    return process, write_end
