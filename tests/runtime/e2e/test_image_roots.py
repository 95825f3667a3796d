"""Sessions run on their images' own root filesystems: nothing of the host shows in them.

Markers planted on the host (where this user may write) and every host entry the image
lacks, in /etc, /opt, /var/lib and /usr/local, are looked for in sessions of each built-in
image, of a user image and of an imported root filesystem; what a session's dpkg and
Python report is what ``agentbay local image list`` recorded. Root and rootless alike
(``.ci/test-rootless`` runs this module as an ordinary user, with images of its own).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentbay_local.images import user_images
from agentbay_local.images.base_images import BaseImageCache
from agentbay_local.images.rootfs import as_tree_owner
from agentbay_local.sandbox import egress
from agentbay_local.server import EmbeddedRuntime
from tests.runtime.e2e.api import Api
from tests.support import system_parts
from tests.support.base_images import built_record

#: Where a host keeps what a session must never see (configuration, installed software,
#: databases' data).
HOST_DIRS = ("/etc", "/opt", "/var/lib", "/usr/local")
BUILTINS = ("code_latest", "browser_latest", "linux_latest")
USER_IMAGE = "imgc-image-roots"
IMPORTED = "imported-image-roots"
APT_IMAGE = "imgc-image-roots-apt"


@pytest.fixture(scope="module")
def markers() -> Iterator[list[str]]:
    """Marker files planted on the host in ``HOST_DIRS`` (those this user may write in:
    all of them as root), removed afterwards."""
    planted = []
    for directory in HOST_DIRS:
        path = f"{directory}/agentbay-marker-{secrets.token_hex(4)}"
        with contextlib.suppress(OSError):
            Path(path).write_text("host secret\n")
            planted.append(path)
    yield planted
    for path in planted:
        os.unlink(path)


#: Files every session gets of its own from the runtime (its name, its resolver).
SESSION_MADE = frozenset({"/etc/hostname", "/etc/hosts", "/etc/resolv.conf"})


def _host_only(tree: Path, planted: list[str]) -> list[str]:
    """Paths of ``HOST_DIRS`` entries the host has and the image's tree has not."""
    found = list(planted)
    for directory in HOST_DIRS:
        with contextlib.suppress(OSError):
            for name in os.listdir(directory):
                path = f"{directory}/{name}"
                if path in SESSION_MADE:
                    continue
                if not os.path.lexists(f"{tree}{path}") and path not in found:
                    found.append(path)
    return found


def _visible(api: Api, session_id: str, paths: list[str]) -> list[str]:
    """Which of ``paths`` exist in the session."""
    command = "for p in " + " ".join(f"'{p}'" for p in paths)
    command += '; do [ -e "$p" ] || [ -L "$p" ] && echo "$p"; done; true'
    return api.text(session_id, "shell", command=command, timeout_ms=30000).split()


@pytest.mark.parametrize("image", BUILTINS)
def test_a_builtin_session_sees_its_image_not_the_host(
    api: Api, markers: list[str], image: str
) -> None:
    cache = BaseImageCache()
    record = built_record(image)
    host_only = _host_only(cache.tree_path(record), markers)
    assert len(host_only) >= 1
    session_id = api.create_session(ImageId=image)
    try:
        assert _visible(api, session_id, host_only) == []
        # Its dpkg and Python are the image's, as recorded at the build.
        asked = "dpkg-query -W -f '${Package} ${Version}\\n' python3 bash; python3 -V"
        answer = api.text(session_id, "shell", command=asked, timeout_ms=30000).splitlines()
        assert sorted(answer) == [
            f"Python {record.python_version}",
            f"bash {record.packages['bash']}",
            f"python3 {record.packages['python3']}",
        ]
    finally:
        api.call("ReleaseMcpSession", SessionId=session_id)


