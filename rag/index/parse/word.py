"""Word (.docx) with python-docx: paragraphs and tables in document order, headings from the paragraph styles.

A Word file has no lines of its own: the extracted text holds one paragraph per line (a table one row per
line), and citations give lines of that text, which the article viewer shows.
"""

from __future__ import annotations

import io
import re

from rag.errors import SkipFile
from rag.index.parse.base import CAPTION, HEADING, LIST_ITEM, PARAGRAPH, TABLE, Block, DocMeta
from rag.index.parse.meta import TOP_LINES, docx_meta

_HEADING_STYLE = re.compile(r"^heading (\d)$", re.I)


def _kind(paragraph) -> tuple[str, int]:
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    if style.lower() == "title":
        return HEADING, 1
    m = _HEADING_STYLE.match(style)
    if m:
        return HEADING, int(m[1]) + 1  # below the document's Title
    if style.lower().startswith("list") or paragraph._p.pPr is not None and paragraph._p.pPr.numPr is not None:
        return LIST_ITEM, 0
    if style.lower() == "caption":
        return CAPTION, 0
    return PARAGRAPH, 0


def parse_docx(data: bytes) -> tuple[str, list[Block], str, DocMeta]:
    """(extracted text, blocks, title, metadata) of a .docx file; SkipFile when it is not a readable Word document."""
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
        items = list(document.iter_inner_content())
    except Exception as e:  # zip, XML and package errors all mean the same thing here
        raise SkipFile(f"not a readable Word document ({type(e).__name__}: {str(e)[:80]})") from None
    lines: list[str] = []
    blocks: list[Block] = []
    offset = 0
    title = (document.core_properties.title or "").strip()
    for item in items:
        if isinstance(item, Table):
            rows = []
            for row in item.rows:
                cells = list(dict.fromkeys(c.text.strip().replace("\n", " ") for c in row.cells))  # merged cells repeat
                rows.append(" | ".join(cells))
            text, kind, level = "\n".join(r for r in rows if r.strip(" |")), TABLE, 0
        else:
            text = item.text.replace("\r", "\n").replace("\v", "\n").strip()
            kind, level = _kind(item)
            if kind == HEADING and level == 1 and not title:
                title = text
        if not text.strip():
            continue
        first = len(lines) + 1
        new = text.split("\n")
        lines.extend(new)
        start = offset
        end = start + len(text)
        blocks.append(Block(kind, start, end, first, first + len(new) - 1, level=level))
        offset = end + 1
    return "\n".join(lines), blocks, title, docx_meta(document.core_properties, title, lines[:TOP_LINES])
