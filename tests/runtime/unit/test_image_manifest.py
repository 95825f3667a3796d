"""The built-in images' manifest (``agentbay_local/images/builtin.yaml``) and its loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentbay_local.images import manifest
from agentbay_local.images.registry import builtin_images
from agentbay_local.protocol import description


def test_the_manifest_lists_every_built_in_image_the_runtime_serves() -> None:
    recipes = manifest.load()
    assert sorted(recipes) == builtin_images(description.image_servers())


def test_images_extend_each_other_and_keep_their_parents_packages_first() -> None:
    recipes = manifest.load()
    code, browser, linux = (
        recipes[name] for name in ("code_latest", "browser_latest", "linux_latest")
    )
    assert {
        "python3",
        "python3-pip",
        "python3-venv",
        "nodejs",
        "git",
        "curl",
        "ca-certificates",
        "procps",
    } <= set(code.packages)
    assert browser.packages[: len(code.packages)] == code.packages
    assert "chromium" in browser.packages and "chromium" not in code.packages
    assert linux.packages[: len(browser.packages)] == browser.packages
    # What the desktop starts (sandbox/inside/desktop.py) and what its tests open.
    assert {
        "xvfb",
        "openbox",
        "xterm",
        "mousepad",
        "pcmanfm",
        "xclip",
        "fonts-dejavu-core",
        "chromium",
    } <= set(linux.packages)
    assert all(recipe.variant == "apt" for recipe in recipes.values())  # apt-get works
    assert code.sources[0].startswith("deb http") and " bookworm " in code.sources[0]


def test_the_digest_follows_what_decides_the_build(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.yaml", "[python3-minimal]")
    second = _write(tmp_path / "b.yaml", "[python3-minimal, less]")
    assert manifest.load(first)["tiny"].digest() == manifest.load(first)["tiny"].digest()
    assert manifest.load(first)["tiny"].digest() != manifest.load(second)["tiny"].digest()


def test_a_mirror_of_ones_own_replaces_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(manifest.MIRROR_ENV, "http://127.0.0.1:9/debian")
    recipe = manifest.load(_write(tmp_path / "m.yaml", "[python3-minimal]"))["tiny"]
    assert recipe.sources == ("deb http://127.0.0.1:9/debian bookworm main",)


@pytest.mark.parametrize(
    ("images", "complaint"),
    [
        ("  tiny: {packages: [python3, 'x y']}", "not package names: x y"),
        ("  tiny: {packages: [less]}", "has no python3"),
        ("  tiny: {extends: nope, packages: [python3]}", "extends unknown 'nope'"),
        ("  a: {extends: b, packages: [python3]}\n  b: {extends: a}", "in a circle"),
        ("  tiny: {variant: huge, packages: [python3]}", "variant must be one of"),
        ("  tiny: [python3]", "image 'tiny': must be a mapping"),
    ],
)
def test_a_broken_manifest_says_which_image_and_key(
    tmp_path: Path, images: str, complaint: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"debian: {{mirror: http://127.0.0.1:9/d}}\nimages:\n{images}\n")
    with pytest.raises(manifest.ManifestError, match=complaint):
        manifest.load(path)


def _write(path: Path, packages: str) -> Path:
    path.write_text(
        "debian: {suite: bookworm, mirror: 'http://127.0.0.1:9/debian', updates: false}\n"
        f"images:\n  tiny: {{variant: essential, packages: {packages}}}\n"
    )
    return path
