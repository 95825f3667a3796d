"""The optional system parts tests need: installed here, or a skip naming the install command.

The parts are the Debian packages of ``.ci/debian-packages.txt``, the list ``make demo`` and
``make test`` install from (where they may: as root or through ``sudo -n``). Where one is
still missing, the tests that need it skip with a reason that names the one command which
installs it, and everything else runs.
"""

from __future__ import annotations

import glob
import os
import shutil
from dataclasses import dataclass
from functools import cache

import pytest

from tests.support.paths import REPO

#: The one list of the Debian packages the project needs.
PACKAGE_LIST = REPO / ".ci" / "debian-packages.txt"
#: Where system programs live that an ordinary user's PATH may leave out.
_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


@dataclass(frozen=True)
class Part:
    """One line of the package list: a package and what shows it is installed."""

    package: str
    probes: tuple[str, ...]

    def installed(self) -> bool:
        """Whether one of the probes holds (a program found, or an absolute path existing)."""
        search = os.pathsep.join([os.environ.get("PATH", os.defpath), *_SBIN])
        for probe in self.probes:
            if probe.startswith("/"):
                if glob.glob(probe):
                    return True
            elif shutil.which(probe, path=search):
                return True
        return False


@cache
def parts() -> dict[str, Part]:
    """The package list, by package name."""
    found: dict[str, Part] = {}
    for line in PACKAGE_LIST.read_text(encoding="utf-8").splitlines():
        fields = line.split("#", 1)[0].split()
        if fields:
            found[fields[0]] = Part(fields[0], tuple(fields[1].split("|")))
    return found


def install_command(packages: list[str]) -> str:
    """The command that installs ``packages`` on this machine, as this user would type it."""
    command = f"apt-get install -y {' '.join(packages)}"
    if os.geteuid() == 0:
        return command
    return f"sudo {command}" if shutil.which("sudo") else f"(as root) {command}"


def missing_reason(*packages: str) -> str | None:
    """Why a test that needs ``packages`` cannot run here (naming the install command), or
    None when they are all installed."""
    listed = parts()
    unlisted = [package for package in packages if package not in listed]
    assert not unlisted, f"{unlisted} not in {PACKAGE_LIST.relative_to(REPO)}: list them there"
    absent = [package for package in packages if not listed[package].installed()]
    if not absent:
        return None
    return f"needs {', '.join(absent)} (not installed); to install: {install_command(absent)}"


def skip_unless_installed(*packages: str) -> None:
    """Skip the calling test, or at import the whole module, unless ``packages`` (names from
    the package list) are installed."""
    __tracebackhide__ = True  # the skip is reported at the caller's line, not this one
    reason = missing_reason(*packages)
    if reason is not None:
        pytest.skip(reason, allow_module_level=True)


def needs(*packages: str) -> pytest.MarkDecorator:
    """A mark that skips a test unless ``packages`` are installed (the reason says how)."""
    reason = missing_reason(*packages)
    return pytest.mark.skipif(reason is not None, reason=reason or "")
