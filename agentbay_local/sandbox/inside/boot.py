"""The tool server's first stage: build the sandbox, then become the tool server at the
sandbox's fixed paths (stdlib only).

The runtime starts it from the host's directories (``launch.BOOT``: the host's interpreter,
the package ``inside`` in the checkout); as root, from descriptors of them, since the root
of the session's user namespace may not look up their host paths. For an isolated
session it reads the configuration, builds the sandbox (``jail``) and then replaces itself
(``execve``, same PID) by the image's own interpreter (``/usr/bin/python3`` of its root
filesystem; with the host's ``/``, the runtime's at ``jail.FIXED_PYTHON``) running the code at
``jail.FIXED_CODE``, which continues in ``toolserver.resume``. So PID 1's command line
(``/proc/1/cmdline``, which every process of the session can read) names only those fixed
paths, and nothing of the checkout, its venv or the data dir. Unisolated, it runs the tool
server in this process.

Every module it uses is imported before the sandbox is built: after the pivot, the host's
stdlib is out of reach.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: What the interpreter at the fixed path runs: ``<fd> <configuration fd>`` follow.
RESUME = (
    "import sys; sys.path.append(sys.argv[1]); from inside import toolserver; "
    "toolserver.resume(int(sys.argv[2]), int(sys.argv[3]))"
)
#: The longest configuration line accepted from the runtime.
_MAX_CONFIG_BYTES = 16 * 1024 * 1024


def main(fd: int) -> None:
    """Entry point (``launch.BOOT``): configure, then serve here or at the fixed paths."""
    config = _receive(fd)
    if not isinstance(config, dict):
        os._exit(2)
    if not config.get("isolated"):
        from . import toolserver

        toolserver.main(fd, config)
        return
    try:
        config["pid"], view = _prepare(config)
        port_fd = config.get("port_fd")
        if view is not None and type(port_fd) is int:
            # Before the ready message: the runtime takes it from the port channel then.
            _send_root_view(port_fd, view)
        _become_tool_server(fd, config)
    except Exception as exc:
        answer = {"ready": False, "error": f"{type(exc).__name__}: {exc}"}
        os.write(fd, json.dumps(answer).encode() + b"\n")
        os._exit(1)


def _receive(fd: int) -> Any:
    """The configuration line. Read unbuffered: nothing else comes before the answer
    to it, and the descriptor is the tool server's channel after the ``execve``."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 1 << 16)
        if not chunk or len(data) > _MAX_CONFIG_BYTES:
            return None
        data += chunk
    try:
        return json.loads(data)
    except ValueError:
        return None


def _prepare(config: dict[str, Any]) -> tuple[int, int | None]:
    """Build the sandbox; returns the host PID and, when rootless, the descriptor of the
    runtime's view of the session's files."""
    from . import jail, network

    os.umask(0o022)
    pid = jail.host_pid()  # read before /proc is replaced by the sandbox's own
    view = None
    rootless = config.get("rootless_root")
    if isinstance(rootless, dict):
        # First: the network set-up below writes into the session's /etc.
        view = jail.mount_rootless_root(config["root"], rootless["top"], rootless["overlays"])
    if config.get("own_network"):
        # Before jail.enter drops CAP_NET_ADMIN: the session can never change these.
        network.loopback_up()
        rules = config.get("firewall")
        if isinstance(rules, dict):
            network.load_rules(str(rules["program"]), str(rules["ruleset"]))
        if isinstance(config.get("resolv_conf"), str):
            network.write_resolv_conf(config["root"], config["resolv_conf"])
    runtime = config.get("runtime")  # None: the runtime showed them itself (root mode)
    jail.enter(
        config["root"],
        list(config.get("hide", [])),
        config["hostname"],
        {"code": runtime["code"], "python": runtime.get("python")} if runtime else None,
    )
    _set_rlimits(dict(config.get("rlimits") or {}))
    home = config["home"]
    os.makedirs(home, exist_ok=True)
    # An image's WORKDIR, else the home directory: where every command of the session runs.
    workdir = config.get("workdir") or home
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    return pid, view


def _become_tool_server(fd: int, config: dict[str, Any]) -> None:
    """Replace this process by the tool server at the fixed paths; the configuration
    follows in a memory file (the command line is readable by the whole session)."""
    from . import jail

    for passed in config.get("runtime_fds", []):
        os.close(passed)  # the host's directories stay out of the session
    config_fd = os.memfd_create("agentbay-config", 0)
    os.write(config_fd, json.dumps(config).encode())
    os.lseek(config_fd, 0, os.SEEK_SET)
    for inherited in (fd, config_fd):
        os.set_inheritable(inherited, True)
    # An absolute path is the image's own interpreter; else the runtime's, at FIXED_PYTHON.
    executable = os.path.join(jail.FIXED_PYTHON, config["python_executable"])
    argv = [executable, "-E", "-s", "-S", "-c", RESUME, jail.FIXED_ROOT, str(fd), str(config_fd)]
    env = {name: value for name, value in os.environ.items() if name != "PYTHONHOME"}
    if executable.startswith(jail.FIXED_PYTHON + "/"):
        # The interpreter may find its shared library by an absolute RUNPATH of the host
        # (pyenv, a self-built Python): point it at the fixed path; resume() removes it.
        env["LD_LIBRARY_PATH"] = f"{jail.FIXED_PYTHON}/lib"
    else:
        env.pop("LD_LIBRARY_PATH", None)  # the boot stage's, for the host's interpreter
    sys.stderr.flush()
    os.execve(executable, argv, env)


def _send_root_view(port_fd: int, view: int) -> None:
    """Hand the runtime its view of the session's files (``jail.mount_rootless_root``) as
    the first datagram of the port channel, then close this process's copy."""
    channel = socket.socket(fileno=os.dup(port_fd))
    try:
        socket.send_fds(channel, [b'{"root_view": true}'], [view])
    finally:
        channel.close()
        os.close(view)


def _set_rlimits(rlimits: dict[str, int]) -> None:
    """Lower soft and hard limits for this process and everything it will start (the
    session's root has no CAP_SYS_RESOURCE to raise them again)."""
    for name, value in rlimits.items():
        resource.setrlimit(getattr(resource, name), (value, value))
