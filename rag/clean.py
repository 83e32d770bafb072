"""Keep the article, drop the page around it.

Scraped news pages arrive as plain text with their navigation, photo captions and credits, repeated
paragraphs, "Related Articles" lists and comment-section boilerplate still in them. No extractor library
helps once the HTML is gone, so these are rules over blank-line separated blocks; every dropped block is
recorded with its reason. Kept paragraphs are exact slices of the document text, so offsets and line
numbers always point back at the original file.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .corpus import Document
from .types import CleanDoc, Dropped, Span

log = logging.getLogger("rag.clean")

BODY_MIN_WORDS = 8  # a kept paragraph ends like a sentence and has at least this many words...
LONG_MIN_WORDS = 40  # ...or is at least this long (a paragraph cut off mid-sentence)
FIRST_BODY_MIN_WORDS = 20  # the article starts at its first real paragraph; what comes before is page furniture

_TERMINAL = re.compile(r"[.!?:;][\"”’')\]]*$|[\"”’]$")
_SENTENCE_END = re.compile(r"[.!?][\"”’')\]]*(\s|$)")
_BULLET = re.compile(r"^\s*([•*·▪‣◦-]|\d+[.)])\s+")
_NAV = re.compile(
    r"^(skip to (main )?content|menu|home|search|sign in|log ?in|subscribe( now)?|share( this( article)?)?|"
    r"advertisement|story continues below advertisement|close|\d{1,2}:\d{2}|newsletter|print|email|"
    r"accept( all)? cookies|cookie (settings|policy)|×|x)$",
    re.I,
)
_END_MARKER = re.compile(
    r"^(related (articles|stories|posts|content|coverage|reading)|more (from|on|in) .{1,60}|read (more|next)|"
    r"recommended( for you| reading| stories)?|you (may|might) also like|report an error|(\d+ )?comments?|"
    r"discussion loading.*|most (read|popular|viewed)|trending( now)?|latest news|up next)$",
    re.I,
)
FRONT_MATTER = "before the article body (title, dateline, caption)"
_CAPTION = re.compile(
    r"^(in (this|a) [^.]{0,80}\b(file )?(photo|image|picture|video)\b|\((image|photo) credit)", re.I
)
_CREDIT = re.compile(r"^[A-Z][A-Za-z .'-]*/[A-Z]")  # "LAM YIK FEI/The New York Times", "REUTERS/Cheney Orr"
_DATELINE = re.compile(r"^((mon|tues|wednes|thurs|fri|satur|sun)day\b|.*\b(19|20)\d\d$)", re.I)


@dataclass(frozen=True)
class Block:
    lines: list[str]
    start_char: int
    end_char: int
    start_line: int  # 1-based, in the document text
    end_line: int

    @property
    def text(self) -> str:
        return " ".join(line.strip() for line in self.lines)

    @property
    def words(self) -> int:
        return len(self.text.split())


def blocks(text: str) -> Iterator[Block]:
    """Runs of non-blank lines with exact character offsets, one at a time (a 50 MB file holds a million)."""
    pos, current, start = 0, [], None
    for n, line in enumerate(text.split("\n"), 1):
        if line.strip():
            if start is None:
                start = (pos + len(line) - len(line.lstrip()), n)
            current.append((line, pos, n))
        elif current:
            yield _block(current, start)
            current, start = [], None
        pos += len(line) + 1
    if current:
        yield _block(current, start)


def _block(rows, start) -> Block:
    last_line, last_pos, last_n = rows[-1]
    return Block([r[0] for r in rows], start[0], last_pos + len(last_line.rstrip()), start[1], last_n)


def _is_list(b: Block) -> bool:
    """Several short independent lines: headline lists, link lists, guideline bullets."""
    n = len(b.lines)
    if n < 3:
        return False
    ends = sum(bool(_SENTENCE_END.search(line.strip())) for line in b.lines)
    continued = sum(
        1 for a, c in zip(b.lines, b.lines[1:]) if not _TERMINAL.search(a.strip()) and c.strip()[:1].islower()
    )
    return ends / n <= 0.2 and continued / (n - 1) < 0.3


def _is_body(b: Block) -> bool:
    text = b.text
    return (b.words >= BODY_MIN_WORDS and bool(_TERMINAL.search(text))) or b.words >= LONG_MIN_WORDS


def _normal(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def _title_candidate(b: Block) -> bool:
    text = b.text
    return (
        len(b.lines) == 1
        and 5 <= b.words <= 25
        and not text.endswith(".")
        and not (_NAV.match(text) or _CREDIT.match(text) or _CAPTION.match(text) or _DATELINE.match(text))
    )


def clean(doc: Document) -> CleanDoc:
    title = doc.title_hint
    kept: list[Span] = []
    dropped: list[Dropped] = []
    seen: set[str] = set()
    in_body = False
    cut = False
    front_matter: list[Block] = []
    in_run = False  # the previous block was dropped

    def drop(b: Block, reason: str) -> None:
        nonlocal in_run
        end = doc.file_line(b.end_line)
        # a run of dropped blocks with one reason is one entry, so a long tail of junk stays one line of the
        # manifest (front matter stays per block: some of it may be promoted to content below)
        if in_run and dropped[-1].reason == reason and reason != FRONT_MATTER:
            dropped[-1] = dataclasses.replace(dropped[-1], end_line=end)
        else:
            dropped.append(Dropped(doc.file_line(b.start_line), end, reason, b.text[:200]))
        in_run = True

    for b in blocks(doc.text):
        text = b.text
        if cut:
            drop(b, "after the end of the article")
        elif _is_list(b):
            drop(b, "list of headlines or links")
        elif _NAV.match(text):
            drop(b, "navigation or advertising")
        elif in_body and _END_MARKER.match(b.lines[0].strip()):
            cut = True
            drop(b, "end-of-article marker")
        elif _CAPTION.match(text):
            drop(b, "image caption or credit")
        elif _normal(text) in seen:
            drop(b, "duplicate paragraph")
        elif not in_body and not (_is_body(b) and b.words >= FIRST_BODY_MIN_WORDS):
            front_matter.append(b)
            drop(b, FRONT_MATTER)
        elif not _is_body(b):
            drop(b, "heading, credit or fragment")
        else:
            in_body = True
            in_run = False
            seen.add(_normal(text))
            kept.append(
                Span(doc.text[b.start_char : b.end_char], b.start_char, b.end_char, b.start_line, b.end_line)
            )

    if not kept:  # a short note, not a news page: its sentences are the content
        promoted = [b for b in front_matter if _is_body(b)]
        kept = [Span(doc.text[b.start_char : b.end_char], b.start_char, b.end_char, b.start_line, b.end_line) for b in promoted]
        dropped = [d for d in dropped if not any(d.start_line == doc.file_line(b.start_line) for b in promoted)]
    if not title:
        title = next((b.text for b in front_matter if _title_candidate(b)), "")
    if not title and kept:  # no headline on the page: name the article by its opening words
        first = re.split(r"(?<=[.!?])\s", kept[0].text, maxsplit=1)[0]
        title = first if len(first) <= 90 else first[:90].rsplit(" ", 1)[0] + "…"
    if not title:
        title = doc.path.stem
    for d in dropped:
        log.debug("%s L%d-L%d dropped (%s): %s", doc.source, d.start_line, d.end_line, d.reason, d.text[:60])
    return CleanDoc(doc.source, title, kept, dropped)
