"""What an isolated session's network may reach: ``NetworkPolicy`` and its parts on the host.

Every isolated session has its own network namespace. With ``mode="none"`` it holds only a
loopback interface. With ``mode="egress"`` (the default) a ``slirp4netns`` process per
sandbox gives it a ``tap0`` interface with user-mode NAT (10.0.2.100/24, gateway 10.0.2.2,
DNS forwarder 10.0.2.3): its outbound connections leave from the host as ordinary sockets
of that process.

Why slirp4netns rather than pasta (both packaged by Debian): a fixed private address plan
instead of copies of the host's own addresses in the namespace, no inbound port forwarding
unless asked for through its API socket (pasta forwards ports by default), host loopback
switched off by one flag (``--disable-host-loopback``), and its own sandbox and seccomp
filter; it is what rootless Podman and Docker used for years and attaches to a namespace
owned by a user namespace (it joins the target's user namespace itself).

What NAT alone would still let through is closed by nftables rules inside the session's
namespace, which the tool server loads before it drops CAP_NET_ADMIN (so the session can
neither see nor change them): the link-local range 169.254.0.0/16 (cloud metadata), the
host's own addresses (read when the sandbox is made), and the gateway 10.0.2.2 (the host's
loopback, when ``allow_host_ports`` switches it on) except the ports allowed, and the range of
the networks sessions share (``networks.py``) but through a network's own interface.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import select
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from agentbay_local.sandbox import networks
from agentbay_local.sandbox.host_programs import find_program, unshare_binary

#: The gateway slirp4netns maps to the host's 127.0.0.1 (when host loopback is on).
GATEWAY = "10.0.2.2"
#: slirp4netns's DNS forwarder (to the host's resolvers).
NAMESERVER = "10.0.2.3"
#: The interface slirp4netns creates in the session.
TAP = "tap0"
#: Never reachable from a session: link-local, where cloud metadata services answer.
LINK_LOCAL = "169.254.0.0/16"
#: How long slirp4netns may take to configure the interface.
START_TIMEOUT_S = 10.0
NetworkMode = Literal["egress", "none"]
MODES: tuple[NetworkMode, ...] = ("egress", "none")
_SEARCH = ("/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin", "/usr/local/sbin")


@dataclass(frozen=True)
class NetworkPolicy:
    """What sessions may reach besides their own loopback.

    Attributes:
        mode: ``"egress"`` (outbound connections through user-mode NAT) or ``"none"``.
        allow_host_ports: TCP ports of the host's 127.0.0.1 sessions may reach, at
            ``10.0.2.2:<port>`` (egress only); nothing else of the host ever.
    """

    mode: NetworkMode = "egress"
    allow_host_ports: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown network mode {self.mode!r}: expected egress or none")
        for port in self.allow_host_ports:
            if not 0 < port < 65536:
                raise ValueError(f"invalid host port {port}: expected 1-65535")


def _program(name: str) -> str | None:
    return find_program(name, _SEARCH)


@cache
def slirp4netns() -> str | None:
    """The slirp4netns program, if installed."""
    return _program("slirp4netns")


@cache
def nft() -> str | None:
    """The nftables ``nft`` program, if installed."""
    return _program("nft")


@cache
def egress_problem() -> str | None:
    """None when egress can be given to sessions here, else what is missing (for humans).

    Besides the programs, really loads the rules into a scratch network namespace once
    (about 10 ms): a session whose rules fail to load never starts.
    """
    missing = [name for name, path in (("slirp4netns", slirp4netns()), ("nft", nft())) if not path]
    if missing:
        packages = " ".join("nftables" if name == "nft" else name for name in missing)
        return f"{' and '.join(missing)} not found (install the Debian packages: {packages})"
    return _rules_problem()


def _rules_problem() -> str | None:
    unshare = _program("unshare")
    program = nft()
    if unshare is None or program is None:
        return "the util-linux 'unshare' program is not installed"
    # Without root, the namespace belongs to a user namespace, as a rootless session's does.
    owner = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    try:
        done = subprocess.run(
            [unshare, *owner, "--net", program, "-f", "-"],
            input=ruleset(NetworkPolicy(allow_host_ports=(1,)), ["192.0.2.1/32"]).encode(),
            capture_output=True,
            timeout=START_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"nftables rules cannot be loaded in a network namespace: {exc}"
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip()[-300:]
        return f"nftables rules cannot be loaded in a network namespace: {reason}"
    return None


def host_addresses() -> list[str]:
    """The host's own IPv4 addresses and local ranges, loopback aside (from the kernel)."""
    found: list[str] = []
    try:
        with open("/proc/net/fib_trie") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return found
    for previous, line in itertools.pairwise(lines):
        words = line.split()
        if words[1:] != ["host", "LOCAL"] or "|--" not in previous:
            continue
        network = f"{previous.split()[-1]}{words[0]}"
        try:
            parsed = ipaddress.ip_network(network, strict=False)
        except ValueError:
            continue
        if not parsed.is_loopback and str(parsed) not in found:
            found.append(str(parsed))
    return found


