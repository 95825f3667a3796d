"""The API reference's contents name each documented class once: a page that documents a sync
class and its async twin labels the twin (``toc_label``), so the sidebar and the page's
contents never list one name twice."""

from __future__ import annotations

import re
from collections import Counter

from tests.support.paths import REPO

REFERENCE = REPO / "docs" / "reference"
_BLOCK = re.compile(r"^::: (\S+)\n((?:[ \t]+.*\n)*)", re.MULTILINE)


def _labels(page: str) -> list[str]:
    """The contents entry of each ``:::`` block: its ``toc_label``, else the object's name."""
    labels = []
    for match in _BLOCK.finditer(page):
        label = re.search(r"^\s+toc_label:\s*\"?(.*?)\"?\s*$", match.group(2), re.MULTILINE)
        labels.append(label.group(1) if label else match.group(1).rsplit(".", 1)[-1])
    return labels


def test_each_page_lists_every_class_under_a_name_of_its_own() -> None:
    pages = sorted(REFERENCE.glob("*.md"))
    assert pages
    twice = {
        page.name: [name for name, n in Counter(_labels(page.read_text())).items() if n > 1]
        for page in pages
    }
    assert {page: names for page, names in twice.items() if names} == {}


def test_a_heading_and_its_contents_entry_agree() -> None:
    for page in REFERENCE.glob("*.md"):
        for match in _BLOCK.finditer(page.read_text()):
            options = match.group(2)
            heading = re.search(r"^\s+heading:\s*(.*)$", options, re.MULTILINE)
            label = re.search(r"^\s+toc_label:\s*(.*)$", options, re.MULTILINE)
            if heading:
                assert label and label.group(1) == heading.group(1), (page.name, match.group(1))
