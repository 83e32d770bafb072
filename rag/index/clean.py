"""Keep every word of a document; drop only what is confidently page furniture, and record why.

Works on the parser's typed blocks (rag/parse). Dropped, each with its reason:
- what the parser marks as furniture: <nav>, <aside>, page headers and footers, lists of links and, around a
  web page's main text as trafilatura sees it, link-heavy or few-word blocks; running PDF headers and footers;
- navigation and advertising lines, image captions and credits, comment-section boilerplate;
- a paragraph repeated in the same file (it is indexed once) or in most files of the folder (a shared footer);
- bylines and datelines, in any format: they are the document's metadata (rag/parse/meta.py), not its prose;
- on what looks like a news page, in any format: the furniture before the article's first paragraph, a headline
  list after its last one, and what follows an end-of-article marker ("Related Articles", "Comments") when that
  is shorter than the article itself.
Headings are never chunks: they become the heading trail of the blocks below them. Code and tables are kept
apart from prose. Nothing can silently lose a document: when cleaning would leave nothing the file is kept
whole, and when it drops most of the words CleanDoc.dropped_majority says so (`rag index` warns).
Kept spans are exact slices of the document text, so offsets and line numbers point back at the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from array import array
from collections import Counter
from collections.abc import Iterable

from rag.index.parse import CAPTION, CODE, HEADING, LIST_ITEM, NAV, TABLE, TERM, Block, ParsedDoc
from rag.index.parse.meta import byline, dateline
from rag.index.parse.text import CHANGELOG_ENTRY, text_title
from rag.types import CleanDoc, Dropped, Span

log = logging.getLogger("rag.index.clean")

BODY_MIN_WORDS = 8  # a paragraph that ends like a sentence and has at least this many words is body text...
LONG_MIN_WORDS = 40  # ...as is any paragraph at least this long (one cut off mid-sentence)
NEWS_TITLE_MIN_WORDS = 4  # a news page's shorter first line is its site's name ("London Daily"), not its title
FIRST_BODY_MIN_WORDS = 20  # a news article starts at its first real paragraph; what comes before is page furniture
FRONT_MATTER_MAX_BLOCKS = 10  # ...but only a little of it: more than this is a document, not a page header
FRONT_MATTER_MAX_WORDS = 150
FRONT_MATTER_MAX_SHARE = 0.25
REPEATED_MIN_FILES = 3  # a block found in at least this many files, and in half the folder's files, is furniture
REPEATED_MIN_SHARE = 0.5
REPEATED_LINE_MIN = 3  # plain-text pages: a short non-sentence line seen this often in one file is furniture
REPEATED_MAX_CHARS = 400  # footers and disclaimers are short; long shared passages are content
DUPLICATE_MIN_WORDS = 6  # a repeated short line ("Eat every 2–3 hours" in each of a plan's days) is context, kept
COMMENTS_MAX_WORDS = 80  # comment-section notices are short; a long paragraph about comments is content
TRAIL_SEPARATOR = " › "

_TERMINAL = re.compile(r"[.!?:;][\"”’')\]]*$|[\"”’]$")
_SENTENCE_END = re.compile(r"[.!?][\"”’')\]]*(\s|$)")
_NAV = re.compile(
    r"^(skip to (main )?content|menu|home|search|sign in|log ?in|subscribe( now)?|share( this( article)?)?|"
    r"advertisement|close|\d{1,2}:\d{2}|newsletter|print|email|"
    r"accept( all)? cookies|cookie (settings|policy)|×|x)$",
    re.I,
)
_END_MARKER = re.compile(
    r"^(related (articles|stories|posts|content|coverage|reading)|more (from|on|in) .{1,60}|read (more|next)|"
    r"recommended( for you| reading| stories)?|you (may|might) also like|report an error|(\d+ )?comments?|"
    r"discussion loading.*|most (read|popular|viewed)|trending( now)?|latest news|up next)$",
    re.I,
)
_COMMENTS = re.compile(
    r"comment community|community guidelines|^discussion loading|"
    r"^(be the first to comment|log ?in to comment|sign in to comment|leave a (comment|reply)|post a comment)\b|"
    r"^comments (that|are) ",
    re.I,
)
DROPPED_SHOWN = 200  # characters of a dropped run the manifest shows
FRONT_MATTER = "before the article body (title, dateline, caption)"
METADATA = "byline or dateline (kept as the document's metadata)"
_CAPTION = re.compile(r"^\((image|photo) credit", re.I)
_CREDIT = re.compile(r"^[A-Z][A-Za-z .'-]*/[A-Z]")  # "LAM YIK FEI/The New York Times", "REUTERS/Cheney Orr"
_DATELINE = re.compile(r"^((mon|tues|wednes|thurs|fri|satur|sun)day\b|.*\b(19|20)\d\d$)", re.I)
_MD_HEADING = re.compile(r"^\s*#+\s*|\s*#+\s*$|\n[=-]+\s*$")


def _lines(doc: ParsedDoc, b: Block) -> list[str]:
    return doc.text[b.start_char : b.end_char].split("\n")


def _flat(text: str) -> str:
    return " ".join(text.split())


def _is_list(lines: list[str]) -> bool:
    """Several short independent lines: headline lists, link lists."""
    n = len(lines)
    if n < 3:
        return False
    ends = sum(bool(_SENTENCE_END.search(line.strip())) for line in lines)
    continued = sum(1 for a, c in zip(lines, lines[1:]) if not _TERMINAL.search(a.strip()) and c.strip()[:1].islower())
    return ends / n <= 0.2 and continued / (n - 1) < 0.3


def _is_body(text: str) -> bool:
    words = len(text.split())
    return (words >= BODY_MIN_WORDS and bool(_TERMINAL.search(text))) or words >= LONG_MIN_WORDS


def normal(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def _furniture_key(text: str) -> str:
    """What makes two blocks "the same" across files: words only, numbers aside (dates, years, counts)."""
    return hashlib.sha1(re.sub(r"\d+", "#", normal(text)).encode()).hexdigest()[:16]


def _counts_as_content(b: Block) -> bool:
    return b.kind not in (HEADING, TERM)


def repeated_blocks(docs: Iterable[ParsedDoc]) -> dict[str, int]:
    """Blocks (by their words, numbers aside) found in most files of the folder: shared headers, footers,
    disclaimers. Key -> number of files. Empty for folders of fewer than REPEATED_MIN_FILES files."""
    docs = list(docs)
    if len(docs) < REPEATED_MIN_FILES:
        return {}
    seen: Counter = Counter()
    for doc in docs:
        seen.update({_furniture_key(doc.text[b.start_char : b.end_char]) for b in doc.blocks
                     if _counts_as_content(b) and b.end_char - b.start_char <= REPEATED_MAX_CHARS})
    need = max(REPEATED_MIN_FILES, REPEATED_MIN_SHARE * len(docs))
    return {key: n for key, n in seen.items() if n >= need}


def repeated_in(doc: ParsedDoc, repeated: dict[str, int]) -> str:
    """A digest of the folder-wide repeated blocks this document holds: when it changes, the file is re-cleaned."""
    if not repeated:
        return ""
    keys = sorted({k for b in doc.blocks if _counts_as_content(b) and b.end_char - b.start_char <= REPEATED_MAX_CHARS
                   and (k := _furniture_key(doc.text[b.start_char : b.end_char])) in repeated})
    return hashlib.sha1(" ".join(keys).encode()).hexdigest()[:16] if keys else ""


class _Plan:
    """What a first look at a news page (any format) decides: where the article starts and where it ends."""

    def __init__(self, doc: ParsedDoc):
        words = array("l")
        self.first_body = self.last_body = -1
        # a short line that is not a sentence and comes back three times or more in one page is its furniture
        # (an advertising slot, a "read more" prompt), wherever it stands
        short = [normal(_flat(doc.text[b.start_char : b.end_char])) for b in doc.blocks
                 if b.kind not in (HEADING, CODE, TABLE) and b.end_char - b.start_char <= 80]
        self.repeated_lines = {t for t, n in Counter(short).items() if n >= REPEATED_LINE_MIN and t}
        markers: list[int] = []
        for i, b in enumerate(doc.blocks):
            lines = _lines(doc, b)
            text = _flat(" ".join(lines))
            words.append(len(text.split()))
            body = b.kind not in (HEADING, CODE) and _is_body(text) and not _is_list(lines)
            if body and self.first_body < 0 and words[-1] >= FIRST_BODY_MIN_WORDS:
                self.first_body = i
            if body:
                self.last_body = i
            if _END_MARKER.match(lines[0].strip()) and len(lines) <= 2:
                markers.append(i)
        total = sum(words)
        front = words[: self.first_body] if self.first_body > 0 else []
        self.news = False  # set below, once the end-of-article marker is known
        # the blocks before the first paragraph are a page header only when they are few and short
        self.front_matter = bool(front) and len(front) <= FRONT_MATTER_MAX_BLOCKS and sum(front) <= min(
            FRONT_MATTER_MAX_WORDS, FRONT_MATTER_MAX_SHARE * total)
        # an end-of-article marker cuts the rest only when the rest is shorter than what came before it
        self.cut_at = next((m for m in markers if m > self.first_body >= 0 and sum(words[m + 1 :]) <= sum(words[:m])), -1)
        # a news page: furniture above its first paragraph, or an article body followed by "Related Articles"
        self.news = self.cut_at >= 0 or any(_news_furniture(doc, b) for b, _ in zip(doc.blocks, front))


def clean(doc: ParsedDoc, repeated: dict[str, int] | None = None, enabled: bool = True) -> CleanDoc:
    """The document's kept spans (with kind, heading trail and page) and what was dropped, with reasons."""
    repeated = repeated or {}
    # the news-page rules apply to what looks like a news page (a byline, dateline, caption or menu line before
    # the article's first paragraph), whatever the file type
    # (an article body an extractor found has no page furniture around it left to find)
    plan = _Plan(doc) if enabled and not doc.article_body else None
    if plan is not None and not plan.news:
        plan = None
    kept: list[Span] = []
    headings: list[Span] = []
    dropped: list[Dropped] = []
    seen: set[str] = set()
    trail: list[tuple[int, str]] = []
    front: list[tuple[Block, str]] = []
    first_heading = ""
    words = lost = 0
    last: Block | None = None  # the previous block, when it was kept
    in_run = False  # the previous block was dropped
    cut = False

    def drop(b: Block, reason: str, text: str) -> None:
        nonlocal in_run, lost
        if _counts_as_content(b) and reason != "duplicate paragraph":
            lost += len(text.split())
        start, end = b.start_line, b.end_line
        # a run of dropped blocks with one reason is one entry, so a long tail of junk (or a million repeats in a
        # crawl dump) stays one line of the manifest
        if in_run and dropped and dropped[-1].reason == reason and dropped[-1].page == b.page:
            # the entry shows what the whole run says, as far as it shows anything ("The LATEX3 Project ©1995–1999
            # Frank Mittelbach and Chris Rowley 12 January 1999": a title block, its credit and its date)
            shown = dropped[-1].text
            shown = f"{shown} {text}"[:DROPPED_SHOWN] if len(shown) < DROPPED_SHOWN else shown
            dropped[-1] = dataclasses.replace(dropped[-1], end_line=end, text=shown)
        else:
            dropped.append(Dropped(start, end, reason, text[:DROPPED_SHOWN], b.page))
        in_run = True

    for i, b in enumerate(doc.blocks):
        lines = _lines(doc, b)
        text = _flat(" ".join(lines))
        if _counts_as_content(b):
            words += len(text.split())
        reason = _reason(b, i, lines, text, plan, cut, seen, repeated) if enabled else ""
        if reason == "end-of-article marker":
            cut = True
        if reason:
            if reason == FRONT_MATTER:
                front.append((b, text))
            drop(b, reason, text)
            last = None
            continue
        in_run = False
        if b.kind in (HEADING, TERM):
            label = _heading_label(doc, b)
            headings.append(Span(label, b.start_char, b.end_char, b.start_line, b.end_line, "heading", "", b.page))
            if b.kind == HEADING and not first_heading and not CHANGELOG_ENTRY.match(label):
                first_heading = label  # a changelog entry's line heads that entry, not the document
            if b.kind == TERM and last is not None and last.kind == TERM and trail and trail[-1][0] == b.level:
                trail[-1] = (b.level, f"{trail[-1][1]}, {label}")  # "-a, --all": one option, two spellings
            else:
                while trail and trail[-1][0] >= b.level:
                    trail.pop()
                trail.append((b.level, label))
            last = b
            continue
        if b.kind not in (CODE, TABLE):
            seen.add(normal(text))
        span = Span(doc.text[b.start_char : b.end_char], b.start_char, b.end_char, b.start_line, b.end_line,
                    _chunk_kind(b), TRAIL_SEPARATOR.join(t for _, t in trail), b.page)
        if b.kind == LIST_ITEM and last is not None and last.kind == LIST_ITEM and kept and kept[-1].heading == span.heading \
                and kept[-1].page == span.page:
            prev = kept[-1]  # the items of one list stay together: a list is read as a whole
            span = Span(doc.text[prev.start_char : b.end_char], prev.start_char, b.end_char, prev.start_line, b.end_line,
                        prev.kind, prev.heading, prev.page)
            kept[-1] = span
        else:
            kept.append(span)
        last = b

    if enabled and not kept and words:
        # cleaning would leave nothing of a file that has text: keep it whole rather than lose it
        note = "cleaning would have dropped all of it; kept whole"
        log.warning("%s: %s", doc.source, note)
        return dataclasses.replace(clean(doc, repeated, enabled=False), note=note)
    title = doc.title_hint
    if not title and front:
        title = next((t for b, t in front if _title_candidate(_lines(doc, b), t)), "")
    if not title and doc.format == "text":  # the title block a plain text opens with ("GNU GENERAL PUBLIC LICENSE /
        # Version 3, 29 June 2007", whose date makes it look like a news page); a news page's first line may be its
        # site's name or a menu line instead
        opening = text_title(doc.text)
        title = opening if plan is None or (len(opening.split()) >= NEWS_TITLE_MIN_WORDS and not _NAV.match(opening)) else ""
    if not title:
        title = first_heading
    if not title and kept:  # no headline: name the document by the opening words of its first real paragraph
        opening = next((k for k in kept if len(k.text.split()) >= FIRST_BODY_MIN_WORDS), kept[0])
        first = re.split(r"(?<=[.!?])\s", _flat(opening.text), maxsplit=1)[0]
        title = first if len(first) <= 90 else first[:90].rsplit(" ", 1)[0] + "…"
    if not title:
        title = doc.path.stem
    for d in dropped:
        log.debug("%s L%d-L%d dropped (%s): %s", doc.source, d.start_line, d.end_line, d.reason, d.text[:60])
    return CleanDoc(doc.source, title, kept, dropped, words, lost, headings=headings)


