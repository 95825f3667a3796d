"""CreateNetwork, DescribeNetwork and the sessions bound to a network at create.

The cloud's beta networks route a session's traffic through a machine where the user runs
its binding tool (``NetworkToken``). Locally a network is what the name says: the sessions
created with its ``NetworkId`` reach each other, by address (``net0``, a /24 of
198.19.0.0/16) and by name (their session id, in every member's ``/etc/hosts``), and
nothing else of the host; sessions of other networks or of none stay apart, as ever
(``sandbox/networks.py``). There is nothing to bind locally, so a network is ``Online``
from its creation; its token is answered, and has no other use here.
"""

from __future__ import annotations

import asyncio
import secrets
import string
from typing import TYPE_CHECKING, Any

from agentbay.contract import get_logger
from agentbay_local.protocol.envelope import ApiError
from agentbay_local.sandbox import networks
from agentbay_local.sandbox.handle import hosts_text

if TYPE_CHECKING:
    from agentbay_local.sandbox import Sandbox, SandboxManager
    from agentbay_local.store import Store

log = get_logger("agentbay.local.sessions")

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_network_id() -> str:
    """A network id (``net-`` and 17 lower-case alphanumerics, like a session id)."""
    return "net-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def not_found(network_id: str) -> ApiError:
    """The error for an unknown network (0.22 reads any ``NotFound`` as "not found")."""
    return ApiError(400, "InvalidNetworkId.NotFound", f"The network {network_id!r} does not exist.")


class SessionNetworks:
    """The networks of one runtime and the sessions on them."""

    def __init__(self, *, store: Store, sandboxes: SandboxManager, isolated: bool) -> None:
        self._store = store
        self._sandboxes = sandboxes
        self._isolated = isolated
        self._plan = networks.AddressPlan()
        self._switch = networks.Switch()
        # session id -> (its port, its number on the switch)
        self._members: dict[str, tuple[networks.Port, int]] = {}
        self._leaving: set[asyncio.Task[None]] = set()  # strong refs to background leaves

    # ---- actions ----
    def create(self, fields: dict[str, Any]) -> dict[str, str]:
        """CreateNetwork: a new network, or a fresh token for the one ``NetworkId`` names."""
        network_id = fields.get("NetworkId") or ""
        token = secrets.token_urlsafe(24)
        if network_id:
            if self._store.network_token(network_id) is None:
                raise not_found(network_id)
            self._store.set_network_token(network_id, token)
        else:
            network_id = new_network_id()
            self._store.add_network(network_id, token)
            log.info("network %s created", network_id, extra={"event": "network_created"})
        return {"NetworkId": network_id, "NetworkToken": token}

    def describe(self, fields: dict[str, Any]) -> dict[str, bool]:
        """DescribeNetwork: ``Online`` (always, once it exists: nothing to bind locally)."""
        network_id = fields["NetworkId"]
        if self._store.network_token(network_id) is None:
            raise not_found(network_id)
        return {"Online": True}

    # ---- members ----
    def check(self, network_id: str) -> None:
        """Refuse a create naming ``network_id`` before anything starts, if it cannot join."""
        if self._store.network_token(network_id) is None:
            raise not_found(network_id)
        if not self._isolated:
            raise ApiError(
                400,
                "InvalidParameter.NetworkId",
                "Networks need isolated sessions (the runtime runs --unisolated, so its "
                "sessions share the host's network).",
            )

    async def join(self, session_id: str, network_id: str, sandbox: Sandbox) -> None:
        """Give a new session its place on ``network_id``: its interface, and every member's
        name in every member's ``/etc/hosts``.

        Raises:
            ApiError: no address left, or the interface could not be made.
        """
        if sandbox.pid is None:
            raise ApiError(500, "InternalError", "The session's sandbox is not running.")
        try:
            port = self._plan.take(network_id)
        except ValueError as exc:
            raise ApiError(400, "QuotaExceeded.Network", str(exc)) from None
        try:
            fd = await asyncio.to_thread(networks.attach, sandbox.pid, port)
            # The first add starts the switch process: off the event loop too.
            number = await asyncio.to_thread(self._switch.add, fd, port)
        except OSError as exc:
            self._plan.give_back(port)
            log.warning("session %s cannot join network %s: %s", session_id, network_id, exc)
            raise ApiError(
                500, "InternalError.Network", f"The session could not join {network_id}: {exc}"
            ) from None
        self._members[session_id] = (port, number)
        await self._write_hosts(network_id)

    async def leave(self, session_id: str) -> None:
        """Take a session off its network (if on one): its interface goes, and its name
        leaves the others' ``/etc/hosts``."""
        member = self._members.pop(session_id, None)
        if member is None:
            return
        port, number = member
        await asyncio.to_thread(self._switch.remove, number)
        self._plan.give_back(port)
        await self._write_hosts(port.network)

    def leave_later(self, session_id: str) -> None:
        """``leave`` in the background (for a session whose sandbox died by itself)."""
        if session_id in self._members:
            task = asyncio.get_running_loop().create_task(self.leave(session_id))
            self._leaving.add(task)
            task.add_done_callback(self._leaving.discard)

    def network_of(self, session_id: str) -> networks.Port | None:
        """The place of a session on its network, if it has one."""
        member = self._members.get(session_id)
        return None if member is None else member[0]

    def close(self) -> None:
        """Close every port (at shutdown, after every session is released)."""
        self._switch.close()

    async def _write_hosts(self, network_id: str) -> None:
        """Every member of ``network_id`` resolves every member's name (its session id)."""
        members = {
            session_id: port
            for session_id, (port, _number) in self._members.items()
            if port.network == network_id
        }
        entries = [(str(port.address), session_id) for session_id, port in members.items()]
        for session_id in members:
            sandbox = self._sandboxes.get(session_id)
            if sandbox is None:
                continue
            text = hosts_text(session_id, entries).encode()
            try:
                await asyncio.to_thread(_write_hosts_file, sandbox, text)
            except OSError as exc:  # a session going away meanwhile
                log.info("cannot update the hosts file of %s: %s", session_id, exc)


def _write_hosts_file(sandbox: Sandbox, text: bytes) -> None:
    with sandbox.files() as session:
        session.write_file("/etc/hosts", text, 0o644)
