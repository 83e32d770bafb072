"""The article body of a web page: trafilatura finds the main text, and the DOM walk's blocks it covers are kept.

trafilatura (favor_precision, comments left out) scored best on the 90 hand-marked article pages of
../shared/web-articles (see README, "Web articles"), but its text has no place in the file. So it only decides
which of the DOM walk's blocks (rag/parse/html.py, each on its source lines) are the article: a block is kept
when most of its word trigrams are in trafilatura's text. Citations keep pointing at the HTML source.

Only a page that says it is an article (OpenGraph type, a schema.org Article in JSON-LD, an <article> element)
or that has a publication date and mostly article text gets this treatment: documentation and reference pages
keep the whole-page walk, which trafilatura empties.
"""

from __future__ import annotations

import re
from dataclasses import replace

from rag.index.parse.base import HEADING, TERM, Block

OUTSIDE = "outside the article's main text (trafilatura)"
SHINGLE = 3  # words per shingle: long enough that a menu's words scattered over the article do not match
KEEP_MIN_SHARE = 0.5  # a block is article text when at least this share of its shingles is in the main text
MAIN_MIN_WORDS = 30  # less main text than this: trafilatura did not find the article; keep the whole page
MAIN_MIN_SHARE = 0.5  # ...or when the blocks kept hold less than this share of trafilatura's words
_ARTICLE_TYPE = re.compile(r'"@type"\s*:\s*\[?\s*"(?:\w*Article|BlogPosting|Report|LiveBlogPosting)"')
_WS = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^\w\s]")


def says_article(root) -> bool:
    """The page declares itself an article: OpenGraph type, JSON-LD type or an <article> element."""
    if any("article" in (m.get("content") or "").lower() for m in root.iter("meta")
           if (m.get("property") or "").lower() == "og:type"):
        return True
    if any(_ARTICLE_TYPE.search(s.text or "") for s in root.iter("script")
           if (s.get("type") or "").lower() == "application/ld+json"):
        return True
    return next(root.iter("article"), None) is not None


def main_text(raw: str) -> str:
    """trafilatura's article text for the page ("" when it finds none)."""
    import trafilatura

    return trafilatura.extract(raw, favor_precision=True, include_comments=False, include_tables=True,
                               deduplicate=False) or ""


def _words(text: str) -> list[str]:
    return _WS.sub(" ", _NON_WORD.sub(" ", text.lower())).split()


def _shingles(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1))}


def keep_article(text: str, blocks: list[Block], main: str) -> list[Block] | None:
    """The blocks with everything outside the article body marked as furniture; None when the main text does
    not map onto the page's blocks (then the caller keeps the whole-page walk: nothing is lost)."""
    main_words = _words(main)
    if len(main_words) < MAIN_MIN_WORDS:
        return None
    grams = _shingles(main_words)
    joined = f" {' '.join(main_words)} "
    lines = "".join(f" {' '.join(_words(line))} \n" for line in main.split("\n"))
    out, kept_words = [], 0
    for b in blocks:
        words = _words(text[b.start_char : b.end_char])
        if len(words) < SHINGLE or b.kind in (HEADING, TERM):
            # trafilatura writes a heading it keeps as a line of its own: a headline whose words the first
            # sentence repeats, or a "Comments" heading, is not article text for sharing a few words with it
            inside = bool(words) and f" {' '.join(words)} " in (lines if b.kind in (HEADING, TERM) else joined)
        else:
            shingles = _shingles(words)
            inside = len(shingles & grams) >= KEEP_MIN_SHARE * len(shingles)
        if inside and b.kind not in (HEADING, TERM):
            kept_words += len(words)
        out.append(b if inside or b.furniture else replace(b, furniture=OUTSIDE))
    if kept_words < MAIN_MIN_SHARE * len(main_words):
        return None
    return out
