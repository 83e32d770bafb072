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


def test_an_author_field_loses_its_label_and_the_date_words_after_the_names():
    from rag.index.parse.meta import author_names

    assert author_names("Jeff Foust Monday; November") == "Jeff Foust"
    assert author_names("Текст: Лида Буслаева") == "Лида Буслаева"
    assert author_names("Mike Wuerthele; Malcolm Owen Monday; November") == "Mike Wuerthele; Malcolm Owen"
    assert author_names("Andrew June") == "Andrew June"  # a two-word name keeps a surname that is a month


def test_a_byline_in_no_meta_tag_is_read_from_the_page():
    page = ("<html><head><title>Tariffs explained</title></head><body><nav><p>By Ann Other on Friday</p></nav>"
            "<h1>A guide to tariffs</h1><p class='meta'>By <a href='/staff/jl'>Louis Jacobson</a> on Monday, "
            "November 18th, 2019 at 11:04 a.m.</p><p>Tariffs are taxes on imports, paid by the importer.</p></body></html>")
    assert html_meta(page, lxml.html.fromstring(page)).author == "Louis Jacobson"  # the byline under the headline
