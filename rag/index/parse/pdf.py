"""PDF with pypdfium2 (PDFium, the engine of Chromium's viewer): text per page, blocks from the line layout.

Why PDFium and not pypdf: see the README's "Formats" section (measured on real PDFs: same words, PDFium
keeps words apart where pypdf runs them together, and is several times faster).
A page's lines are grouped into paragraphs by the vertical gaps between them; a short line in a larger font is
a heading; a line that comes back on most pages (a running header, a page number) is page furniture.
Citations give the page and the lines of that page's extracted text.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, replace
from statistics import median

from rag.errors import SkipFile
from rag.index.parse.base import HEADING, PARAGRAPH, Block, DocMeta
from rag.index.parse.meta import credited_author, pdf_meta, text_meta, title_block_author, title_block_title, usable_title

PARAGRAPH_GAP = 1.45  # a gap between two lines this many times the usual line spacing starts a new paragraph
RUNNING_FURNITURE = "running page header or footer"  # why a page's head or foot is kept out of the prose
HEADING_SIZE = 1.2  # a short line in a font this much larger than the body's is a heading
HEADING_MAX_WORDS = 15
# a line in the body's size but a bold face, short, that starts like a title ("2.1 Available packages",
# "Introduction") is a heading too: papers and manuals set their section headings so
_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi|bx\d|-bd\b", re.I)
_BOLD_HEADING = re.compile(r"^(?:\d+(?:\.\d+)*\.?\s+)?[A-Z][^.;:{}=<>()]*$")
_NUMBERED = re.compile(r"^\d+(?:\.\d+)*\.?\s")
BOLD_HEADING_MAX_WORDS = 10
_DIGITS = re.compile(r"\d+")


@dataclass
class _Line:
    text: str
    top: float = 0.0  # of its first character, in PDF units (0 = bottom of the page)
    size: float = 0.0  # font size of its first character
    bold: bool = False  # its first and last characters (a numbered line: its number) are set in a bold face


def _bold(textpage, index: int) -> bool:
    """Whether the character's font is a bold face, by its name ("CMBX10", "SFBX1000", "DejaVuSans-Bold"): the
    weight PDFium reports is often a default."""
    import ctypes

    import pypdfium2.raw as raw

    name = ctypes.create_string_buffer(128)
    flags = ctypes.c_int(0)
    raw.FPDFText_GetFontInfo(textpage.raw, index, name, len(name), ctypes.byref(flags))
    return bool(_BOLD_FONT.search(name.value.decode("latin-1")))


def _page_lines(page) -> list[_Line]:
    import pypdfium2.raw as raw

    textpage = page.get_textpage()
    count = textpage.count_chars()
    text = textpage.get_text_range() if count else ""
    lines, at = [], 0
    # PDFium's text has one character per char index, its generated line breaks included ("\r\n"): the first
    # character of each line gives that line's position and font size.
    for piece in re.split(r"(\r\n|\n|\r)", text):
        if piece in ("\r\n", "\n", "\r"):
            at += len(piece)
            continue
        line = _Line(piece.replace("\x02", "-").replace("\ufffe", "-").rstrip())
        first = at + len(piece) - len(piece.lstrip())
        if line.text.strip() and first < count:
            line.top = textpage.get_charbox(first)[3]
            line.size = raw.FPDFText_GetFontSize(textpage.raw, first)
            last = at + len(piece.rstrip()) - 1
            # a numbered heading may end in another face ("4 Adding new languages to babelbib", the name in sans)
            line.bold = _bold(textpage, first) and (bool(_NUMBERED.match(line.text.strip()))
                                                    or _bold(textpage, min(last, count - 1)))
        lines.append(line)
        at += len(piece)
    textpage.close()
    return lines


TITLE_TOP_LINES = 12  # a printed title stands among the first page's first lines
TITLE_MAX_WORDS = 25


def printed_title(lines: list[_Line], body_size: float) -> str:
    """The first page's title as printed: the first run of lines in its largest type, where that type is larger
    than the body's (a heading's proportion) and nothing above it is larger."""
    top = [line for line in lines[:TITLE_TOP_LINES] if line.text.strip() and line.size]
    if not top or not body_size:
        return ""
    biggest = max(line.size for line in top)
    if biggest < HEADING_SIZE * body_size:
        return ""
    start = next(i for i, line in enumerate(top) if line.size == biggest)
    run = [line.text.strip() for line in itertools.takewhile(lambda x: x.size == biggest, top[start:])]
    title = " ".join(" ".join(run).split())
    return title if 2 <= len(title.split()) <= TITLE_MAX_WORDS else ""


# a journal's running head: "274 TUGboat, Volume 18 (1997), No. 4", "Journal of Graph Theory, Vol. 3, No. 2"
_JOURNAL_HEAD = re.compile(r"^(?:\d+\s+)?(?P<name>[A-Z][\w&.'’ -]{1,60}?),?\s+(?:Volume|Vol\.)\s*\d+")
HEAD_LINES = 3  # a page's running head stands among its first lines, its foot among its last two


def journal(first_page: list[str]) -> str:
    """The journal a paper appeared in, as its first page's running head or foot names it; "" for none."""
    lines = [" ".join(line.split()) for line in first_page if line.strip()]
    for line in lines[:HEAD_LINES] + lines[-2:]:
        if m := _JOURNAL_HEAD.match(line):
            return m.group("name").strip()
    return ""


