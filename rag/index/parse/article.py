"""The article body of a web page: trafilatura finds the main text, and the DOM walk's blocks it covers are kept.

trafilatura (favor_precision, comments left out) scored best on the 90 hand-marked article pages of
../shared/web-articles (see README, "Web articles"), but its text has no place in the file. So it only decides
which of the DOM walk's blocks (rag/parse/html.py, each on its source lines) are the article: a block is kept
when most of its words align, in order, with trafilatura's text. Citations keep pointing at the HTML source.

Only a page that says it is an article (OpenGraph type, a schema.org Article in JSON-LD, an <article> element)
gets this treatment: documentation and reference pages keep the whole-page walk. A date alone does not make an
article: every page of Git's manual has one ("Last updated …").
"""

from __future__ import annotations

import difflib
import re
from dataclasses import replace

from rag.index.parse.base import CAPTION, HEADING, NAV, TERM, Block

OUTSIDE = "outside the article's main text (trafilatura)"
MIN_RUN = 3  # aligned runs shorter than this are chance ("1", "Home"): a word counts as the article's in a run
KEEP_MIN_SHARE = 0.5  # a block is article text when at least this share of its words align with the main text
MAIN_MIN_WORDS = 30  # less main text than this: trafilatura did not find the article; keep the whole page
MAIN_MIN_SHARE = 0.5  # ...or when the blocks kept hold less than this share of trafilatura's words
ALIGN_MAX_WORDS = 60_000  # the alignment is quadratic at worst: a page with more words keeps the whole-page walk
_ARTICLE_TYPE = re.compile(r'"@type"\s*:\s*\[?\s*"(?:\w*Article|BlogPosting|Report|LiveBlogPosting)"')
_MICRODATA_TYPE = re.compile(r"schema\.org/(?:\w*Article|BlogPosting|Report)\b")
_WS = re.compile(r"\s+")
_NON_WORD = re.compile(r"[^\w\s]")


def says_article(root) -> bool:
    """The page declares itself an article: OpenGraph (og:type, article:published_time), schema.org (JSON-LD or
    microdata) or an <article> element."""
    for m in root.iter("meta"):
        prop = (m.get("property") or "").lower()
        if (prop == "og:type" and "article" in (m.get("content") or "").lower()) or prop == "article:published_time":
            return True
    if any(_MICRODATA_TYPE.search(el.get("itemtype") or "") for el in root.iter() if isinstance(el.tag, str)):
        return True
    if any(_ARTICLE_TYPE.search(s.text or "") for s in root.iter("script")
           if (s.get("type") or "").lower() == "application/ld+json"):
        return True
    return next(root.iter("article"), None) is not None


def main_text(raw: str) -> str:
    """trafilatura's article text for the page ("" when it finds none)."""
    import trafilatura

    try:
        return trafilatura.extract(raw, favor_precision=True, include_comments=False, include_tables=True,
                                   deduplicate=False) or ""
    except Exception:  # noqa: BLE001 - an extractor's failure must not lose the page: the whole-page walk keeps it
        return ""


def _words(text: str) -> list[str]:
    return _WS.sub(" ", _NON_WORD.sub(" ", text.lower())).split()


def keep_article(text: str, blocks: list[Block], main: str) -> list[Block] | None:
    """The blocks with everything outside the article body marked as furniture; None when the main text does
    not map onto the page's blocks (then the caller keeps the whole-page walk: nothing is lost).

    The page's words are aligned with trafilatura's in order (difflib), so a teaser that repeats the first
    paragraph, or a headline repeated in a "related" list, is not taken for the paragraph itself: each word of
    the main text matches one place of the page. A block is article text when most of its words are aligned.
    """
    main_words = _words(main)
    if len(main_words) < MAIN_MIN_WORDS:
        return None
    block_words = [_words(text[b.start_char : b.end_char]) for b in blocks]
    page = [w for words in block_words for w in words]
    if len(page) > ALIGN_MAX_WORDS:
        return None
    owner = [i for i, words in enumerate(block_words) for _ in words]
    aligned = [0] * len(blocks)
    matcher = difflib.SequenceMatcher(None, page, main_words, autojunk=False)
    for a, _, size in matcher.get_matching_blocks():
        if size < MIN_RUN:
            continue
        for k in range(a, a + size):
            aligned[owner[k]] += 1
    lines = {" ".join(_words(line)) for line in main.split("\n")}
    first = next((i for i, (b, words, n) in enumerate(zip(blocks, block_words, aligned))
                  if b.kind not in (HEADING, TERM) and words and n >= KEEP_MIN_SHARE * len(words)), len(blocks))
    # the headline: the last top-level heading before the body (trafilatura leaves the title out of its text);
    # it heads the article's heading trail
    headline = next((i for i in range(first - 1, -1, -1) if blocks[i].kind == HEADING and blocks[i].level == 1
                     and not blocks[i].furniture), -1)
    out, kept_words = [], 0
    for i, (b, words, n) in enumerate(zip(blocks, block_words, aligned)):
        if b.kind in (CAPTION, NAV) or i == headline:
            inside = True  # left to the cleaner, which drops captions and navigation by their kind, with that reason
        elif b.kind in (HEADING, TERM):
            # trafilatura writes a heading it keeps as a line of its own: a headline whose words the first
            # sentence repeats is not article text for sharing a few words with it
            inside = " ".join(words) in lines and n == len(words)
        else:
            inside = bool(words) and n >= KEEP_MIN_SHARE * len(words)
            kept_words += n if inside else 0
        out.append(b if inside or b.furniture else replace(b, furniture=OUTSIDE))
    if kept_words < MAIN_MIN_SHARE * len(main_words):
        return None
    return out
