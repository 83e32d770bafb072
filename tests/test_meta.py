"""Metadata of a web page against what a reader sees on it (tests/eval/web-metadata.jsonl, labelled from the pages
alone; docs/score_metadata.py scores all 40)."""

from __future__ import annotations

import json

import lxml.html
import pytest

from rag.config import ROOT
from rag.index.parse.meta import html_meta

PAGES = ROOT.parent / "shared" / "web-articles" / "pages"
LABELS = [json.loads(line) for line in (ROOT / "tests" / "eval" / "web-metadata.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.mark.skipif(not PAGES.is_dir(), reason="needs ../shared/web-articles")
def test_an_author_field_holds_names_only():
    """trafilatura's author field can run on past the names ("… is a reporter", "… Published"): only names stay."""
    checked = 0
    for label in LABELS:
        raw = (PAGES / f"{label['key']}.html").read_text(encoding="utf-8", errors="replace")
        author = html_meta(raw, lxml.html.fromstring(raw)).author
        if label.get("author") and author:
            checked += 1
            assert not any(w in author.lower().split() for w in ("is", "published", "updated", "reporter")), author
    assert checked >= 20
