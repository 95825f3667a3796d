"""SyncPolicy semantics end to end: white lists and excludes, deletePolicy, extractPolicy.

Each test writes through one session, releases it with ``sync_context=True`` (or uploads
archives through a pre-signed URL) and checks what the next session sees.
"""

from __future__ import annotations

import io
import tarfile
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentbay import AgentBay
from agentbay.context import Context
from agentbay.context_sync import (
    BWList,
    ContextSync,
    DeletePolicy,
    ExtractPolicy,
    SyncPolicy,
    WhiteList,
)
from agentbay.session import Session
from agentbay.session_params import CreateSessionParams

MOUNT = "/root/project"


@pytest.fixture
def context(bay: AgentBay) -> Iterator[Context]:
    created = bay.context.create(f"policy-{uuid.uuid4().hex[:8]}").context
    assert created is not None
    yield created
    bay.context.delete(created)


def start(bay: AgentBay, context: Context, policy: SyncPolicy) -> Session:
    params = CreateSessionParams(context_syncs=[ContextSync.new(context.id, MOUNT, policy)])
    created = bay.create(params)
    assert created.success, created.error_message
    return created.session


def shell(session: Session, command: str) -> str:
    result = session.command.execute_command(command, 10000)
    assert result.success, result.error_message
    return result.output


def tree(session: Session) -> list[str]:
    """Every path under the mount, relative to it, sorted."""
    out = shell(session, f"cd {MOUNT} && find . -mindepth 1 | sort")
    return [line.removeprefix("./") for line in out.split()]


def put(bay: AgentBay, context: Context, path: str, data: bytes) -> None:
    """Store ``data`` at ``path`` of the context (its path in a session mounting it, as in
    the cloud)."""
    url = bay.context.get_file_upload_url(context.id, path)
    assert url.success, url.error_message
    assert httpx.put(url.url, content=data, timeout=30).status_code == 200


def test_white_lists_and_their_excludes_choose_what_is_uploaded(
    bay: AgentBay, context: Context
) -> None:
    policy = SyncPolicy(
        bw_list=BWList(
            white_lists=[
                WhiteList(path="/keep", exclude_paths=["cache"]),
                WhiteList(path="settings.json"),
            ]
        )
    )
    first = start(bay, context, policy)
    shell(
        first,
        f"mkdir -p {MOUNT}/keep/cache {MOUNT}/keep/sub {MOUNT}/other && cd {MOUNT} && "
        "echo a > keep/a.txt && echo b > keep/sub/b.txt && echo c > keep/cache/c.bin && "
        "echo s > settings.json && echo o > other/o.txt && echo t > top.txt",
    )
    assert first.delete(sync_context=True).success

    second = start(bay, context, policy)
    try:
        assert tree(second) == ["keep", "keep/a.txt", "keep/sub", "keep/sub/b.txt", "settings.json"]
    finally:
        second.delete()


def test_white_lists_choose_what_is_downloaded_and_the_mount_what_is_seen(
    bay: AgentBay, context: Context
) -> None:
    """The cloud's browser extensions pick a context's extensions by white list with uploads
    off; a session gets only the context's files below its mount, at their own paths."""
    put(bay, context, f"{MOUNT}/keep/a.txt", b"a")
    put(bay, context, f"{MOUNT}/other.txt", b"o")
    put(bay, context, "/elsewhere/x.txt", b"x")
    session = start(bay, context, SyncPolicy(bw_list=BWList(white_lists=[WhiteList("keep")])))
    try:
        assert tree(session) == ["keep", "keep/a.txt"]
        assert shell(session, "test -e /elsewhere || echo absent").strip() == "absent"
    finally:
        session.delete()