def _reason(b: Block, i: int, lines: list[str], text: str, plan: _Plan | None, cut: bool, seen: set,
            repeated: dict) -> str:
    """Why this block is furniture ("" when it is kept)."""
    if cut:
        return "after the end of the article"
    if b.furniture:
        return b.furniture
    if b.kind == NAV:
        return "navigation"
    if plan is not None and i == plan.cut_at:
        return "end-of-article marker"
    # a lone "Search" or "Email" is a news page's menu item, but in a manual it is a word of the text
    if len(lines) == 1 and _NAV.match(text) and (plan is not None or len(text.split()) > 1):
        return "navigation or advertising"
    if b.kind in (HEADING, TERM):
        return FRONT_MATTER if plan is not None and plan.front_matter and i < plan.first_body else ""
    prose = b.kind not in (CODE, TABLE)
    if b.kind == CAPTION or (plan is not None and prose and (_CAPTION.match(text) or (_CREDIT.match(text) and len(text.split()) <= 12))):
        return "image caption or credit"  # the patterns are a news page's ("REUTERS/…"): news pages only
    if plan is not None and prose and not _TERMINAL.search(text) and normal(text) in plan.repeated_lines:
        return "short line repeated in the page (advertising or navigation)"
    if prose and len(text.split()) <= COMMENTS_MAX_WORDS and _COMMENTS.search(text):
        return "comment-section boilerplate"
    if repeated and b.end_char - b.start_char <= REPEATED_MAX_CHARS and (n := repeated.get(_furniture_key(text))):
        return f"repeated in {n} files (shared page furniture)"
    if prose and len(lines) <= 2 and (byline(text) or dateline(text)):
        return METADATA  # "By Jane Doe", "Published 7:07 PM EST Jan 4, 2019": the document's metadata, not its prose
    if prose and normal(text) in seen and len(text.split()) >= DUPLICATE_MIN_WORDS:
        return "duplicate paragraph"
    if plan is not None:
        if plan.front_matter and i < plan.first_body and not _states(text):
            return FRONT_MATTER  # a title, dateline or byline; a sentence that states something is kept
        if 0 <= plan.last_body < i and _is_list(lines):  # after the article's last paragraph: "related" headlines
            return "list of headlines or links"
    return ""