def ruleset(policy: NetworkPolicy, denied: list[str]) -> str:
    """The nftables rules loaded inside a session's namespace for an egress policy.

    A network's interface (``networks.INTERFACE``, routed for its own /24 only) passes;
    the rest of the networks' range never leaves through the NAT.
    """
    blocked = ", ".join([LINK_LOCAL, str(networks.NETWORK_RANGE), *denied])
    lines = [
        "table inet agentbay {",
        "  chain output {",
        "    type filter hook output priority filter; policy accept;",
        '    oif "lo" accept',
        f'    oifname "{networks.INTERFACE}" accept',
        f"    ip daddr {{ {blocked} }} reject with icmpx type admin-prohibited",
    ]
    if policy.allow_host_ports:
        ports = ", ".join(str(port) for port in sorted(set(policy.allow_host_ports)))
        lines.append(f"    ip daddr {GATEWAY} tcp dport {{ {ports} }} accept")
    lines += [
        f"    ip daddr {GATEWAY} reject with icmpx type admin-prohibited",
        "    meta nfproto ipv6 reject with icmpx type admin-prohibited",
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _private_mounts_prefix() -> list[str]:
    """As root, what starts slirp4netns in a mount namespace of its own with every mount
    private.

    slirp4netns's sandbox makes its mount namespace in the namespace it starts in and then
    detaches its old root. Started in the host's, that unmount propagates to the host's
    shared mounts and takes their children along: every named network namespace under
    ``/run/netns``, a container engine's mounts. Rootless, its namespaces are below the
    user's own user namespace, whose mounts never propagate back.
    """
    if os.geteuid() != 0:
        return []
    unshare = unshare_binary()
    if unshare is None:
        raise RuntimeError("the util-linux 'unshare' program is not installed")
    return [unshare, "--mount", "--propagation", "private", "--"]


def start_slirp(
    pid: int, policy: NetworkPolicy, log_path: Path
) -> tuple[subprocess.Popen[bytes], int]:
    """Give the namespace of ``pid`` its NAT interface; returns slirp4netns and its exit fd.

    Its messages go to ``log_path``.

    slirp4netns ends when the returned descriptor is closed, so a runtime that dies takes
    it along. Raises RuntimeError when it fails or is not ready within START_TIMEOUT_S.
    """
    program = slirp4netns()
    if program is None:
        raise RuntimeError("slirp4netns is not installed")
    exit_read, exit_write = os.pipe()
    ready_read, ready_write = os.pipe()
    argv = [
        *_private_mounts_prefix(),
        program,
        "--configure",
        "--mtu=65520",
        "--enable-sandbox",
        "--enable-seccomp",
        f"--exit-fd={exit_read}",
        f"--ready-fd={ready_write}",
    ]
    if not policy.allow_host_ports:
        argv.append("--disable-host-loopback")
    argv += [str(pid), TAP]
    try:
        with open(log_path, "ab") as log_file:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                pass_fds=(exit_read, ready_write),
                cwd="/",
                start_new_session=True,
            )
    except BaseException:
        os.close(exit_write)
        raise
    finally:
        os.close(exit_read)
        os.close(ready_write)
    try:
        readable, _, _ = select.select([ready_read], [], [], START_TIMEOUT_S)
        ready = bool(readable) and os.read(ready_read, 1) == b"1"
    finally:
        os.close(ready_read)
    if not ready:
        os.close(exit_write)
        process.kill()
        process.wait(timeout=5)
        try:
            reason = log_path.read_text(errors="replace").strip()[-500:]
        except OSError:
            reason = ""
        raise RuntimeError(f"slirp4netns failed: {reason or 'not ready in time'}")
    return process, exit_write
