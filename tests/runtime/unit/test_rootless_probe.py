"""Rootless probing: what is missing for user namespaces is named with the way to enable it."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from agentbay_local.sandbox import probe, userns


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("user.max_user_namespaces", "0"),
        ("kernel.unprivileged_userns_clone", "0"),
        ("kernel.apparmor_restrict_unprivileged_userns", "1"),
    ],
)
def test_each_kernel_setting_in_the_way_is_named_with_its_fix(
    monkeypatch: pytest.MonkeyPatch, setting: str, value: str
) -> None:
    # The machine's own values stay untouched: only this process's reading of them changes.
    monkeypatch.setattr(probe, "_sysctl", lambda name: value if name == setting else None)
    problem = probe.user_namespace_problem()
    assert problem is not None
    assert f"{setting} = {value}" in problem
    assert "sysctl -w" in problem and "/etc/sysctl.d/" in problem


def test_subordinate_ranges_are_read_for_this_user_by_name_or_uid(tmp_path: Path) -> None:
    name = pwd.getpwuid(os.getuid()).pw_name
    table = tmp_path / "subuid"
    table.write_text(f"someone-else:1000:10\n{name}:200000:65536\n{os.getuid()}:300000:5\n")
    assert userns._own_range(str(table)) == userns.IdRange(200000, 65536)
    table.write_text(f"{os.getuid()}:300000:5\nbroken line\n")
    assert userns._own_range(str(table)) == userns.IdRange(300000, 5)
    table.write_text("someone-else:1000:10\n")
    assert userns._own_range(str(table)) is None
    assert userns._own_range(str(tmp_path / "missing")) is None


def test_the_id_mapping_becomes_unshare_options() -> None:
    mapped = userns.IdMapping(userns.IdRange(100000, 65536), userns.IdRange(100000, 65536))
    assert mapped.unshare_args() == [
        "--user",
        "--map-root-user",
        "--map-users=100000,1,65536",
        "--map-groups=100000,1,65536",
    ]
    assert userns.IdMapping(None, None).unshare_args() == ["--user", "--map-root-user"]