def _news_furniture(doc: ParsedDoc, b: Block) -> bool:
    """What a news page has above its article: a byline, a dateline, a photo caption or credit, a menu line."""
    lines = _lines(doc, b)
    text = _flat(" ".join(lines))
    return len(lines) <= 2 and bool(byline(text) or dateline(text) or _DATELINE.match(text) or _NAV.match(text)
                                    or _CAPTION.match(text) or (_CREDIT.match(text) and len(text.split()) <= 12))


def _states(text: str) -> bool:
    """A sentence that states something (four words or more, ending as a sentence): never front matter."""
    return len(text.split()) >= 4 and bool(_TERMINAL.search(text)) and not _CREDIT.match(text)


def _chunk_kind(b: Block) -> str:
    return {CODE: "code", TABLE: "table"}.get(b.kind, "text")


def _heading_label(doc: ParsedDoc, b: Block) -> str:
    text = doc.text[b.start_char : b.end_char]
    if doc.format == "markdown":
        text = _MD_HEADING.sub("", text)
    label = _flat(text)
    return label if len(label) <= 100 else label[:100].rsplit(" ", 1)[0] + "…"


def _title_candidate(lines: list[str], text: str) -> bool:
    return (
        len(lines) == 1
        and 5 <= len(text.split()) <= 25
        and not text.endswith(".")
        and not (_NAV.match(text) or _CREDIT.match(text) or _CAPTION.match(text) or _DATELINE.match(text))
    )
