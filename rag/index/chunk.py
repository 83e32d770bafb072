"""Split kept spans into small, sentence-aligned chunks that map back to exact lines (and pages).

Chunks are about one or two sentences: the 135M model reads a few short passages far better than one
long one, and MiniLM truncates at 256 word pieces anyway. Code and tables are split at line breaks, never at
sentences, and never share a chunk with prose: each span is chunked on its own.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections import Counter, deque

from rag.index.parse import ParsedDoc
from rag.types import Chunk, CleanDoc

# Split between sentences, never after a common abbreviation ("Mr.", "U.S.", "Jan.").
_ABBREVIATIONS = ("Mr", "Ms", "Mrs", "Dr", "St", "Jan", "Feb", "Aug", "Sept", "Oct", "Nov", "Dec", "No", "vs", "Gov", "Sen", "Rep", "Gen")
_ABBREV = "".join(rf"(?<!\b{a}\.)" for a in _ABBREVIATIONS) + r"(?<!\b[A-Z]\.)(?<!\b[A-Z]\.[A-Z]\.)"
SENTENCE_BREAK = r"(?<=[.!?])" + _ABBREV + r"[\"”’')]?\s+(?=[\"“‘'(]?[A-Z0-9])"
_SENTENCE_RE = re.compile(SENTENCE_BREAK)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in text, stripped of surrounding whitespace.

    A quotation stays whole: no break while a “ is open, so a quoted remark keeps its "…,” he said".
    """
    spans, start = [], 0
    for m in _SENTENCE_RE.finditer(text):
        end = m.start() + len(m.group(0).rstrip()) if m.group(0).strip() else m.start()
        if _open_quote(text[start:end]):
            continue
        spans.append((start, end))
        start = m.end()
    spans.append((start, len(text.rstrip())))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        if s < e:
            out.append((s, e))
    return out


def _open_quote(text: str) -> bool:
    return text.count("“") > text.count("”")


# Sentences before line breaks: extracted prose (HTML, PDF) is wrapped at the source's line ends, which are not
# where its sentences end; a list's items, which seldom end like sentences, still split at their lines.
PROSE_SEPARATORS = [r"\n\s*\n", SENTENCE_BREAK, r"\n", r"(?<=[;:])\s+", r"(?<=,)\s+", r"\s+"]
LINE_SEPARATORS = [r"\n\s*\n", r"\n", r"\s+"]  # code and tables: blank lines, then lines, then words


def splitter(chunk_size: int, chunk_overlap: int, separators: list[str] = PROSE_SEPARATORS):
    # imported here: langchain costs ~0.7 s at start-up, and answering a question never splits text
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=separators,
        is_separator_regex=True,
        keep_separator="end",  # separators are regexes: never let the splitter re-join with the pattern text
        strip_whitespace=True,
    )


def _locate(pieces: list[str], text: str, overlap: int) -> list[tuple[int, int]]:
    """Offsets of the splitter's pieces in text."""
    spans, cursor = [], 0
    for piece in pieces:
        at = text.find(piece, cursor)
        if at < 0:
            continue
        spans.append((at, at + len(piece)))
        cursor = at + max(1, len(piece) - overlap)
    return spans


def _quote_whole(spans: list[tuple[int, int]], text: str, chunk_size: int) -> list[tuple[int, int]]:
    """Join a piece that leaves a quotation open with the next, up to twice the chunk size: who said it stays with what was said."""
    out: list[tuple[int, int]] = []
    for span in spans:
        if out and _open_quote(text[out[-1][0] : out[-1][1]]) and span[1] - out[-1][0] <= 2 * chunk_size:
            out[-1] = (out[-1][0], span[1])
        else:
            out.append(span)
    return out


# A chunk is stored once. Identical: the same words in the same order, whatever the case, punctuation and
# spacing (a file of a million one-letter lines). Near-identical: at most one in NEAR_NEW of its runs of SHINGLE
# words is new, the rest already occur in the chunks kept just before it (a line repeated without end, cut at
# other places each time); a chunk of fewer than NEAR_NEW runs must have none new. A word changed inside a
# chunk changes SHINGLE runs, so a full chunk (~65 runs) that differs from the earlier text by one word is kept.
SHINGLE = 5
NEAR_NEW = 20
NEAR_WINDOW = 256  # kept chunks whose runs are remembered: memory stays bounded on a 64 MB file
_WORD = re.compile(r"\w+")


class Deduplicator:
    """Decides, chunk by chunk in reading order, whether a chunk repeats what was kept before it (one file)."""

    def __init__(self, window: int = NEAR_WINDOW):
        self.keys: set[bytes] = set()
        self.recent: deque[frozenset[int]] = deque()
        self.runs: Counter[int] = Counter()
        self.window = window

    def repeats(self, text: str) -> bool:
        """Identical to a kept chunk, or made only of runs of words kept just before it. Only prose is checked:
        a piece of a code block or table is kept, so the block reads whole."""
        words = _WORD.findall(text.lower())
        key = hashlib.blake2b(" ".join(words).encode(), digest_size=16).digest()
        if key in self.keys:
            return True
        runs = frozenset(hash(tuple(words[i : i + SHINGLE])) for i in range(len(words) - SHINGLE + 1))
        new = sum(1 for r in runs if not self.runs[r])
        if runs and new == 0:  # every run already seen (was: 1 in NEAR_NEW new; dropped git-doc blocks)
            return True
        self.keys.add(key)
        self.recent.append(runs)
        self.runs.update(runs)
        if len(self.recent) > self.window:
            for r in self.recent.popleft():
                if (n := self.runs[r] - 1) > 0:
                    self.runs[r] = n
                else:
                    del self.runs[r]
        return False


def chunk(doc: ParsedDoc, cleaned: CleanDoc, chunk_size: int, chunk_overlap: int = 0, dedupe: bool = True) -> list[Chunk]:
    prose = splitter(chunk_size, chunk_overlap)
    lines = splitter(chunk_size, chunk_overlap, LINE_SEPARATORS)
    line_starts = [0] + [m.end() for m in re.finditer("\n", doc.text)]

    def line_of(offset: int) -> int:
        return doc.file_line(bisect.bisect_right(line_starts, offset))

    chunks: list[Chunk] = []
    seen = Deduplicator()
    for para_no, para in enumerate(cleaned.paragraphs):
        if para.kind == "text":
            pieces = _quote_whole(_locate(prose.split_text(para.text), para.text, chunk_overlap), para.text, chunk_size)
        else:
            pieces = _locate(lines.split_text(para.text), para.text, chunk_overlap)
        for start, end in pieces:
            start += para.start_char
            end += para.start_char
            text = doc.text[start:end]
            if dedupe and para.kind == "text" and seen.repeats(text):
                continue
            chunks.append(
                Chunk(
                    id=f"{doc.source}#{len(chunks)}",
                    source=doc.source,
                    title=cleaned.title,
                    text=text,
                    start_line=line_of(start),
                    end_line=line_of(max(start, end - 1)),
                    start_char=start,
                    end_char=end,
                    hash=hashlib.sha256(text.encode()).hexdigest()[:16],
                    doc_sha=doc.sha256,
                    paragraph=para_no,
                    kind=para.kind,
                    heading=para.heading,
                    page=para.page,
                )
            )
    return chunks
