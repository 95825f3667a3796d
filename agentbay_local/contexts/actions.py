"""Context actions: the named stores, their files, and syncing them into and out of sessions.

A session syncs a context at a mount path M (``PersistenceDataList``). As in the cloud, a
context keeps each file under its path in the session: ``M/a.txt`` in the session is
``M/a.txt`` in the context (``DescribeContextFiles`` of ``M`` lists it; the official clients'
file transfer and browser extensions put files at the session path they want them at), and a
session mounting M gets the context's files below M. A white list (paths relative to M)
chooses what is uploaded and downloaded.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from agentbay.contract import Context as WireContext
from agentbay.contract import FileUrlData, InternalContext, get_logger
from agentbay_local.contexts.archives import ArchiveError, unpack_into_session
from agentbay_local.contexts.files import ContextPathError, ContextTree, clean_key
from agentbay_local.contexts.sync_policy import ExtractRule, SyncSpec
from agentbay_local.protocol.envelope import ApiError, invalid, missing
from agentbay_local.protocol.paging import decode_page_token, encode_page_token
from agentbay_local.sandbox import disk
from agentbay_local.sandbox.context_mount import mount_into_session
from agentbay_local.sandbox.session_files import Keep, make_folders_at
from agentbay_local.store import ContextRow, Store

log = get_logger("agentbay.local.contexts")

if TYPE_CHECKING:
    from agentbay_local.protocol.address import PublicAddress
    from agentbay_local.protocol.signing import UrlSigner
    from agentbay_local.running import RunningSessions
    from agentbay_local.sandbox import Sandbox, SandboxManager


def iso(timestamp: float) -> str:
    """Seconds since the epoch as the cloud's ISO-8601 UTC text."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


#: Where GetAndLoadInternalContext maps a session's file-transfer context: the cloud's
#: /tmp/file-transfer, which the official suite lists after an upload into
#: get_file_transfer_context_path() (0.9.3 names its own context and path at create).
FILE_TRANSFER_PATH = "/tmp/file-transfer"


def _internal_name(session_id: str) -> str:
    """The name of a session's file-transfer context (GetAndLoadInternalContext)."""
    return f"file-transfer-{session_id}"


def _context_data(row: ContextRow) -> dict[str, Any]:
    """A context as the description's ``Context`` (the model the SDK decodes it with)."""
    return WireContext(
        id=row.id,
        name=row.name,
        state=row.state,
        create_time=iso(row.created_at),
        last_used_time=iso(row.last_used_at),
        os_type="linux",
    ).to_dict()


def _missing_context(context_id: str) -> str:
    return f"The context {context_id} does not exist."


#: Longest context name, in characters (the cloud's console limit).
MAX_NAME_LENGTH = 255


