"""HTML with lxml: walk the DOM, one block per structural element (h1–h6, p, li, pre, table, dt, figcaption…).

The extracted text is laid out on the source's own lines: text that sits on line N of the HTML file is on line
N of the document text, so every offset maps to a line of the HTML source and a citation points into the file
that is actually on disk. Markup, scripts and styles leave blank space, never words of their own.

trafilatura never supplies the text (it has no place in the file). On a page that says it is an article it
decides which blocks are the article body (rag/parse/article.py); on any other page, or when its main text does
not map onto the page, it only gives a second opinion on short or link-heavy blocks outside the main text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from rag.index.parse.article import keep_article, main_text, says_article
from rag.index.parse.base import CAPTION, CODE, HEADING, LIST_ITEM, NAV, PARAGRAPH, TABLE, TERM, Block, DocMeta, line_starts
from rag.index.parse.meta import html_meta

_SKIP = {"script", "style", "noscript", "template", "head", "svg", "math", "iframe", "object", "select"}
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_CONTAINERS = {
    "html", "body", "div", "section", "article", "main", "dl", "dd", "ul", "ol", "blockquote", "figure", "form",
    "fieldset", "details", "summary", "center", "header", "footer", "nav", "aside", "address", "table", "tbody",
    "thead", "tfoot", "tr", "td", "th", "caption", "legend", "menu", "hr",
}
_FURNITURE = {"nav": "navigation", "aside": "sidebar (aside)", "footer": "page footer", "header": "page header"}
_FURNITURE_ROLES = {"navigation": "navigation", "banner": "page header", "contentinfo": "page footer",
                    "complementary": "sidebar (aside)", "search": "navigation"}
_BLOCKY = "p|div|pre|ul|ol|dl|table|h1|h2|h3|h4|h5|h6|blockquote"
_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
# trafilatura's opinion is used only on blocks this short or this link-heavy: a paragraph is never dropped
# because an extractor did not recognize the page layout
SECOND_OPINION_MAX_WORDS = 3  # words as \w+ runs: "Sign in", "Share this"; not "git-switch - Switch branches"
SECOND_OPINION_MIN_LINKS = 0.5
SECOND_OPINION_MAX_CHARS = 2_000_000  # larger pages get no second opinion: only their structure says what is furniture
SECOND_OPINION_SCAN = 200  # blocks looked at from each end of the page to find where its main text begins and ends
LINK_LIST_MIN_ITEMS = 3  # this many list items in a row, each mostly link text: a menu or a "related" list
LINK_LIST_MIN_SHARE = 0.8


@dataclass
class _Ctx:
    kind: str  # what loose text in this element is
    level: int = 0
    furniture: str = ""
    pre: bool = False
    link: bool = False
    table: bool = False  # inside a data table: one block for the whole table


@dataclass
class _Open:
    ctx: _Ctx
    start: tuple[int, int] | None = None  # (line index, column) of the first character
    end: tuple[int, int] | None = None
    chars: int = 0
    link_chars: int = 0
    lines: set = field(default_factory=set)


class _Layout:
    """The document text, built line by line on the source's line grid, and the blocks found in it."""

    def __init__(self, n_lines: int):
        # exactly the source's lines: text that runs past the last one (a character reference such as &#10;
        # adds a newline the source does not have) stays on the last line instead of a line no offset maps to
        self.lines: list[list[str]] = [[] for _ in range(n_lines)]
        self.lens = [0] * n_lines
        self.blocks: list[tuple] = []
        self.open: _Open | None = None

    def start_block(self, ctx: _Ctx) -> None:
        self.flush()
        self.open = _Open(ctx)

    def flush(self) -> None:
        b = self.open
        if b is not None and b.start is not None:
            self.blocks.append((b.ctx, b.start, b.end, b.link_chars / max(1, b.chars)))
        self.open = _Open(b.ctx) if b is not None else None

    def emit(self, text: str, line: int, ctx: _Ctx) -> int:
        """Lay `text` out from source line `line` (0-based); returns the line it ends on."""
        parts = text.split("\n")
        for n, part in enumerate(parts):
            if n:
                line += 1
            if line >= len(self.lines):  # the parser's idea of the line count and ours differ: stay on the last
                line = len(self.lines) - 1
            self._put(part, line, ctx)
        return line

    def _put(self, part: str, line: int, ctx: _Ctx) -> None:
        if not ctx.pre:
            part = _WS.sub(" ", part)
            if self.lens[line] == 0 or self.lines[line][-1].endswith(" "):
                part = part.lstrip(" ")
        if not part:
            return
        b = self.open
        if b is not None and b.start is None and part.strip() and self.lens[line] and not self.lines[line][-1].endswith(" "):
            self._append(" ", line)  # a new block on a line that already holds another: keep the words apart
        lead = len(part) - len(part.lstrip())
        col = self.lens[line]
        self._append(part, line)
        if b is None or not part.strip():
            return
        if b.start is None:
            b.start = (line, col + lead)
        b.end = (line, col + len(part.rstrip()))
        n = len(part.strip())
        b.chars += n
        if ctx.link:
            b.link_chars += n

    def _append(self, s: str, line: int) -> None:
        self.lines[line].append(s)
        self.lens[line] += len(s)

    def cell_separator(self, line: int) -> None:
        b = self.open
        if b is not None and b.end is not None and b.end[0] == line:
            self._append(" | ", line)