@pytest.mark.parametrize("mirror", [True, False], ids=["syncLocalFile", "keepContextFiles"])
def test_delete_policy_decides_whether_deletions_reach_the_context(
    bay: AgentBay, context: Context, mirror: bool
) -> None:
    policy = SyncPolicy(delete_policy=DeletePolicy(sync_local_file=mirror))
    first = start(bay, context, policy)
    shell(first, f"mkdir -p {MOUNT} && echo 1 > {MOUNT}/gone.txt && echo 2 > {MOUNT}/kept.txt")
    assert first.delete(sync_context=True).success

    second = start(bay, context, policy)
    shell(second, f"rm {MOUNT}/gone.txt && echo 3 > {MOUNT}/kept.txt")
    assert second.delete(sync_context=True).success

    third = start(bay, context, policy)
    try:
        assert tree(third) == (["kept.txt"] if mirror else ["gone.txt", "kept.txt"])
        assert shell(third, f"cat {MOUNT}/kept.txt").strip() == "3"
    finally:
        third.delete()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def tar_gz_bytes(members: dict[str, bytes], link: tuple[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o4755  # setuid must not survive
            bundle.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link[0])
            info.type, info.linkname = tarfile.SYMTYPE, link[1]
            bundle.addfile(info)
    return buffer.getvalue()


def test_archives_are_unpacked_into_a_folder_named_after_them(
    bay: AgentBay, context: Context
) -> None:
    put(bay, context, f"{MOUNT}/bundle.zip", zip_bytes({"a.txt": b"A", "deep/b.txt": b"B"}))
    put(bay, context, f"{MOUNT}/data/set.tar.gz", tar_gz_bytes({"rows.csv": b"1,2\n"}))
    session = start(bay, context, SyncPolicy())
    try:
        assert tree(session) == [
            "bundle",
            "bundle/a.txt",
            "bundle/deep",
            "bundle/deep/b.txt",
            "data",
            "data/set",
            "data/set/rows.csv",
        ]
        assert shell(session, f"cat {MOUNT}/bundle/deep/b.txt") == "B"
        assert shell(session, f"stat -c %a {MOUNT}/data/set/rows.csv").strip() == "755"
    finally:
        session.delete()


def test_extract_to_current_folder_keeping_the_archive(bay: AgentBay, context: Context) -> None:
    put(bay, context, f"{MOUNT}/in/pack.tgz", tar_gz_bytes({"x.txt": b"X"}))
    policy = SyncPolicy(
        extract_policy=ExtractPolicy(delete_src_file=False, extract_current_folder=True)
    )
    session = start(bay, context, policy)
    try:
        assert tree(session) == ["in", "in/pack.tgz", "in/x.txt"]
    finally:
        session.delete()


def test_extract_false_leaves_archives_alone(bay: AgentBay, context: Context) -> None:
    put(bay, context, f"{MOUNT}/pack.zip", zip_bytes({"x.txt": b"X"}))
    session = start(bay, context, SyncPolicy(extract_policy=ExtractPolicy(extract=False)))
    try:
        assert tree(session) == ["pack.zip"]
    finally:
        session.delete()


def test_hostile_archives_stay_inside_the_session(bay: AgentBay, context: Context) -> None:
    marker = f"agentbay-escape-{uuid.uuid4().hex}"
    put(
        bay,
        context,
        f"{MOUNT}/evil.zip",
        zip_bytes({f"../../../../../../tmp/{marker}": b"out", f"/tmp/{marker}": b"abs"}),
    )
    put(bay, context, f"{MOUNT}/evil.tar.gz", tar_gz_bytes({"ok.txt": b"ok"}, link=("etc", "/etc")))
    session = start(bay, context, SyncPolicy())
    try:
        assert not Path(f"/tmp/{marker}").exists()
        assert tree(session) == ["evil", "evil/ok.txt", "evil/tmp", f"evil/tmp/{marker}"]
        assert shell(session, f"test -e /tmp/{marker} || echo absent").strip() == "absent"
    finally:
        session.delete()


def test_a_corrupt_archive_fails_the_download_with_a_reason(
    bay: AgentBay, context: Context
) -> None:
    put(bay, context, f"{MOUNT}/broken.zip", b"PK\x03\x04 this is not a zip file")
    session = start(bay, context, SyncPolicy())
    try:
        statuses = session.context.info().context_status_data
        failed = [s for s in statuses if s.context_id == context.id and s.task_type == "download"]
        assert failed and failed[0].status == "Failed"
        assert "broken.zip cannot be unpacked" in failed[0].error_message
        assert tree(session) == ["broken.zip"], "the archive itself is still delivered"
    finally:
        session.delete()