def parse_pdf(data: bytes) -> tuple[list[list[str]], list[Block], str, DocMeta]:
    """(lines of each page, blocks, title, metadata). Block offsets are in the pages' lines joined as in `pdf_text`."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        if "password" in str(e).lower():
            raise SkipFile("encrypted PDF (it needs a password)") from None
        raise SkipFile(f"not a readable PDF ({e})") from None
    try:
        pages = [_page_lines(page) for page in pdf]
        info = pdf.get_metadata_dict()
        title = (info.get("Title") or "").strip()
    finally:
        pdf.close()
    if not any(line.text.strip() for page in pages for line in page):
        raise SkipFile("PDF without a text layer (scanned pages?): there is no text to index, and OCR is not done here")
    furniture = _running_lines(pages)
    sizes = [line.size for page in pages for line in page if line.text.strip() and line.size]
    body_size = median(sizes) if sizes else 0.0
    heading_sizes = sorted({round(s) for s in sizes if s >= HEADING_SIZE * body_size}, reverse=True)
    for page in pages:  # bold type smaller than the body's is code or a footnote, never a heading
        for line in page:
            line.bold = line.bold and line.size >= body_size - 0.5 and bool(re.search(r"[^\W\d_]{2}", line.text))
    # a bold line repeated on several pages is a table's header row or a running head, not a section's heading
    repeated = Counter(_furniture_key(line.text) for page in pages for line in page if line.bold)
    for page in pages:
        for line in page:
            line.bold = line.bold and repeated[_furniture_key(line.text)] < 2
    blocks: list[Block] = []
    offset = 0
    for p, page in enumerate(pages, 1):
        for rows in _groups(page, heading_sizes, body_size, furniture):
            blocks.append(_block(page, rows, p, offset, heading_sizes, furniture))
        offset += sum(len(line.text) + 1 for line in page) + 1  # the page's lines and the blank line between pages
    texts = [[line.text for line in page] for page in pages]
    first = texts[0] if texts else []
    # a title the information dictionary lacks (or that names the file it was made from) is printed on the first page
    title = usable_title(title) or printed_title(pages[0] if pages else [], body_size) or title_block_title(first)
    # the author of the information dictionary first, a byline printed on the first page where it names none; a
    # date printed on the first page before the dictionary's, which is when the file was made, not the document
    meta, seen = pdf_meta(info, title), text_meta(first)
    meta = replace(meta, author=meta.author or seen.author or title_block_author(first) or credited_author(first),
                   published=seen.published or meta.published, site=meta.site or journal(first))
    return texts, blocks, title, meta


def pdf_text(pages: list[list[str]]) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """The pages' lines as one text (a blank line between pages), with each text line's page line and page."""
    lines, line_map, page_map = [], [], []
    for p, page in enumerate(pages, 1):
        for n, line in enumerate(page, 1):
            lines.append(line)
            line_map.append(n)
            page_map.append(p)
        lines.append("")
        line_map.append(len(page) + 1)
        page_map.append(p)
    return "\n".join(lines), tuple(line_map), tuple(page_map)


def _groups(page: list[_Line], heading_sizes: list[int], body_size: float, furniture: set[str]) -> list[list[int]]:
    """The page's lines (indices) grouped into blocks."""
    gaps = [a.top - b.top for a, b in zip(page, page[1:]) if a.text.strip() and b.text.strip() and a.top > b.top]
    usual = median(gaps) if gaps else 0.0
    groups: list[list[int]] = []
    for i, line in enumerate(page):
        if not line.text.strip():
            groups.append([])
            continue
        # line spacing grows with the font: a heading's lines are further apart than the body's
        spacing = usual * (line.size / body_size if body_size and line.size else 1.0)
        if not groups or not groups[-1] or _starts_block(page[groups[-1][-1]], line, spacing, heading_sizes, furniture):
            groups.append([])
        groups[-1].append(i)
    return [g for g in groups if g]