def _tag(el) -> str:
    tag = el.tag
    return tag.lower() if isinstance(tag, str) else ""


def _is_data_table(table) -> bool:
    """Two rows or more, cells holding only inline text: a table of data. Otherwise it is page layout."""
    rows = [tr for tr in table.iter("tr") if next(tr.iterancestors("table"), None) is table]
    if len(rows) < 2:
        return False
    return not table.xpath(".//td//*[self::" + _BLOCKY.replace("|", " or self::") + "] | .//th//*[self::"
                           + _BLOCKY.replace("|", " or self::") + "]")


def _walk(el, line: int, ctx: _Ctx, out: _Layout) -> int:
    """Lay out el's content; `line` is where it starts (0-based). Returns the line its content ends on."""
    tag = _tag(el)
    src = el.sourceline - 1 if getattr(el, "sourceline", None) else line
    line = max(line, src)
    if not tag or tag in _SKIP:  # comments, scripts, styles: no words, but their newlines still count
        return line + sum(t.count("\n") for t in el.itertext()) if tag else line + (el.text or "").count("\n")
    furniture = ctx.furniture or _FURNITURE.get(tag, "") or _FURNITURE_ROLES.get((el.get("role") or "").lower(), "")
    child_ctx = ctx
    block = True
    if ctx.table:
        block = False
        if tag in ("td", "th"):
            out.cell_separator(line)
        child_ctx = _Ctx(TABLE, furniture=furniture, table=True, link=ctx.link or tag == "a")
    elif tag in _HEADINGS:
        # a heading in a <header> is the page's own title, not furniture
        child_ctx = _Ctx(HEADING, _HEADINGS[tag], furniture if furniture != "page header" else "")
    elif tag == "dt":
        child_ctx = _Ctx(TERM, 7 + sum(1 for _ in el.iterancestors("dl")), furniture)
    elif tag == "p":
        child_ctx = _Ctx(LIST_ITEM if ctx.kind == LIST_ITEM else PARAGRAPH, furniture=furniture)
    elif tag == "li":
        child_ctx = _Ctx(LIST_ITEM, furniture=furniture)
    elif tag == "pre":
        child_ctx = _Ctx(CODE, furniture=furniture, pre=True)
    elif tag == "figcaption":
        child_ctx = _Ctx(CAPTION, furniture=furniture)
    elif tag == "table" and _is_data_table(el):
        child_ctx = _Ctx(TABLE, furniture=furniture, table=True)
    elif tag in _CONTAINERS:  # loose text in a container is a paragraph (a list item's, inside an <li>)
        child_ctx = _Ctx(LIST_ITEM if ctx.kind == LIST_ITEM else PARAGRAPH, furniture=furniture)
    else:  # inline: a, em, code, span... stays in the current block
        block = False
        child_ctx = _Ctx(ctx.kind, ctx.level, furniture, ctx.pre, ctx.link or tag == "a", ctx.table)
        if tag == "br" and out.open is not None:
            out.emit(" ", line, ctx)
    if block:
        out.start_block(child_ctx)
    if el.text:
        line = out.emit(el.text, line, child_ctx)
    for child in el:
        line = _walk(child, line, child_ctx, out)
        if child.tail:
            line = out.emit(child.tail, line, child_ctx)
    if block:
        out.flush()
        out.open = _Open(ctx)  # the parent's loose text after this element is a block of its own
    return line