def test_a_user_image_session_sees_its_layers_and_image_not_the_host(
    runtime: EmbeddedRuntime, api: Api, markers: list[str]
) -> None:
    user_images.build_image(
        USER_IMAGE,
        base="code_latest",
        run=["echo layer > /etc/agentbay-layer"],
        data_dir=runtime.data_dir,
        network="none",
    )
    try:
        record = BaseImageCache().get("code_latest")
        assert record is not None
        host_only = _host_only(BaseImageCache().tree_path(record), markers)
        session_id = api.create_session(ImageId=USER_IMAGE)
        try:
            assert _visible(api, session_id, host_only) == []
            assert api.text(session_id, "shell", command="cat /etc/agentbay-layer") == "layer\n"
        finally:
            api.call("ReleaseMcpSession", SessionId=session_id)
    finally:
        user_images.remove_image(USER_IMAGE, runtime.data_dir)


def test_an_imported_root_filesystem_runs_a_session(
    runtime: EmbeddedRuntime, api: Api, markers: list[str], tmp_path: Path
) -> None:
    """A tarball made elsewhere (here: of code_latest's tree, with a file of its own)
    becomes a base image: a session runs on it with code_latest's tools, and a user image
    builds on it."""
    cache = BaseImageCache()
    record = built_record("code_latest")
    tree = cache.tree_path(record)
    tarball = tmp_path / "rootfs.tar"
    extra = tmp_path / "extra"
    (extra / "etc").mkdir(parents=True)
    (extra / "etc" / "imported-marker").write_text("imported\n")
    tar = ["tar", "--create", "--numeric-owner", "--file", str(tarball), "-C", str(tree), "."]
    subprocess.run(as_tree_owner(tar), check=True, timeout=300)
    subprocess.run(
        ["tar", "--append", "--file", str(tarball), "-C", str(extra), "./etc/imported-marker"],
        check=True,
        timeout=60,
    )
    imported = cache.import_tarball(IMPORTED, tarball)
    try:
        session_id = api.create_session(ImageId=IMPORTED)
        try:
            assert api.text(session_id, "shell", command="cat /etc/imported-marker") == (
                "imported\n"
            )
            host_only = _host_only(cache.tree_path(imported), markers)
            assert _visible(api, session_id, host_only) == []
        finally:
            api.call("ReleaseMcpSession", SessionId=session_id)
        tools = json.loads(api.call("ListMcpTools", ImageId=IMPORTED))
        assert "shell" in {tool["name"] for tool in tools}
        # A user image FROM it: its layer on the imported tree.
        user_images.build_image(
            USER_IMAGE,
            base=IMPORTED,
            run=["echo on-imported > /etc/agentbay-layer"],
            data_dir=runtime.data_dir,
            network="none",
        )
        try:
            session_id = api.create_session(ImageId=USER_IMAGE)
            try:
                seen = api.text(
                    session_id, "shell", command="cat /etc/imported-marker /etc/agentbay-layer"
                )
                assert seen == "imported\non-imported\n"
            finally:
                api.call("ReleaseMcpSession", SessionId=session_id)
        finally:
            user_images.remove_image(USER_IMAGE, runtime.data_dir)
    finally:
        cache.remove(IMPORTED)


def test_apt_get_installs_packages_in_a_build_and_in_a_session(
    runtime: EmbeddedRuntime, api: Api
) -> None:
    """Debian's package registry (the one address besides loopback these tests reach): a
    RUN step installs a small package into a user image, and a session of it installs one
    with apt-get itself, in its own root filesystem and package database."""
    system_parts.skip_unless_installed("slirp4netns", "nftables")  # the skip names the command
    problem = egress.egress_problem()
    if problem:
        pytest.skip(f"sessions have no outbound network here: {problem}")
    user_images.build_image(
        APT_IMAGE,
        base="code_latest",
        run=["apt-get update -qq && apt-get install -y -qq hello && hello"],
        data_dir=runtime.data_dir,
    )
    try:
        session_id = api.create_session(ImageId=APT_IMAGE)
        try:
            assert api.text(session_id, "shell", command="hello") == "Hello, world!\n"
            installed = api.text(
                session_id,
                "shell",
                # The image's package lists (from the build) say where the package is.
                command="apt-get remove -y -qq hello >/dev/null && apt-get install -y -qq "
                "hello >/dev/null && dpkg-query -W -f '${Status}' hello && hello",
                timeout_ms=300000,
            )
            assert installed == "install ok installedHello, world!\n"
        finally:
            api.call("ReleaseMcpSession", SessionId=session_id)
    finally:
        user_images.remove_image(APT_IMAGE, runtime.data_dir)
