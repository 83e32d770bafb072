"""The typed output of every parser: a document's text and its blocks, each with its place in the file."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# What a block is. Only these reach the chunker as their own kind: "code" and "table"; headings and terms
# (a definition list's <dt>) are never chunks, they become the heading trail of what follows them.
HEADING, TERM, PARAGRAPH, LIST_ITEM, CODE, TABLE, CAPTION, NAV = (
    "heading", "term", "paragraph", "list_item", "code", "table", "caption", "nav",
)
BLOCK_KINDS = (HEADING, TERM, PARAGRAPH, LIST_ITEM, CODE, TABLE, CAPTION, NAV)


@dataclass(frozen=True, slots=True)
class Block:
    """One structural unit. doc.text[start_char:end_char] is its text.

    start_line/end_line (1-based) are where a citation points: lines of the file itself for text, Markdown and
    HTML (the HTML source, not a rendering of it); lines of the page's extracted text for a PDF (with `page`);
    lines of the extracted text for a Word file.
    """

    kind: str
    start_char: int
    end_char: int
    start_line: int
    end_line: int
    page: int = 0  # 1-based PDF page, 0 for formats without pages
    level: int = 0  # heading level 1-6; terms sit below every heading (7 + nesting)
    links: float = 0.0  # share of the text that is link text (HTML): link lists are navigation
    furniture: str = ""  # why the format itself says this is page furniture (<nav>, a running PDF header), "" if not


@dataclass(frozen=True)
class DocMeta:
    """What a document says about itself: shown with its answers, stored with it, never indexed as its prose."""

    title: str = ""
    author: str = ""  # one or more names, "; "-separated
    published: str = ""  # ISO 8601 date (YYYY-MM-DD), "" when unknown
    site: str = ""  # site or publisher
    language: str = ""  # as the document declares it (BCP 47: "en", "en-GB")

    def to_dict(self) -> dict:
        return {"title": self.title or None, "author": self.author or None, "published": self.published or None,
                "site": self.site or None, "language": self.language or None}


@dataclass(frozen=True)
class ParsedDoc:
    source: str  # path relative to the corpus folder, '/'-separated: what citations show
    path: Path
    sha256: str  # of the file's bytes: what decides whether it must be re-indexed
    text: str  # the text chunk offsets refer to (the file itself for text and Markdown, extracted otherwise)
    format: str  # "text", "markdown", "html", "pdf" or "docx"
    title_hint: str = ""  # a title the format itself declares (<title>, '# ', Word's Title style)
    blocks: Iterable[Block] = ()  # in document order; re-iterable (plain text computes them on demand)
    line_map: tuple[int, ...] | None = None  # text line i (0-based) -> cited line; None = identical
    page_map: tuple[int, ...] | None = None  # text line i (0-based) -> PDF page; None = no pages
    encoding: str = "utf-8"
    pages: int = 0  # a PDF's page count
    meta: DocMeta = DocMeta()  # title, author, date, site, language as the file declares them
    article_body: bool = False  # its blocks outside the article body are marked already (rag/parse/article.py)

    def file_line(self, text_line: int) -> int:
        """The cited line for a 1-based line of `text`."""
        if self.line_map is None:
            return text_line
        return self.line_map[min(text_line, len(self.line_map)) - 1]

    def page_of(self, text_line: int) -> int:
        if self.page_map is None:
            return 0
        return self.page_map[min(text_line, len(self.page_map)) - 1]


def decode(data: bytes) -> tuple[str, str]:
    """Text of a file of unknown encoding, newlines normalized, and the encoding used."""
    for enc in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return data.decode(enc).replace("\r\n", "\n").replace("\r", "\n"), enc
        except UnicodeDecodeError:
            continue
    # Not UTF-8: cp1252 covers most Western files; the encoding is reported so the log says what happened.
    try:
        return data.decode("cp1252").replace("\r\n", "\n").replace("\r", "\n"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1").replace("\r\n", "\n").replace("\r", "\n"), "latin-1"


def line_starts(text: str) -> list[int]:
    starts = [0]
    at = text.find("\n")
    while at >= 0:
        starts.append(at + 1)
        at = text.find("\n", at + 1)
    return starts