def check_name(name: str) -> None:
    """Refuse a context name the cloud refuses: empty, too long, control characters (NUL
    included), ``/``, or ``.``/``..`` (a name is one path component in the cloud's store)."""
    if not name.strip():
        raise invalid("Name", "must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise invalid("Name", f"is {len(name)} characters long; at most {MAX_NAME_LENGTH}")
    bad = sorted({repr(c) for c in name if c == "/" or ord(c) < 32 or ord(c) == 127})
    if bad:
        raise invalid("Name", f"must not contain {', '.join(bad)}")
    if name.strip() in (".", ".."):
        raise invalid("Name", f"must not be {name!r}")


def _session_path(path: str) -> str:
    """A session path, normalised (``..`` refused); the session's files are reached by
    descriptor (``Sandbox.files``), so its links are followed only inside it."""
    return "/" + str(clean_key(path))


def upload_from_session(
    sandbox: Sandbox,
    session_path: str,
    tree: ContextTree,
    key: PurePosixPath,
    keep: Keep,
    *,
    merge: bool,
) -> None:
    """One upload task (blocking): the session's ``session_path`` becomes ``key`` of the
    context, read by descriptor (see ``ContextTree.replace_from``)."""
    with sandbox.files() as session:
        tree.replace_from(session, _session_path(session_path), key, keep, merge=merge)


def download_into_session(
    sandbox: Sandbox,
    tree: ContextTree,
    key: PurePosixPath,
    session_path: str,
    rule: ExtractRule | None,
    scratch: Path,
    keep: Keep | None = None,
) -> None:
    """One download task (blocking): what ``keep`` admits of ``key`` of the context is
    copied to the session's ``session_path`` by descriptor, and its archives unpacked there
    when ``rule`` says so."""
    target = _session_path(session_path)
    with sandbox.files() as session:
        tree.copy_into(key, target, session, keep)
        stored = tree.stored_path(key)
        if rule is not None and stored is not None:
            scratch.mkdir(parents=True, exist_ok=True)
            unpack_into_session(stored, target, session, rule, scratch, keep)


@dataclass(frozen=True)
class MountSpec:
    """One direct mount (0.22's BetaContextMount): the folder ``source`` of a context at
    ``path`` of a session."""

    context_id: str
    path: str
    source: PurePosixPath
    read_only: bool
    #: How the cloud backs the mount (a hint the local runtime keeps to list it back).
    storage_mode: str = "standard"

    def binding(self, name: str, bound_at: float) -> dict[str, Any]:
        """The mount as DescribeSessionContexts lists it (``SessionContextBinding``): the
        fields 0.22.3 reads (no sync ``Policy``), ``Type`` and ``MountConfig`` as bound."""
        config = {
            "AccessMode": "readOnly" if self.read_only else "readWrite",
            "StorageMode": self.storage_mode,
            "SourcePath": "" if self.source == PurePosixPath(".") else str(self.source),
        }
        return {
            "ContextId": self.context_id,
            "ContextName": name,
            "Path": self.path,
            "Policy": "",
            "BindTime": iso(bound_at),
            "Type": "mount",
            "MountConfig": config,
        }


def _mount_one(sandbox: Sandbox, live: Path, spec: MountSpec) -> None:
    """Make the mount's folders (its source in the live directory, without following links;
    its path in the session, as the session resolves it) and mount it."""
    assert sandbox.pid is not None
    try:
        folder = os.open(live, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            made = make_folders_at(folder, spec.source, replace=False)
            if sandbox.root_owner is not None:
                os.fchown(made, *sandbox.root_owner)
            os.close(made)
        finally:
            os.close(folder)
        with sandbox.files() as session:
            os.close(session.make_folders(spec.path))
        mount_into_session(sandbox.pid, live, str(spec.source), spec.path, read_only=spec.read_only)
    except OSError as exc:  # a link or file in the way (never followed), or the kernel's no
        raise ApiError(
            400, "InvalidParameter.PersistenceDataList", f"cannot mount {spec.path}: {exc}"
        ) from None


class ContextActions:
    """Context actions of one runtime."""

    def __init__(
        self,
        *,
        data_dir: Path,
        store: Store,
        running: RunningSessions,
        sandboxes: SandboxManager,
        signer: UrlSigner,
        address: PublicAddress,
        url_lifetime_s: int,
        quota_bytes: int | None = None,
    ) -> None:
        #: The most each context may hold (serve's --context-quota; None: no quota).
        self.quota_bytes = quota_bytes
        #: Where the runtime can mount filesystems (root, loop devices), a context's live
        #: copy for direct mounts is one of the quota's size (``ContextTree.disks``).
        self._disks = data_dir / "disks" if disk.problem() is None else None
        self._data_dir = data_dir
        self._store = store
        self._running = running
        self._sandboxes = sandboxes
        self._signer = signer
        self._address = address
        self._url_lifetime_s = url_lifetime_s
        self._locks: dict[str, asyncio.Lock] = {}
        self._background: set[asyncio.Task[None]] = set()
        #: SyncContext tasks still running, by session: its release waits for them.
        self._syncing: dict[str, set[asyncio.Task[None]]] = {}
        #: Direct mounts: the sessions mounting each context, the contexts of each session.
        self._mounted: dict[str, set[str]] = {}
        self._session_mounts: dict[str, list[tuple[MountSpec, float]]] = {}

    # ---- helpers ----
    def tree(self, context_id: str) -> ContextTree:
        """The on-disk store of a context."""
        return ContextTree(self._data_dir / "contexts" / context_id, self.quota_bytes, self._disks)

    def _in_background(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work`` after the answer went out (a reference is kept until it is done)."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def _sync_in_background(self, session_id: str, work: Coroutine[Any, Any, None]) -> None:
        """Run a sync task of ``session_id`` after the answer, known to its release."""
        running = self._syncing.setdefault(session_id, set())
        task = self._in_background(work)
        running.add(task)

        def done(task: asyncio.Task[None]) -> None:
            running.discard(task)
            if not running and self._syncing.get(session_id) is running:
                del self._syncing[session_id]

        task.add_done_callback(done)

    async def finish_syncs(self, session_id: str) -> None:
        """Wait for the session's SyncContext tasks still running.

        Its release must not end the files they copy: a client that releases right after
        SyncContext, without polling GetContextInfo until the task ended, would lose the
        upload it asked for (it would fail on a session that is gone). Each task is one copy
        of finite work, as the uploads at release are.
        """
        if session_id in self._syncing:
            log.info(
                "session %s: release waits for %d context sync(s) still running",
                session_id,
                len(self._syncing[session_id]),
                extra={"event": "release_waits_for_syncs", "session": session_id},
            )
        while running := self._syncing.get(session_id):
            await asyncio.wait(set(running))

    def lock(self, context_id: str) -> asyncio.Lock:
        """Serialises writers of one context, so syncs never interleave partial trees."""
        return self._locks.setdefault(context_id, asyncio.Lock())

    def existing(self, context_id: str, field_name: str = "ContextId") -> ContextRow:
        """A context by id, or the not-found error."""
        row = self._store.context(context_id)
        if row is None:
            raise ApiError(400, "InvalidContext.NotFound", _missing_context(context_id))
        return row

    def recover(self) -> None:
        """Clean partial writes every context may have from a crash; remove the internal
        contexts of sessions that are gone (an earlier run ended without releasing them)."""
        for context_id in self._store.internal_contexts():
            self._store.delete_context(context_id)
            self.tree(context_id).delete()
        root = self._data_dir / "contexts"
        if root.exists():
            for child in root.iterdir():
                tree = self.tree(child.name)
                tree.recover()
                if tree.live.is_dir():  # mounted when an earlier run ended
                    try:
                        tree.publish_live()
                    except (OSError, disk.DiskError) as exc:
                        log.warning(
                            "context %s: mounted writes kept unpublished: %s", child.name, exc
                        )

    # ---- a session's internal contexts ----
    def internal(self, fields: dict[str, Any]) -> list[dict[str, Any]]:
        """GetAndLoadInternalContext: the session's file-transfer context (0.13+ ask for it
        instead of naming one at create, as 0.9.3 did), made at the first ask (a create never
        pays for it), mapped to FILE_TRANSFER_PATH without a policy, so it is never uploaded
        by itself, and removed with the session (0.9.3's outlived it, one per create)."""
        row = self._running.get(fields["SessionId"])
        kind = fields.get("ContextTypes.1") or "file_transfer"
        if kind != "file_transfer":
            raise invalid(
                "ContextTypes", f"the local runtime knows file_transfer only, not {kind!r}"
            )
        context_id = self._store.internal_context(row.id, kind)
        if context_id is None:
            context_id = "ctx-" + secrets.token_hex(8)
            self._store.add_internal_context(
                row.id, kind, context_id, _internal_name(row.id), FILE_TRANSFER_PATH
            )
        found = InternalContext(
            context_id=context_id, context_path=FILE_TRANSFER_PATH, context_type=kind
        )
        return [found.to_dict()]

    async def drop_internal(self, session_id: str) -> None:
        """Remove a released session's internal contexts and their files."""
        for context_id in self._store.internal_contexts(session_id):
            async with self.lock(context_id):
                self._store.delete_context(context_id)
                await asyncio.to_thread(self.tree(context_id).delete)

    # ---- PersistenceDataList and session start/release ----
    def parse_persistence(self, value: Any) -> list[SyncSpec]:
        """Validate a decoded ``PersistenceDataList``."""
        if value is None:
            return []
        if not isinstance(value, list):
            raise invalid("PersistenceDataList", "expected a JSON array")
        specs = []
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("ContextId"), str):
                raise invalid("PersistenceDataList", "every item needs a ContextId string")
            if item.get("Type") == "mount":
                continue  # parse_mounts
            path = item.get("Path")
            if not isinstance(path, str) or not path.startswith("/"):
                raise invalid("PersistenceDataList", "every item needs an absolute Path")
            if ".." in PurePosixPath(path).parts:
                raise invalid("PersistenceDataList", f"the Path {path!r} contains '..'")
            text = item.get("Policy") or ""
            try:
                policy = json.loads(text) if text else {}
            except ValueError:
                raise invalid("PersistenceDataList", "a Policy is not valid JSON") from None
            if not isinstance(policy, dict):
                raise invalid("PersistenceDataList", "a Policy must be a JSON object")
            specs.append(SyncSpec(item["ContextId"], path, text, policy))
        return specs

    def parse_mounts(self, value: Any) -> list[MountSpec]:
        """The direct mounts (``Type`` ``mount``) of a ``PersistenceDataList`` that
        ``parse_persistence`` validated."""
        mounts = []
        for item in value or []:
            if item.get("Type") != "mount":
                continue
            config = item.get("MountConfig") or {}
            if not isinstance(config, dict):
                raise invalid("PersistenceDataList", "a MountConfig must be a JSON object")
            access = config.get("AccessMode") or "readWrite"
            if access not in ("readWrite", "readOnly"):
                raise invalid(
                    "PersistenceDataList", f"AccessMode is readWrite or readOnly, not {access!r}"
                )
            source = config.get("SourcePath") or ""
            try:
                key = clean_key(source) if isinstance(source, str) else None
            except ContextPathError as exc:
                raise invalid("PersistenceDataList", f"the SourcePath {source!r}: {exc}") from None
            if key is None:
                raise invalid("PersistenceDataList", "a SourcePath must be a string")
            storage = config.get("StorageMode") or "standard"
            if not isinstance(storage, str):
                raise invalid("PersistenceDataList", "a StorageMode must be a string")
            mounts.append(
                MountSpec(item["ContextId"], item["Path"], key, access == "readOnly", storage)
            )
        for spec in mounts:
            self.existing(spec.context_id)
        return mounts

    # ---- what a direct mount excludes ----
    # While sessions mount a context, its content is their shared live copy, which becomes
    # the context's version at the last release: anything written to the stored version
    # meanwhile (an upload from a session or by URL, a file deleted, a clear) would be
    # replaced by it then, so each is refused at once, saying why; nothing is lost.
    def _mounting(self, context_id: str) -> list[str]:
        """The running sessions that mount ``context_id`` directly."""
        return sorted(self._mounted.get(context_id, set()))

    def refuse_if_mounted(self, context_id: str, what: str) -> None:
        """``InvalidContext.InUse`` when sessions mount the context: ``what`` (e.g. "this
        upload") would be replaced by their mounted copy at their release."""
        mounting = self._mounting(context_id)
        if mounting:
            raise ApiError(400, "InvalidContext.InUse", self._mounted_message(context_id, what))

    def _mounted_message(self, context_id: str, what: str) -> str:
        return (
            f"The context {context_id} is mounted by the running session(s) "
            f"{', '.join(self._mounting(context_id))}: their mounted copy becomes the "
            f"context's content when they are released, so {what} would be lost then; "
            "nothing was changed. Write through the mount, or after they are released."
        )

    def check_mount_conflicts(self, syncs: list[SyncSpec], mounts: list[MountSpec]) -> None:
        """Refuse, before anything starts, a sync uploaded at release (its policy's
        autoUpload) of a context that is mounted (by a running session or in the same
        request), and a mount of a context a running session will upload so."""
        mounted_here = {spec.context_id for spec in mounts}
        for spec in syncs:
            if spec.uploads_at_release and spec.context_id in mounted_here:
                raise invalid(
                    "PersistenceDataList",
                    f"the context {spec.context_id} is both mounted and synced with an upload"
                    " at release; the mounted copy would replace that upload (mount it, or"
                    " sync it, not both; a sync with autoUpload false may go with a mount)",
                )
            if spec.uploads_at_release:
                self.refuse_if_mounted(spec.context_id, "the upload of this sync at release")
        for context_id in sorted(mounted_here):
            uploading = self._sessions_uploading(context_id)
            if uploading:
                raise ApiError(
                    400,
                    "InvalidContext.InUse",
                    f"The context {context_id} is synced by the running session(s) "
                    f"{', '.join(uploading)}, which upload it at their release: that upload "
                    "would be replaced by the mounted copy, or replace it. Mount it after "
                    "they are released, or sync it here too.",
                )

    def _sessions_uploading(self, context_id: str) -> list[str]:
        """The running sessions whose release uploads ``context_id``."""
        found = []
        for session_id in self._store.sessions_syncing(context_id):
            for cid, path, text in self._store.session_contexts(session_id):
                spec = SyncSpec(cid, path, text, json.loads(text) if text else {})
                if cid == context_id and spec.uploads_at_release:
                    found.append(session_id)
                    break
        return found

    async def mount_at(self, session_id: str, sandbox: Sandbox, mounts: list[MountSpec]) -> None:
        """Mount each context's live directory (``ContextTree.open_live``) at its path of
        the session: what the session writes there is in the live directory at once, which
        every session mounting the context shares; it becomes the context's version when the
        last of them is released (``unmount_at_release``)."""
        if mounts and (not sandbox.isolated or sandbox.pid is None):
            raise ApiError(
                400,
                "Unsupported.ContextMount",
                "Direct context mounts need an isolated session (not serve --unisolated).",
            )
        for spec in mounts:
            async with self.lock(spec.context_id):
                tree = self.tree(spec.context_id)
                try:
                    live = await asyncio.to_thread(tree.open_live, sandbox.root_owner)
                except (OSError, disk.DiskError) as exc:
                    raise ApiError(
                        400,
                        "InvalidParameter.PersistenceDataList",
                        f"cannot mount the context {spec.context_id}: {exc}",
                    ) from None
                self._mounted.setdefault(spec.context_id, set()).add(session_id)
                mounted = (spec, time.time())
                self._session_mounts.setdefault(session_id, []).append(mounted)
                await asyncio.to_thread(_mount_one, sandbox, live, spec)

    async def unmount_at_release(self, session_id: str) -> None:
        """After a session's processes (and so its mounts) are gone: each context it was the
        last to mount gets the live directory as its new version."""
        mounts = self._session_mounts.pop(session_id, [])
        for context_id in sorted({spec.context_id for spec, _ in mounts}):
            holders = self._mounted.get(context_id, set())
            holders.discard(session_id)
            if holders:
                continue
            self._mounted.pop(context_id, None)
            if self._store.context(context_id) is None:
                continue  # deleted meanwhile: nothing to keep
            async with self.lock(context_id):
                try:
                    await asyncio.to_thread(self.tree(context_id).publish_live)
                except (OSError, disk.DiskError) as exc:
                    log.warning(
                        "context %s: the mounted writes were not stored (%s); they stay in "
                        "its live directory for the next mount",
                        context_id,
                        exc,
                    )

    async def _run_task(
        self,
        session_id: str,
        context_id: str,
        path: str,
        task_type: str,
        work: Any,
        *,
        inline: bool = False,
    ) -> None:
        """Run one sync task, recorded in the store; ``inline``: on the event loop (only
        for work of a syscall or two), else in a worker thread."""
        store = self._store
        seq = store.add_task(session_id, context_id, path, task_type)
        async with self.lock(context_id):
            store.update_task(seq, "Running")
            try:
                if inline:
                    work()
                else:
                    await asyncio.to_thread(work)
            except (OSError, ContextPathError, ArchiveError) as exc:
                store.update_task(seq, "Failed", f"{type(exc).__name__}: {exc}")
                return
            store.touch_context(context_id)
            store.update_task(seq, "Success")

    async def download_at_start(
        self, session_id: str, sandbox: Sandbox, syncs: list[SyncSpec]
    ) -> None:
        """Copy each auto-download context into the new session before it is handed out.

        A context that does not exist does not fail the creation, as in the cloud: its
        download task is reported Failed, naming the context.
        """
        for spec in syncs:
            if self._store.context(spec.context_id) is None:
                self._report_missing(session_id, spec.context_id, spec.path, "download")
                continue
            if not spec.wants("downloadPolicy", "autoDownload", True):
                continue
            await self._sync_one(session_id, sandbox, spec, None, "download")

    async def upload_at_release(self, session_id: str, sandbox: Sandbox) -> None:
        """Upload the mappings whose policy asks for it before the session goes away."""
        for context_id, path, policy_text in self._store.session_contexts(session_id):
            spec = SyncSpec(context_id, path, policy_text, json.loads(policy_text or "{}"))
            if spec.uploads_at_release:  # (a file-transfer mapping never is)
                await self._sync_one(session_id, sandbox, spec, None, "upload")

    def _report_missing(self, session_id: str, context_id: str, path: str, mode: str) -> None:
        """Record a failed sync task of a context that does not exist (nothing is touched)."""
        seq = self._store.add_task(session_id, context_id, path, mode)
        self._store.update_task(seq, "Failed", _missing_context(context_id))

    async def _sync_one(
        self, session_id: str, sandbox: Sandbox, spec: SyncSpec, path: str | None, mode: str
    ) -> None:
        if self._store.context(spec.context_id) is None:
            # Opening its tree would create a store for a context nobody has.
            self._report_missing(session_id, spec.context_id, path or spec.path, mode)
            return
        tree = self.tree(spec.context_id)
        mount = PurePosixPath(spec.path)
        session_path = path or spec.path
        try:
            # The path is the context file path too (the cloud's layout, see the module's
            # doc); one with ``..`` fails its task, saying so.
            key = clean_key(session_path)
            clean_key(spec.path)
        except ContextPathError as exc:
            seq = self._store.add_task(session_id, spec.context_id, session_path, mode)
            self._store.update_task(seq, "Failed", f"{type(exc).__name__}: {exc}")
            return
        target = PurePosixPath(session_path)
        # A path below a mapping with a policy syncs under that policy; a mapping without
        # one (file transfer) and a path outside every mapping move that path alone.
        mapped = target == mount or (target.is_relative_to(mount) and not spec.transfers_files)
        policy = spec if mapped else SyncSpec(spec.context_id, session_path)
        within = clean_key(str(target.relative_to(mount))) if mapped else PurePosixPath(".")
        keep = lambda rel, is_dir: policy.admits(within / rel, is_dir)  # noqa: E731
        scratch = self._data_dir / "tmp"

        def upload() -> None:
            if self._mounting(spec.context_id):  # mounted since SyncContext was answered
                message = self._mounted_message(spec.context_id, "this upload")
                raise OSError(errno.EBUSY, message)
            merge = not policy.mirrors_deletions()
            upload_from_session(sandbox, session_path, tree, key, keep, merge=merge)

        def download() -> None:
            rule = policy.extract_rule()
            download_into_session(sandbox, tree, key, session_path, rule, scratch, keep)

        work = upload if mode == "upload" else download
        # Downloading nothing (a new context, such as every create's file-transfer one) is
        # one mkdir: cheaper on the loop than a worker thread's hop (~2 ms on a busy machine,
        # inside create -> first command).
        empty = mode == "download" and policy.extract_rule() is None and not tree.holds(key)
        await self._run_task(session_id, spec.context_id, session_path, mode, work, inline=empty)

    # ---- actions ----
    def get(self, fields: dict[str, Any]) -> dict[str, str]:
        """GetContext by Name (AllowCreate creates a missing one), or by ContextId alone (how
        0.13+ poll a ClearContext)."""
        if "Name" not in fields:
            if "ContextId" not in fields:
                raise missing("Name")
            return _context_data(self.existing(fields["ContextId"]))
        name = fields["Name"]
        if not name.strip():
            raise invalid("Name", "must not be empty")
        row = self._store.context_by_name(name)
        if row is None:
            if not fields.get("AllowCreate"):
                raise ApiError(
                    400, "InvalidContext.NotFound", f"The context {name!r} does not exist."
                )
            check_name(name)
            row = self._store.add_context("ctx-" + secrets.token_hex(8), name)
        return _context_data(row)

    def list_page(self, fields: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, Any]]:
        """ListContexts (paging by NextToken)."""
        limit = min(int(fields.get("MaxResults") or 10), 100)
        offset = decode_page_token(fields.get("NextToken"))
        rows, total = self._store.contexts(offset, limit)
        more = offset + limit < total
        extra = {
            "NextToken": encode_page_token(offset + limit) if more else "",
            "MaxResults": limit,
            "TotalCount": total,
        }
        return [_context_data(row) for row in rows], extra

    def modify(self, fields: dict[str, Any]) -> None:
        """ModifyContext (rename)."""
        row = self.existing(fields["Id"], "Id")
        name = fields["Name"]
        check_name(name)
        other = self._store.context_by_name(name)
        if other is not None and other.id != row.id:
            raise ApiError(
                400, "InvalidContext.NameExists", f"A context named {name!r} exists already."
            )
        self._store.rename_context(row.id, name)

    async def delete(self, fields: dict[str, Any]) -> None:
        """DeleteContext: the context and all its files; refused while a session syncs or
        mounts it (its next upload, or what it writes to the mount, would be lost) unless
        ``Force``."""
        row = self.existing(fields["Id"], "Id")
        syncing = sorted(
            set(self._store.sessions_syncing(row.id)) | self._mounted.get(row.id, set())
        )
        if syncing and not fields.get("Force"):
            raise ApiError(
                400,
                "InvalidContext.InUse",
                f"The context {row.id} is synced or mounted by the running session(s) "
                f"{', '.join(syncing)}: deleting it would lose what they write. Delete those"
                " sessions first, or delete the context with force=True.",
            )
        async with self.lock(row.id):
            self._store.delete_context(row.id)
            await asyncio.to_thread(self.tree(row.id).delete)

    def info(self, fields: dict[str, Any]) -> dict[str, str]:
        """GetContextInfo: the session's sync task records, doubly JSON-encoded."""
        session_id = fields["SessionId"]
        if self._store.session(session_id) is None:
            raise ApiError(
                400, "InvalidMcpSession.NotFound", f"The session {session_id} does not exist."
            )
        tasks = self._store.tasks(
            session_id,
            context_id=fields.get("ContextId"),
            path=fields.get("Path"),
            task_type=fields.get("TaskType"),
        )
        if not tasks:
            return {"ContextStatus": ""}
        records = [
            {
                "contextId": task.context_id,
                "path": task.path,
                "errorMessage": task.error,
                "status": task.status,
                "startTime": task.start_time,
                "finishTime": task.finish_time,
                "taskType": task.task_type,
            }
            for task in tasks
        ]
        return {"ContextStatus": json.dumps([{"type": "data", "data": json.dumps(records)}])}

    async def clear(self, fields: dict[str, Any]) -> None:
        """ClearContext: every file of the context goes; the context stays (its State is
        ``available`` again when this answers, which 0.13+ poll GetContext for)."""
        row = self.existing(fields["Id"], "Id")
        async with self.lock(row.id):
            self.refuse_if_mounted(row.id, "clearing it")
            await asyncio.to_thread(self.tree(row.id).delete)
        self._store.touch_context(row.id)

    async def bind(self, fields: dict[str, Any]) -> None:
        """BindContexts: more contexts for a running session, downloaded into it now (as at
        create) and uploaded at its release as their policies ask."""
        row = self._running.get(fields["SessionId"])
        sandbox = self._sandboxes.get(row.id)
        if sandbox is None:
            raise ApiError(400, "InvalidMcpSession.NotFound", f"The session {row.id} is released.")
        syncs = self.parse_persistence(fields["PersistenceDataList"])
        mounts = self.parse_mounts(fields["PersistenceDataList"])
        for spec in syncs:
            self.existing(spec.context_id)
        self.check_mount_conflicts(syncs, mounts)
        for spec in syncs:
            self._store.add_session_context(row.id, spec.context_id, spec.path, spec.policy_text)
        await self.mount_at(row.id, sandbox, mounts)
        await self.download_at_start(row.id, sandbox, syncs)

    def bindings(self, fields: dict[str, Any]) -> list[dict[str, Any]]:
        """DescribeSessionContexts: the contexts a session syncs and those it mounts
        directly (``Type`` ``mount``), at create or bound since."""
        row = self._running.get(fields["SessionId"])
        found: list[dict[str, Any]] = []
        for context_id, path, policy_text in self._store.session_contexts(row.id):
            context = self._store.context(context_id)
            found.append(
                {
                    "ContextId": context_id,
                    "ContextName": context.name if context else "",
                    "Path": path,
                    "Policy": policy_text,
                }
            )
        for spec, bound_at in self._session_mounts.get(row.id, []):
            context = self._store.context(spec.context_id)
            found.append(spec.binding(context.name if context else "", bound_at))
        return found

    def sync(self, fields: dict[str, Any]) -> None:
        """SyncContext: start the matching uploads or downloads in the background."""
        row = self._running.get(fields["SessionId"])
        sandbox = self._sandboxes.get(row.id)
        if sandbox is None:
            raise ApiError(400, "InvalidMcpSession.NotFound", f"The session {row.id} is released.")
        mode = fields.get("Mode") or "upload"
        context_id, path = fields.get("ContextId"), fields.get("Path")
        if context_id:
            self.existing(context_id)
        # A sync of every context leaves out the session's internal ones (staging areas).
        internal = () if context_id else self._store.internal_contexts(row.id)
        specs = [
            SyncSpec(cid, mount, text, json.loads(text) if text else {})
            for cid, mount, text in self._store.session_contexts(row.id)
            if (cid == context_id if context_id else cid not in internal)
        ]
        if context_id and not specs:
            specs = [SyncSpec(context_id, path or "/")]
        if path and not path.startswith("/"):
            raise invalid("Path", "must be an absolute path")
        if path and ".." in PurePosixPath(path).parts:
            raise invalid("Path", f"{path!r} contains '..'")
        if path and context_id:
            mounted = [s for s in specs if PurePosixPath(path).is_relative_to(s.path)]
            specs = mounted[:1] or specs[:1]
        if mode == "upload" and context_id:  # (of every context: the mounted ones' tasks fail)
            self.refuse_if_mounted(context_id, "this upload")
        for spec in specs:
            self._sync_in_background(
                row.id, self._sync_one(row.id, sandbox, spec, path if context_id else None, mode)
            )

    def list_files(self, fields: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """DescribeContextFiles: one page of one folder."""
        row = self.existing(fields["ContextId"])
        folder = self._key(fields["ParentFolderPath"], "ParentFolderPath")
        number = int(fields.get("PageNumber") or 1)
        size = min(int(fields.get("PageSize") or 50), 1000)
        entries = self.tree(row.id).list_folder(folder)
        page = entries[(number - 1) * size : number * size]
        data = [
            {
                "FileId": entry.key,
                "FileName": entry.name,
                "FilePath": entry.key,
                "FileType": "folder" if entry.is_dir else "file",
                "GmtCreate": iso(entry.mtime),
                "GmtModified": iso(entry.mtime),
                "Size": entry.size,
                "Status": "available",
            }
            for entry in page
        ]
        return data, {"Count": len(entries)}

    async def delete_file(self, fields: dict[str, Any]) -> None:
        """DeleteContextFile."""
        row = self.existing(fields["ContextId"])
        key = self._key(fields["FilePath"], "FilePath")
        tree = self.tree(row.id)
        async with self.lock(row.id):
            self.refuse_if_mounted(row.id, "deleting this file")
            found = await asyncio.to_thread(tree.delete_file, key)
        if not found:
            raise ApiError(
                400, "InvalidContextFile.NotFound", f"{fields['FilePath']} is not in the context."
            )
        self._in_background(asyncio.to_thread(tree.empty_trash))

    def file_url(self, fields: dict[str, Any], method: str) -> dict[str, Any]:
        """GetContextFileUploadUrl / GetContextFileDownloadUrl: a pre-signed, expiring URL.

        As with object storage, any well-formed file path of an existing context gets a URL,
        whether a file is there or not: a GET of a missing file answers 404.
        """
        row = self.existing(fields["ContextId"])
        key = self._key(fields["FilePath"], "FilePath")
        if key == PurePosixPath("."):
            raise invalid("FilePath", "a file path is required")
        expires = int(time.time()) + self._url_lifetime_s
        url = self._signer.url(self._address.base_url, method, row.id, str(key), expires)
        return FileUrlData(url=url, expire_time=expires).to_dict()

    @staticmethod
    def _key(path: str, field_name: str) -> PurePosixPath:
        try:
            return clean_key(path)
        except ContextPathError as exc:
            raise invalid(field_name, str(exc)) from None