def parse_html(raw: str) -> tuple[str, list[Block], str, DocMeta, bool]:
    """(text on the source's line grid, blocks, <title>, metadata, whether the blocks outside the article body
    are marked) of an HTML page."""
    from lxml import etree, html as lhtml

    source = _XML_DECL.sub("", raw, count=1)  # lxml refuses a str that declares its own encoding
    n_lines = raw.count("\n") + 1
    parser = lhtml.HTMLParser(huge_tree=True, remove_comments=False)
    try:
        root = lhtml.document_fromstring(source, parser=parser)
    except (etree.ParserError, ValueError):
        return "", [], "", DocMeta(), False
    title_el = root.find(".//title")
    title = _WS.sub(" ", title_el.text_content()).strip() if title_el is not None else ""
    out = _Layout(n_lines)
    out.open = _Open(_Ctx(PARAGRAPH))
    _walk(root, 0, _Ctx(PARAGRAPH), out)
    out.flush()
    text = "\n".join("".join(parts) for parts in out.lines)
    starts = line_starts(text)
    blocks = []
    for ctx, (l1, c1), (l2, c2), links in out.blocks:
        kind = NAV if ctx.furniture == "navigation" and ctx.kind in (PARAGRAPH, LIST_ITEM) else ctx.kind
        blocks.append(Block(kind, starts[l1] + c1, starts[l2] + c2, l1 + 1, l2 + 1, level=ctx.level,
                            links=round(links, 2), furniture=ctx.furniture))
    if not title:
        title = next((text[b.start_char : b.end_char] for b in blocks if b.kind == HEADING and b.level == 1), "")
    title = _WS.sub(" ", title).strip()
    blocks, article = _main_blocks(raw, root, text, blocks)
    meta = html_meta(raw, root, article) if len(raw) <= SECOND_OPINION_MAX_CHARS else DocMeta()
    return text, blocks, title, replace(meta, title=meta.title or title), article


def _main_blocks(raw: str, root, text: str, blocks: list[Block]) -> tuple[list[Block], bool]:
    """An article page: its body as trafilatura finds it. Any other page, or an article whose main text does not
    map onto the page: the whole-page walk with its furniture marked."""
    if len(raw) <= SECOND_OPINION_MAX_CHARS and says_article(root):
        article = keep_article(text, blocks, main_text(raw))
        if article is not None:
            return article, True
    return _second_opinion(raw, text, blocks), False


def _normal(text: str) -> str:
    return _WS.sub(" ", re.sub(r"[^\w\s]", " ", text.lower())).strip()


def _second_opinion(raw: str, text: str, blocks: list[Block]) -> list[Block]:
    """Mark the furniture around a page's main text: link lists (menus, "related" lists) and, before or after
    what trafilatura finds to be the main text, link-heavy blocks or a few words ("Sign in", "Share").

    A block between two pieces of main text is content whatever trafilatura says of it (it called a manual
    page's SEE ALSO furniture), and so is a list of links there (an index page is one). When trafilatura found
    little of the page's text (documentation layouts) its opinion says nothing about the page: then only link
    lists are furniture.
    """
    first, last = len(blocks), -1  # the main text's first and last block (none known: an empty range)
    if len(raw) <= SECOND_OPINION_MAX_CHARS:  # trafilatura on a crawl dump of many megabytes takes minutes
        import trafilatura

        main = trafilatura.extract(raw, include_comments=False, include_tables=True, favor_recall=True, deduplicate=False) or ""
        main = _normal(main)
        bodies = [text[b.start_char : b.end_char] for b in blocks]
        total = sum(len(body.split()) for b, body in zip(blocks, bodies) if b.kind not in (HEADING, TERM))
        if main and len(main.split()) >= 0.5 * total:
            def in_main(i: int) -> bool:
                return blocks[i].kind not in (HEADING, TERM) and _normal(bodies[i]) in main

            # from each end to the first block trafilatura kept (each look is a search through its whole text)
            ends = range(min(len(blocks), SECOND_OPINION_SCAN))
            first = next((i for i in ends if in_main(i)), len(blocks))
            last = next((len(blocks) - 1 - i for i in ends if in_main(len(blocks) - 1 - i)), -1)
    out = []
    link_lists = _link_lists(blocks)
    for i, b in enumerate(blocks):
        if not b.furniture and not first <= i <= last:
            if i in link_lists:
                b = replace(b, furniture="list of links")
            elif last >= 0 and b.kind in (PARAGRAPH, LIST_ITEM) and (
                    len(_WORD.findall(text[b.start_char : b.end_char])) <= SECOND_OPINION_MAX_WORDS
                    or b.links >= SECOND_OPINION_MIN_LINKS):
                b = replace(b, furniture="outside the page's main text (trafilatura)")
        out.append(b)
    return out


def _link_lists(blocks: list[Block]) -> set[int]:
    """Indices of list items in runs of LINK_LIST_MIN_ITEMS or more that are mostly link text."""
    out: set[int] = set()
    run: list[int] = []
    for i, b in enumerate([*blocks, None]):
        if b is not None and b.kind == LIST_ITEM and b.links >= LINK_LIST_MIN_SHARE:
            run.append(i)
            continue
        if len(run) >= LINK_LIST_MIN_ITEMS:
            out.update(run)
        run = []
    return out
