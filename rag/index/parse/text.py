"""Plain text: blocks from blank lines and indentation.

Bullet lines are list items, a block indented by four spaces or a tab is code (or program output) unless it reads
as prose (man pages, licences and NEWS files indent their paragraphs), a lone short Title Case or ALL CAPS line is a
heading, and so is a line underlined with a row of "*", "=", "-" ... (makeinfo, reStructuredText, setext); a rendered
man page's header and footer lines are furniture; everything else is a paragraph. Blocks are exact slices of the
file, so offsets and line numbers are the file's own. Computed on demand: a 50 MB file holds a million blocks.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

from rag.index.parse.base import CODE, HEADING, LIST_ITEM, PARAGRAPH, Block

BULLET = re.compile(r"^\s*([•*·▪‣◦–-]|\d{1,3}[.)])\s+\S")
_INDENTED = re.compile(r"^(    |\t)")
_HEADING_MAX_WORDS = 10
# An indented block is prose, not code, when most of its tokens are words and a sentence ends in it: man pages,
# licences, GNU manuals and Debian NEWS files indent whole paragraphs, and a paragraph read as code is never a
# statement (no answer, no summary point). Code has its own marks: a prompt, a comment, a brace, a call's ");".
PROSE_MIN_WORDS = 5
PROSE_WORD_SHARE = 0.75
_WORD = re.compile(r"^[(\"'“‘]?[A-Za-z][A-Za-z'’-]*[.,;:!?)\"'”’]*$")
_SENTENCE_END = re.compile(r"[a-z0-9)][.!?:][\"'”’)]?(?:\s|$)")
_CODE_MARKS = re.compile(r"^\s*(?:[$#>%]\s|/\*|\*/|//|#include|[{}])|(?:\{|\);)\s*$", re.M)
_SMALL_WORDS = {"a", "an", "and", "as", "at", "but", "by", "for", "from", "in", "into", "of", "on", "or", "over",
                "the", "to", "via", "vs", "with"}


# a Debian changelog or NEWS entry's first line (deb-changelog(5)): "openssh (1:9.0p1-1) unstable; urgency=medium"
CHANGELOG_ENTRY = re.compile(r"^[a-z0-9][a-z0-9.+-]+ \([^()\s]+\)(?: [\w./+-]+)+;(?: [\w-]+=[\w-]+,?)+$")


# A plain text's title is the short block it opens with ("GNU GENERAL PUBLIC LICENSE / Version 3, 29 June 2007",
# "4 Program Behavior for All Programs" over its row of asterisks): lines that name, not sentences that state
TITLE_MAX_LINES = 3
TITLE_MAX_WORDS = 20
TITLE_SCAN_CHARS = 4000  # the title block (a man page's NAME line) is near the top: never scan a 50 MB file
_UNDERLINE = re.compile(r"^\s*([=*~^#.+-])\1{2,}\s*$")
UNDERLINE_LEVELS = {"#": 1, "*": 1, "=": 2, "-": 3, "~": 3, ".": 4, "^": 4, "+": 4}  # makeinfo's and rST's habits
UNDERLINE_SHARE = 0.6  # an underline is about as long as what it underlines
UNDERLINED_MAX_WORDS = 15
_MODE_LINE = re.compile(r"\s*-\*-.*?-\*-\s*")  # Emacs's "-*- outline -*-" says how to edit the file
_NOT_TITLE = re.compile(r"^\s*(?:copyright\b|\(c\)|©)", re.I)
_URL_LINE = re.compile(r"^\s*<?(?:https?://|www\.)\S+>?\s*$")  # where to find it, under its title
# a rendered man page opens with its header line, "CHMOD(1)   User Commands   CHMOD(1)"; its NAME section names it
MAN_PAGE_FURNITURE = "man page header or footer line"
MAN_HEADER = re.compile(r"^\s*(?P<page>[\w.:+-]+\(\d\w*\))\s{2,}.*\s(?P=page)\s*$")


def man_page(text: str) -> str:
    """The page a rendered man page names in its header line ("CHMOD(1)"); "" for any other text."""
    first = next((line for line in text[:TITLE_SCAN_CHARS].split("\n") if line.strip()), "")
    return m.group("page") if (m := MAN_HEADER.match(first)) else ""


def text_title(text: str) -> str:
    """The title a plain text gives itself in its first block; "" when it opens with prose, a list, a credit or
    a changelog entry. A man page: its NAME line ("chmod - change file mode bits")."""
    lines = text[:TITLE_SCAN_CHARS].split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None:
        return ""
    if man_page(text):
        after = lines[start + 1:]
        at = next((i for i, line in enumerate(after) if line.strip() == "NAME"), None)
        named = []
        for line in after[at + 1:] if at is not None else []:
            if not line.strip() or not _INDENTED.match(line):
                break
            named.append(line.strip())
        return " ".join(" ".join(named).split()) or " ".join(lines[start].split())
    block = []
    for line in lines[start:]:
        if not line.strip():
            break
        block.append(line)
    shown = [" ".join(_MODE_LINE.sub(" ", line).split()) for line in block
             if not _UNDERLINE.match(line) and not _URL_LINE.match(line)]
    if not shown or len(shown) > TITLE_MAX_LINES or len(" ".join(shown).split()) > TITLE_MAX_WORDS:
        return ""
    for line in shown:
        if (not re.search(r"[A-Za-z]{2}", line) or line[-1] in ".:;,!?" or _NOT_TITLE.match(line)
                or BULLET.match(line) or CHANGELOG_ENTRY.match(line)):
            return ""
    return " ".join(shown)


def reads_as_prose(block: str) -> bool:
    """Sentences of words, not code or program output."""
    tokens = block.split()
    if len(tokens) < PROSE_MIN_WORDS or _CODE_MARKS.search(block):
        return False
    words = sum(bool(_WORD.match(t)) for t in tokens)
    return words / len(tokens) >= PROSE_WORD_SHARE and bool(_SENTENCE_END.search(block))


def underlined(line: str, under: str) -> int:
    """The level of a heading underlined as makeinfo, reStructuredText and setext do ("Test Releases" over a row
    of "=" as long), by its underline's character ("*" chapters, "=" sections, "-" subsections ...); 0 for none."""
    m = _UNDERLINE.match(under)
    text = line.strip()
    if not m or not text or _UNDERLINE.match(line) or len(text.split()) > UNDERLINED_MAX_WORDS:
        return 0
    if not UNDERLINE_SHARE <= len(under.strip()) / len(text) <= 1 / UNDERLINE_SHARE:
        return 0
    return UNDERLINE_LEVELS.get(m.group(1), len(UNDERLINE_LEVELS) + 1)


