"""parse(path) -> ParsedDoc: one parser per format behind one function, all giving typed blocks.

    text      blank lines and indentation (rag/parse/text.py)
    Markdown  markdown-it-py (rag/parse/markdown.py)
    HTML      lxml, walking the DOM (rag/parse/html.py); an article page keeps the body trafilatura finds
              (rag/parse/article.py)
    PDF       pypdfium2, per page (rag/parse/pdf.py)
    Word      python-docx (rag/parse/word.py)
Each document also carries its metadata (ParsedDoc.meta: rag/parse/meta.py).
A file that cannot be used raises SkipFile with the reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from rag.errors import SkipFile
from rag.index.parse.base import (BLOCK_KINDS, CAPTION, CODE, HEADING, LIST_ITEM, NAV, PARAGRAPH, TABLE, TERM, Block, DocMeta,
                                   ParsedDoc, decode)

FORMATS = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown", ".html": "html",
           ".htm": "html", ".pdf": "pdf", ".docx": "docx"}
TEXT_FORMATS = ("text", "markdown", "html")
META_SCAN_CHARS = 4000  # a plain text's byline and dateline are in its first lines: never scan a 50 MB file

__all__ = ["BLOCK_KINDS", "CAPTION", "CODE", "FORMATS", "HEADING", "LIST_ITEM", "NAV", "PARAGRAPH", "TABLE", "TERM",
           "Block", "DocMeta", "ParsedDoc", "parse", "parse_text"]


def parse(path: Path, source: str | None = None, data: bytes | None = None) -> ParsedDoc:
    """Read (unless `data` is given) and parse one file. Raises SkipFile when it cannot be used."""
    path = Path(path)
    source = source or path.name
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SkipFile(f"unsupported file type {path.suffix or '(none)'}")
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as e:
            raise SkipFile(f"cannot read: {e.strerror}") from None
    sha = hashlib.sha256(data).hexdigest()
    if fmt in TEXT_FORMATS:
        if b"\x00" in data[:8192]:
            raise SkipFile("binary file (contains NUL bytes)")
        text, encoding = decode(data)
        if not text.strip():
            raise SkipFile("empty file")
        if fmt == "text":
            return parse_text(text, source, path, sha, encoding)
        if fmt == "markdown":
            from rag.index.parse.markdown import markdown_blocks

            blocks, title = markdown_blocks(text)
            return ParsedDoc(source, path, sha, text, fmt, title, tuple(blocks), encoding=encoding,
                             meta=replace(_top_meta(text), title=title))
        from rag.index.parse.html import parse_html

        grid, blocks, title, meta, article = parse_html(text)
        if not blocks:
            raise SkipFile("HTML page with no text")
        return ParsedDoc(source, path, sha, grid, fmt, title, tuple(blocks), encoding=encoding, meta=meta,
                         article_body=article)
    if not data:
        raise SkipFile("empty file")
    if fmt == "pdf":
        from rag.index.parse.pdf import parse_pdf, pdf_text

        pages, blocks, title, meta = parse_pdf(data)
        text, line_map, page_map = pdf_text(pages)
        return ParsedDoc(source, path, sha, text, fmt, title, tuple(blocks), line_map, page_map, "", len(pages), meta)
    from rag.index.parse.word import parse_docx

    text, blocks, title, meta = parse_docx(data)
    if not blocks:
        raise SkipFile("Word document with no text")
    return ParsedDoc(source, path, sha, text, fmt, title, tuple(blocks), encoding="", meta=meta)


def parse_text(text: str, source: str = "x.txt", path: Path | None = None, sha256: str = "0" * 64,
               encoding: str = "utf-8") -> ParsedDoc:
    """A plain text as a document (also what tests build documents from)."""
    from rag.index.parse.text import TextBlocks

    return ParsedDoc(source, path or Path(source), sha256, text, "text", "", TextBlocks(text), encoding=encoding,
                     meta=_top_meta(text))


def _top_meta(text: str) -> DocMeta:
    """The byline and dateline among a text's first lines."""
    from rag.index.parse.meta import text_meta

    return text_meta([line for line in text[:META_SCAN_CHARS].split("\n") if line.strip()])