def _starts_block(prev: _Line, line: _Line, spacing: float, heading_sizes: list[int], furniture: set[str]) -> bool:
    """Whether `line` begins a new block rather than continuing the one `prev` ends."""
    if (prev.bold and line.bold and _is_heading(prev, heading_sizes) and not _NUMBERED.match(line.text.strip())
            and len(line.text.split()) <= BOLD_HEADING_MAX_WORDS and abs(prev.size - line.size) <= 0.5
            and not (spacing and prev.top - line.top > PARAGRAPH_GAP * spacing)):
        return False  # a bold heading runs on ("2.2 Different approaches for multilingual" / "bibliographies")
    return bool(
        (spacing and prev.top - line.top > PARAGRAPH_GAP * spacing)  # a wider gap than between lines
        or _is_heading(prev, heading_sizes) != _is_heading(line, heading_sizes)  # a heading begins or ends
        or (line.bold and _NUMBERED.match(line.text.strip()) and _is_heading(line, heading_sizes))  # "2.1" after "2"
        or (prev.bold and not line.bold)  # a bold line's run ends where the regular face resumes
        or abs(prev.size - line.size) > 0.5  # another font size: another kind of text
        or _furniture_key(line.text) in furniture or _furniture_key(prev.text) in furniture
    )


def _is_heading(line: _Line | None, heading_sizes: list[int]) -> bool:
    if not line or not line.text.strip():
        return False
    words = len(line.text.split())
    if heading_sizes and round(line.size) in heading_sizes and words <= HEADING_MAX_WORDS:
        return True
    return line.bold and words <= BOLD_HEADING_MAX_WORDS and bool(_BOLD_HEADING.match(line.text.strip()))


def _heading_level(line: _Line, heading_sizes: list[int]) -> int:
    """Larger type ranks higher; a bold heading in the body's size ranks below them all, its numbering's depth
    ("2" above "2.1") below that."""
    if round(line.size) in heading_sizes:
        return heading_sizes.index(round(line.size)) + 1
    numbered = _NUMBERED.match(line.text.strip())
    return len(heading_sizes) + 1 + (numbered.group(0).strip().rstrip(".").count(".") if numbered else 0)


def _furniture_key(text: str) -> str:
    return _DIGITS.sub("#", text.strip().lower())


def _running_lines(pages: list[list[_Line]]) -> set[str]:
    """Lines (numbers aside) among the first or last two of at least half the pages: headers, footers, page numbers."""
    if len(pages) < 2:
        return set()
    seen = Counter()
    for page in pages:
        texts = [line.text for line in page if line.text.strip()]
        seen.update({_furniture_key(t) for t in texts[:2] + texts[-2:]})
    return {key for key, n in seen.items() if n >= max(2, len(pages) / 2)}


def _block(page: list[_Line], rows: list[int], p: int, offset: int, heading_sizes: list[int], furniture: set[str]) -> Block:
    before = sum(len(line.text) + 1 for line in page[: rows[0]])
    first = page[rows[0]]
    start = offset + before + len(first.text) - len(first.text.lstrip())
    end = offset + before + sum(len(page[i].text) + 1 for i in rows) - 1
    heading = _is_heading(first, heading_sizes)  # its lines share one size (see _starts_block)
    kind = HEADING if heading else PARAGRAPH
    level = _heading_level(first, heading_sizes) if heading else 0
    is_furniture = len(rows) == 1 and _furniture_key(first.text) in furniture
    return Block(kind, start, end, rows[0] + 1, rows[-1] + 1, page=p, level=level,
                 furniture=RUNNING_FURNITURE if is_furniture else "")