def is_heading_line(line: str) -> bool:
    """A lone short line in Title Case or capitals, not ending like a sentence; or a changelog entry's first line,
    which heads the entry as a heading does its section."""
    text = line.strip()
    if CHANGELOG_ENTRY.match(text):
        return True
    words = text.split()
    if not words or len(words) > _HEADING_MAX_WORDS or text[-1] in ".,;:!?\"”'’)" or not text[0].isupper():
        return False
    if text.isupper() and any(c.isalpha() for c in text):
        return True
    return all(w[0].isupper() or not w[0].isalpha() or w.lower() in _SMALL_WORDS for w in words)


class TextBlocks:
    """Re-iterable blocks of a plain text, computed each time they are iterated (never all held at once)."""

    def __init__(self, text: str):
        self.text = text

    def __iter__(self) -> Iterator[Block]:
        page = man_page(self.text)
        for rows in _runs(self.text):
            if page and len(rows) == 1 and re.search(rf"\s{re.escape(page)}\s*$", rows[0][0]):
                # a rendered man page's header and footer lines ("CHMOD(1)  User Commands  CHMOD(1)", "GNU
                # coreutils 9.1  September 2022  CHMOD(1)") say where it stands in the manual: no prose, no answer
                yield dataclasses.replace(_block(PARAGRAPH, rows), furniture=MAN_PAGE_FURNITURE)
                continue
            yield from _typed(rows)


def _runs(text: str) -> Iterator[list[tuple[str, int, int]]]:
    """Runs of non-blank lines as (line, offset of the line, 1-based line number)."""
    pos, current = 0, []
    for n, line in enumerate(text.split("\n"), 1):
        if line.strip():
            current.append((line, pos, n))
        elif current:
            yield current
            current = []
        pos += len(line) + 1
    if current:
        yield current


def _block(kind: str, rows, level: int = 0) -> Block:
    first, first_pos, first_n = rows[0]
    last, last_pos, last_n = rows[-1]
    start = first_pos + len(first) - len(first.lstrip())
    return Block(kind, start, last_pos + len(last.rstrip()), first_n, last_n, level=level)


def _typed(rows) -> Iterator[Block]:
    if len(rows) > 1 and (level := underlined(rows[0][0], rows[1][0])):
        yield _block(HEADING, rows[:1], level=level)  # "12.5 Test Releases" over "=================="
        if rows[2:]:
            yield from _typed(rows[2:])
        return
    if len(rows) == 1 and is_heading_line(rows[0][0]):
        yield _block(HEADING, rows, level=1)
        return
    if len(rows) > 1 and not _INDENTED.match(rows[0][0]) and is_heading_line(rows[0][0]) and all(_INDENTED.match(r[0]) for r in rows[1:]):
        yield _block(HEADING, rows[:1], level=1)  # a man page's "DESCRIPTION" over its indented body, no blank between
        yield from _typed(rows[1:])
        return
    if not any(BULLET.match(r[0]) for r in rows):
        code = all(_INDENTED.match(r[0]) for r in rows) and not reads_as_prose("\n".join(r[0] for r in rows))
        yield _block(CODE if code else PARAGRAPH, rows)
        return
    # Lines before the first bullet are a paragraph (an introduction: "Options:"); each bullet starts an item,
    # and a line that is not a bullet continues the item above it.
    group: list = []
    kind = PARAGRAPH
    for row in rows:
        if BULLET.match(row[0]):
            if group:
                yield _block(kind, group)
            group, kind = [row], LIST_ITEM
        else:
            group.append(row)
    yield _block(kind, group)
