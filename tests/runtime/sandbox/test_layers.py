"""Sandboxes of user images: layers stacked on their built-in's root filesystem, nothing of
the host seen, pools per image, nothing left mounted; root and rootless."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentbay_local.images import build as image_build
from agentbay_local.images import imagefile
from agentbay_local.images.registry import ImageInfo, ImageRegistry
from agentbay_local.sandbox import Sandbox, egress, layers, layout
from agentbay_local.sandbox.egress import NetworkPolicy
from agentbay_local.sandbox.image import SandboxImage
from agentbay_local.sandbox.manager import MAX_IMAGE_POOLS
from tests.runtime.sandbox.conftest import Env, new_env
from tests.support.base_images import session_image
from tests.support.system_parts import skip_unless_installed

RUN = "mkdir -p /root/from-image /app && echo layer > /app/f && echo etc > /etc/agentbay-layer"


def _build(data_dir: Path, name: str, *commands: str) -> ImageInfo:
    recipe = imagefile.recipe_from_options("linux_latest", list(commands))
    return asyncio.run(image_build.build(data_dir, name, recipe))


@pytest.fixture(scope="module")
def image_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, SandboxImage]]:
    data_dir = tmp_path_factory.mktemp("layers")
    info = _build(data_dir, "imgc-layers", RUN)
    env = new_env(data_dir, pool_size=1)
    yield env, _sandbox_image(data_dir, info)
    env.close()


def _sandbox_image(data_dir: Path, info: ImageInfo) -> SandboxImage:
    return ImageRegistry(data_dir).sandbox_image(info, session_image(info.builtin))


def _session(env: Env, image: SandboxImage, name: str) -> Sandbox:
    return env.run(env.manager.create(name, hostname=name, image_id=image.name, image=image))


def _wait_ready(env: Env, image: SandboxImage, count: int) -> None:
    deadline = time.monotonic() + 60
    while env.manager.ready_count(image) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert env.manager.ready_count(image) == count


def test_a_user_image_shows_its_files_and_still_hides_the_hosts(
    image_env: tuple[Env, SandboxImage],
) -> None:
    env, image = image_env
    box = _session(env, image, "hide-1")
    try:
        assert env.sh(box, "cat /app/f /etc/agentbay-layer") == "layer\netc\n"
        assert image.tree is not None
        own = set(os.listdir(image.tree / "root"))  # a fresh Debian's dotfiles
        assert set(env.sh(box, "ls -A /root").split()) == {"from-image", *own}
        assert (
            env.sh(box, "ls -A /tmp /var/tmp /home /mnt")
            == "/home:\n\n/mnt:\n\n/tmp:\n\n/var/tmp:\n"
        )
        for name in sorted(set(os.listdir("/")) - layers.SYSTEM_ENTRIES):
            listing = env.call(box, "shell", command=f"ls -A /{name}", timeout_ms=10000)
            assert listing["isError"] is True, name
        assert env.sh(box, f"ls -A {env.manager.data_dir} | wc -l") == "0\n"
        env.sh(box, "echo changed > /app/f")
    finally:
        env.release(box)
    assert not os.path.exists("/app/f") and not os.path.exists("/etc/agentbay-layer")
    layer = ImageRegistry(env.data_dir).layer_path(image.layers[0].name)
    assert (layer / "app" / "f").read_text() == "layer\n"  # the shared layer never changes


def test_the_pool_keeps_sandboxes_for_an_image_once_used(
    image_env: tuple[Env, SandboxImage],
) -> None:
    env, image = image_env
    env.release(_session(env, image, "use-1"))
    _wait_ready(env, image, 1)
    box = _session(env, image, "use-2")  # handed out from the pool, then refilled
    try:
        assert env.sh(box, "cat /app/f") == "layer\n"
        assert env.sh(box, "hostname") == "use-2\n"
    finally:
        env.release(box)
    _wait_ready(env, image, 1)


def test_a_rebuilt_image_replaces_the_pool_of_the_old_one(
    image_env: tuple[Env, SandboxImage],
) -> None:
    env, old = image_env
    env.release(_session(env, old, "old-1"))
    _wait_ready(env, old, 1)
    info = _build(env.data_dir, "imgc-layers", "mkdir /app && echo rebuilt > /app/f")
    new = _sandbox_image(env.data_dir, info)
    assert new.key != old.key and new.name == old.name
    box = _session(env, new, "new-1")
    try:
        assert env.manager.ready_count(old) == 0
        assert env.sh(box, "cat /app/f; test -e /etc/agentbay-layer || echo gone") == (
            "rebuilt\ngone\n"
        )
    finally:
        env.release(box)


def test_closing_leaves_no_mount_of_the_image_stack(tmp_path: Path) -> None:
    info = _build(tmp_path, "imgc-close", "true")
    image = _sandbox_image(tmp_path, info)
    env = new_env(tmp_path, pool_size=1)
    try:
        box = _session(env, image, "close-1")
        assert env.sh(box, "echo up") == "up\n"
    finally:
        env.close()
    assert [path for path in layout.mounted_paths() if path.startswith(str(tmp_path))] == []
    assert os.listdir(tmp_path / "sessions") == []


@pytest.mark.parametrize("mode", ["egress", "none"])
def test_a_build_runs_with_the_sessions_network_policy(tmp_path: Path, mode: str) -> None:
    if mode == "egress":
        skip_unless_installed("slirp4netns", "nftables")
    problem = egress.egress_problem() if mode == "egress" else None
    if problem:
        pytest.skip(f"no outbound NAT for sandboxes here: {problem}")
    recipe = imagefile.recipe_from_options(
        "code_latest", ["ls /sys/class/net | sort | tr '\\n' ' ' > /opt/links"]
    )
    info = asyncio.run(
        image_build.build(tmp_path, f"imgc-net-{mode}", recipe, network=NetworkPolicy(mode))
    )
    links = (ImageRegistry(tmp_path).layer_path(info.layers[0]) / "opt" / "links").read_text()
    assert links.split() == (["lo", "tap0"] if mode == "egress" else ["lo"])


def test_pools_are_kept_for_the_most_recently_used_images_only(
    image_env: tuple[Env, SandboxImage],
) -> None:
    env, _ = image_env
    info = ImageRegistry(env.data_dir).get("imgc-layers")  # as built last (maybe rebuilt)
    assert info is not None
    stack = _sandbox_image(env.data_dir, info)
    # Five images by pool key, one layer stack: what matters here is the key.
    images = [
        dataclasses.replace(stack, key=f"recent-{n}", name=f"imgc-recent-{n}")
        for n in range(MAX_IMAGE_POOLS + 1)
    ]
    for number, image in enumerate(images):
        env.release(_session(env, image, f"recent-{number}"))
        _wait_ready(env, image, 1)
    assert env.manager.ready_count(images[0]) == 0  # the least recently used one went
    assert all(env.manager.ready_count(image) == 1 for image in images[1:])
