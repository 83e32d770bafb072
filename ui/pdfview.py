"""A PDF page as the reader knows it: rendered by pypdfium2, with the cited passage's character boxes.

render_page(path, page, start_line, end_line, quote) -> PageView: the page as a PNG, the boxes (fractions of the
page, top-left origin) that cover the cited passage, and the page's extracted text lines (as citations count
them: rag/index/parse/pdf.py splits PDFium's text of the page at its line breaks, blank lines included).

The passage is found in the page's own text, character for character: PDFium's text has one character per char
index (its generated line breaks included), so a match in the text is a range of char indices, and PDFium gives
the rectangles that cover a range (FPDFText_CountRects / GetRect). The quote is matched on its letters and
digits alone (the PDF's line breaks, hyphens and spacing differ from the sentence as indexed); when it cannot be
found, the cited lines are marked whole.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

RENDER_WIDTH = 1000  # pixels across a rendered page (a page of any size is scaled to this)
MAX_PAGES = 10_000
_BREAK = re.compile(r"(\r\n|\n|\r)")


@dataclass
class PageView:
    page: int  # 1-based
    pages: int  # the document's page count
    png: bytes
    width: int  # of the image, pixels
    height: int
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)  # (left, top, width, height), 0..1
    lines: list[str] = field(default_factory=list)  # the page's extracted text, one entry per cited line
    found: bool = False  # the quote itself was found (else the cited lines are marked whole, or nothing)


def _line_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) char index of each line of the page's text, in the order citations number them."""
    spans, at = [], 0
    for piece in _BREAK.split(text):
        if _BREAK.fullmatch(piece):
            at += len(piece)
            continue
        spans.append((at, at + len(piece)))
        at += len(piece)
    return spans


def match_key(text: str, offset: int = 0) -> tuple[str, list[int]]:
    """The letters and digits of `text`, lower-cased, with the char index each came from."""
    chars, where = [], []
    for i, ch in enumerate(text):
        if ch.isalnum():
            chars.append(ch.lower())
            where.append(offset + i)
    return "".join(chars), where


def find_passage(text: str, start_line: int, end_line: int, quote: str) -> tuple[int, int, bool]:
    """Char range [start, end) of the quote within the cited lines of a page's text (the lines themselves when
    the quote is not found there); (0, 0, False) when the lines are not on the page."""
    spans = _line_spans(text)
    if not spans or start_line < 1 or start_line > len(spans):
        return 0, 0, False
    end_line = max(start_line, min(end_line, len(spans)))
    lo, hi = spans[start_line - 1][0], spans[end_line - 1][1]
    # the quote may run a line past the cited range (a sentence that ends on the next line): look one line wider
    wide_lo = spans[max(0, start_line - 2)][0]
    wide_hi = spans[min(len(spans), end_line + 1) - 1][1]
    hay, where = match_key(text[wide_lo:wide_hi], wide_lo)
    needle, _ = match_key(quote or "")
    if len(needle) >= 4:
        at = hay.find(needle)
        if at < 0 and len(needle) > 60:  # a long quote: its opening words are enough to place it
            head = hay.find(needle[:60])
            tail = hay.find(needle[-60:], max(head, 0))
            if head >= 0 and tail >= 0:
                return where[head], where[tail + 59] + 1, True
        if at >= 0:
            end = where[at + len(needle) - 1] + 1
            while end < len(text) and text[end] in ".!?;:\"”’')":  # the sentence's closing punctuation
                end += 1
            return where[at], end, True
    return lo, hi, False


def render_page(path: Path, page: int, start_line: int = 0, end_line: int = 0, quote: str = "",
                width: int = RENDER_WIDTH) -> PageView:
    """Page `page` (1-based, clamped to the document) rendered, with the boxes of the cited passage when
    start_line is given. Raises ValueError for a file PDFium cannot open."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        pages = len(pdf)
        if not pages:
            raise ValueError("the PDF has no pages")
        page = max(1, min(int(page or 1), pages, MAX_PAGES))
        pg = pdf[page - 1]
        try:
            page_w, page_h = pg.get_size()
            scale = width / page_w if page_w else 1.0
            image = pg.render(scale=scale).to_pil()
            buf = io.BytesIO()
            image.save(buf, format="PNG", optimize=False)
            textpage = pg.get_textpage()
            try:
                count = textpage.count_chars()
                text = textpage.get_text_range() if count else ""
                lines = [text[a:b].replace("\x02", "-").replace("\ufffe", "-").rstrip() for a, b in _line_spans(text)]
                boxes, found = [], False
                if start_line and count:
                    lo, hi, found = find_passage(text, start_line, end_line or start_line, quote)
                    if hi > lo:
                        for i in range(textpage.count_rects(lo, hi - lo)):
                            left, bottom, right, top = textpage.get_rect(i)
                            boxes.append((left / page_w, (page_h - top) / page_h,
                                          (right - left) / page_w, (top - bottom) / page_h))
            finally:
                textpage.close()
            return PageView(page, pages, buf.getvalue(), image.width, image.height, boxes, lines, found)
        finally:
            pg.close()
    finally:
        pdf.close()
