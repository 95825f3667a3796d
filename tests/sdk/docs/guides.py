"""The python code blocks of the guides (and the README), as a reader sees them.

A guide's blocks are one script read top to bottom: they run in order in one namespace. A
block whose info string contains ``NOT_RUN`` (the cloud examples, which need a real key) is
shown to the reader as such and is not executed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import REPO as ROOT

GUIDES_DIR = ROOT / "docs" / "guides"
#: Marker in a block's info string (its rendered title) for blocks the tests do not run.
NOT_RUN = "(not run by the guide tests)"

#: The system packages (names in .ci/debian-packages.txt) a guide's examples need: where one
#: is missing, the guide's blocks are skipped with the command that installs it.
PAGE_NEEDS = {"browser-use.md": ("libatomic1",)}  # Playwright's driver (Chromium: the image's)

_FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_TITLE = re.compile(r'title="(?P<title>[^"]*)"')


@dataclass(frozen=True)
class Block:
    """One fenced python block of a page."""

    page: Path
    line: int
    source: str
    info: str

    @property
    def name(self) -> str:
        """``page.md:line``, the id tests and tracebacks use."""
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def not_run_reason(self) -> str | None:
        """Why the tests do not run this block (its title), or None when they do."""
        if NOT_RUN not in self.info:
            return None
        title = _TITLE.search(self.info)
        return title.group("title") if title else self.info.strip()


def pages() -> list[Path]:
    """Every page whose python blocks must run: the README, the home page and the guides."""
    return [ROOT / "README.md", ROOT / "docs" / "index.md", *sorted(GUIDES_DIR.glob("*.md"))]


def blocks(page: Path) -> list[Block]:
    """The python blocks of ``page`` in reading order (line = the opening fence's line)."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        info = match.group("info").strip()
        language = info.split(maxsplit=1)[0] if info else ""
        if language not in ("python", "py"):
            continue
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(page, line, match.group("body"), info))
    return found
