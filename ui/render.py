"""HTML for the sources panel, the article viewer and the corpus table.

Everything that comes from the corpus or from the model is escaped here: articles are data, so nothing in
them can run a script or make the browser fetch anything.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from rag.engine.prompts import CANNOT_ANSWER_PHRASE
from rag.serve.render import answer_text, source_line
from rag.types import Answer


def escape(text: str) -> str:
    return html.escape(text, quote=True)


_MARKER = re.compile(r"\[(\d+)\]")


def chat_escape(text: str) -> str:
    """Text for a chat bubble. Gradio's Chatbot (render_markdown=False) still parses a message as HTML, and its
    sanitizer keeps <img src=…>, so everything that goes into a bubble is escaped here (or by chat_html): a
    document's own markup (or "&lt;img…&gt;" that its parser decoded to "<img…>") is shown as text, never made
    an element."""
    return html.escape(text, quote=False)


def chat_text(answer: Answer) -> str:
    """The answer as plain text (rag/serve/render.py, the `ask` command's and the API's text too): what Copy
    copies, and what a chat is stored as. Never put into a bubble as it is: chat_html escapes it."""
    return answer_text(answer)


def _cite_link(turn: int, n: int, label: str, cls: str) -> str:
    return f"<a class='{cls}' href='#cite-{turn}-{n}' title='Open the source'>{label}</a>"


def chat_html(answer: Answer, turn: int) -> str:
    """What the chat bubble shows: the answer with its markers as links, then one link per source.

    Every piece of text is escaped; the only markup is ours (links to #cite-TURN-N, which the page's script turns
    into opening the document there: SCRIPT below)."""
    if answer.refused:  # the refusal, with the name no document mentions where that is the reason
        said = f"{answer.answer or CANNOT_ANSWER_PHRASE}\n(The closest passages are listed under Sources, for you to judge.)"
        return f"<div class='rag-answer'><div class='answer-text'>{escape(said)}</div></div>"
    count = len(answer.citations)

    def marker(m: re.Match) -> str:
        n = int(m.group(1))
        return _cite_link(turn, n, f"[{n}]", "cite") if 1 <= n <= count else m.group(0)

    body = _MARKER.sub(marker, escape(answer.answer))
    sources = "".join(_cite_link(turn, n, f"[{n}] {escape(source_line(c))}", "src-line") for n, c in enumerate(answer.citations, 1))
    notes = "".join(f"<div class='answer-note'>Note: {escape(note)}</div>" for note in answer.notes)
    return (f"<div class='rag-answer'><div class='answer-text'>{body}</div><div class='src-lines'>{sources}</div>{notes}"
            "<a class='copy-answer' href='#copy' title='Copy the answer and its sources as text'>Copy</a></div>")


def sources_html(answer: Answer | None, show_passages: bool, turn: int = 0) -> str:
    """The Sources tab: one line per citation (a link to it, with the document's title), not the quotes again;
    a declined question lists the closest passages; the retrieved passages with their scores on request."""
    if answer is None:
        return "<div class='sources-empty'>Ask a question: its sources appear here.</div>"
    parts = []
    if answer.refused:
        parts.append(f"<div class='declined'><b>Declined.</b> {escape(' '.join(answer.notes))}</div>")
        parts.append("<h4>Closest passages</h4>")
        for p in answer.passages[:3]:
            parts.append(
                f"<div class='src'><div class='src-head'>{escape(p.source)} · L{p.start_line}-L{p.end_line}"
                f" · {escape(p.title)}</div><div class='passage'>{escape(p.text)}</div></div>"
            )
        return "".join(parts)
    for n, c in enumerate(answer.citations, 1):
        parts.append(f"<div class='src' data-citation='{n}'>{_cite_link(turn, n, f'[{n}] {escape(source_line(c))}', 'src-line')}"
                     + (f"<div class='src-title'>{escape(c.title)}</div>" if c.title else "") + "</div>")
    if answer.notes:
        parts.append(f"<div class='note'>{escape(' '.join(answer.notes))}</div>")
    if show_passages:
        parts.append("<h4>Retrieved passages</h4><ol class='retrieved'>")
        for p in answer.passages:
            parts.append(f"<li><span class='score'>{p.score:.3f}</span> {escape(p.source)} L{p.start_line}-L{p.end_line}: {escape(p.text)}</li>")
        parts.append("</ol>")
    return "".join(parts)


def dropped_cell(meta: dict) -> str:
    """The Corpus table's cleaning column: how much was dropped, with a warning when it was most of the file."""
    dropped = meta.get("dropped", [])
    if not dropped:
        return ""
    words, lost = meta.get("words", 0), meta.get("lost_words", 0)
    share = f"{lost} of {words} words" if words else f"{len(dropped)} blocks"
    return f"⚠ MOST DROPPED: {share}" if meta.get("dropped_majority") else share


# Formats whose citations point into extracted text (there are no readable lines in the file itself)
EXTRACTED = (".pdf", ".docx")


def article_html(path: Path, source: str, start_line: int, end_line: int, page: int = 0, quote: str = "") -> str:
    """The whole file, line-numbered, with the cited sentence marked (the cited lines whole when the quote is not
    found in them; the page scrolls the mark into view).

    A PDF is shown as its extracted text, page by page (lines are numbered within each page, as citations
    give them); a Word file as its extracted text. Other files are shown as they are on disk (HTML as source).
    """
    try:
        if path.suffix.lower() in EXTRACTED:
            return _extracted_html(path, source, start_line, end_line, page)
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        return f"<div class='declined'>Cannot open {escape(source)}: {escape(e.strerror or str(e))}</div>"
    rows = _marked_rows(text.split("\n"), start_line, end_line, quote)
    return f"<div class='article-title'>{escape(source)} · {_lines(start_line, end_line)}</div><div class='article'>{rows}</div>"


def _lines(start: int, end: int) -> str:
    return f"line {start}" if start == end else f"lines {start}–{end}"


def _line_row(n: int, line: str, cited: bool) -> str:
    body = escape(line) or "&nbsp;"
    if cited:
        body = f"<mark class='cited'>{body}</mark>"
    return f"<div class='line'><span class='ln'>{n}</span><span class='tx'>{body}</span></div>"


def _marked_rows(lines: list[str], start_line: int, end_line: int, quote: str) -> str:
    """Numbered rows of `lines` with the quote marked where it stands in the cited lines (a line holds several
    sentences in a plain-text file: the cited one is marked, not its paragraph); the cited lines whole when the
    quote is not found there."""
    from ui.pdfview import find_passage

    lines = [line.rstrip("\r").replace("\r", " ") for line in lines]  # one line break per line, as citations count
    lo, hi, found = find_passage("\n".join(lines), start_line, end_line, quote) if start_line else (0, 0, False)
    rows, at = [], 0
    for n, line in enumerate(lines, 1):
        s, e = at, at + len(line)
        at = e + 1
        a, b = max(s, lo), min(e, hi)
        if not found or a >= b or (a == s and b == e):
            rows.append(_line_row(n, line, (start_line <= n <= end_line) if not found else a < b))
            continue
        body = escape(line[: a - s]) + f"<mark class='cited'>{escape(line[a - s : b - s])}</mark>" + escape(line[b - s :])
        rows.append(f"<div class='line'><span class='ln'>{n}</span><span class='tx'>{body}</span></div>")
    return "".join(rows)


def _extracted_html(path: Path, source: str, start_line: int, end_line: int, page: int) -> str:
    from rag.errors import SkipFile
    from rag.index.parse import parse

    try:
        doc = parse(path, source)
    except SkipFile as e:
        return f"<div class='declined'>Cannot show {escape(source)}: {escape(str(e))}</div>"
    rows, current = [], None
    for i, line in enumerate(doc.text.split("\n"), 1):
        p, n = doc.page_of(i), doc.file_line(i)
        if p != current and p:
            current = p
            rows.append(f"<div class='page-head' data-page='{p}'>Page {p}</div>")
        rows.append(_line_row(n, line, p == page and start_line <= n <= end_line))
    where = (f"page {page}, " if page else "") + f"lines {start_line}–{end_line}"
    return f"<div class='article-title'>{escape(source)} · {where} (extracted text)</div><div class='article'>{''.join(rows)}</div>"


# ---- the document viewer: a PDF as its rendered page, other formats as formatted text ------------------

def document_html(path: Path, source: str, start_line: int = 0, end_line: int = 0, page: int = 0, quote: str = "",
                  show_page: int = 0) -> str:
    """The document at the cited place, the passage highlighted: a PDF as the rendered page with the passage's
    character boxes (show_page: another page, for the page buttons), a .txt line by line, Markdown, HTML and
    Word as formatted text. Everything from the document is escaped."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf":
            return pdf_page_html(path, source, start_line, end_line, page, quote, show_page)
        if suffix in (".md", ".markdown", ".html", ".htm", ".docx"):
            return formatted_html(path, source, start_line, end_line, quote)
    except (OSError, ValueError) as e:
        return f"<div class='declined'>Cannot show {escape(source)}: {escape(str(e))}</div>"
    return article_html(path, source, start_line, end_line, page, quote)


def pdf_page_html(path: Path, source: str, start_line: int, end_line: int, page: int, quote: str, show_page: int = 0) -> str:
    from ui.pdfview import render_page

    shown = show_page or page or 1
    cited_here = bool(page) and shown == page
    view = render_page(path, shown, start_line if cited_here else 0, end_line, quote)
    boxes = "".join(
        f"<div class='pdf-hl' style='left:{x * 100:.3f}%;top:{y * 100:.3f}%;width:{w * 100:.3f}%;height:{h * 100:.3f}%'></div>"
        for x, y, w, h in view.boxes)
    image = base64.b64encode(view.png).decode()
    nav = []
    if view.page > 1:
        nav.append(f"<a class='pg' href='#page-{view.page - 1}'>‹ Previous</a>")
    if view.page < view.pages:
        nav.append(f"<a class='pg' href='#page-{view.page + 1}'>Next ›</a>")
    if page and not cited_here:
        nav.append(f"<a class='pg' href='#page-{page}'>Back to the cited page {page}</a>")
    rows = _marked_rows(view.lines, start_line, end_line, quote) if cited_here else _marked_rows(view.lines, 0, 0, "")
    where = f"page {view.page} of {view.pages}" + (f", {_lines(start_line, end_line)} highlighted" if cited_here else "")
    return (f"<div class='article-title'>{escape(source)} · {where}</div><div class='pdf-nav'>{' '.join(nav)}</div>"
            f"<div class='pdf-view' data-page='{view.page}'><div class='pdf-page'>"
            f"<img class='pdf-img' alt='page {view.page} of {escape(source)}' width='{view.width}' height='{view.height}'"
            f" src='data:image/png;base64,{image}'>{boxes}</div>"
            f"<details class='pdf-text' open><summary>Extracted text of page {view.page}</summary>"
            f"<div class='article'>{rows}</div></details></div>")


_MD_PREFIX = re.compile(r"^\s{0,3}(?:#{1,6}\s+|[-*+]\s+|\d+[.)]\s+|>\s?)")
_MD_INLINE = re.compile(r"!?\[([^\]]*)\]\([^)]*\)|\*\*|__|`")


def _block_text(doc, block, fmt: str) -> str:
    text = doc.text[block.start_char:block.end_char]
    if block.kind in ("code", "table"):
        return text.strip("\n")
    if fmt == "markdown":
        text = "\n".join(_MD_PREFIX.sub("", line) for line in text.split("\n"))
        text = _MD_INLINE.sub(lambda m: m.group(1) or "", text)
    return " ".join(text.split())


def _mark_quote(text: str, quote: str) -> str:
    """`text` escaped, with the quote marked (matched on letters and digits, across spacing); None-safe."""
    from ui.pdfview import match_key

    hay, where = match_key(text)
    needle, _ = match_key(quote or "")
    at = hay.find(needle) if len(needle) >= 4 else -1
    if at < 0:
        return ""
    lo, hi = where[at], where[at + len(needle) - 1] + 1
    while hi < len(text) and text[hi] in ".!?;:\"”’')":  # the sentence's closing punctuation
        hi += 1
    return escape(text[:lo]) + "<mark class='cited'>" + escape(text[lo:hi]) + "</mark>" + escape(text[hi:])


def formatted_html(path: Path, source: str, start_line: int, end_line: int, quote: str) -> str:
    """Markdown, HTML and Word as formatted text (headings, paragraphs, list items, code), the cited block's quote
    marked (the whole block when the quote is not found in it). Navigation and page furniture are left out."""
    from rag.errors import SkipFile
    from rag.index.parse import parse

    try:
        doc = parse(path, source)
    except SkipFile as e:
        return f"<div class='declined'>Cannot show {escape(source)}: {escape(str(e))}</div>"
    parts, marked = [], False
    for block in doc.blocks:
        if block.kind == "nav" or block.furniture:
            continue
        text = _block_text(doc, block, doc.format)
        if not text:
            continue
        cited = bool(start_line) and block.start_line <= end_line and block.end_line >= start_line
        body = ""
        if cited and not marked:
            body = _mark_quote(text, quote)
            marked = bool(body)
        if not body:
            body = f"<mark class='cited'>{escape(text)}</mark>" if cited and not quote else escape(text)
        if block.kind == "heading":
            level = min(6, max(3, block.level + 2))
            parts.append(f"<h{level}>{body}</h{level}>")
        elif block.kind in ("code", "table"):
            parts.append(f"<pre>{body}</pre>")
        elif block.kind == "list_item":
            parts.append(f"<p class='li'>• {body}</p>")
        else:
            parts.append(f"<p>{body}</p>")
    if start_line and not marked:  # the quote was not found in one block: mark the cited blocks whole
        return formatted_html_whole(doc, source, start_line, end_line)
    kind = {"markdown": "Markdown", "html": "web page", "docx": "Word document"}.get(doc.format, doc.format)
    return (f"<div class='article-title'>{escape(source)} · {kind}, {_lines(start_line, end_line)}</div>"
            f"<div class='article formatted'>{''.join(parts)}</div>")


def formatted_html_whole(doc, source: str, start_line: int, end_line: int) -> str:
    parts = []
    for block in doc.blocks:
        if block.kind == "nav" or block.furniture:
            continue
        text = _block_text(doc, block, doc.format)
        if not text:
            continue
        cited = block.start_line <= end_line and block.end_line >= start_line
        body = f"<mark class='cited'>{escape(text)}</mark>" if cited else escape(text)
        tag = "pre" if block.kind in ("code", "table") else ("h4" if block.kind == "heading" else "p")
        parts.append(f"<{tag}>{body}</{tag}>")
    return (f"<div class='article-title'>{escape(source)} · {_lines(start_line, end_line)}</div>"
            f"<div class='article formatted'>{''.join(parts)}</div>")


CSS = """
#sources .src {border:1px solid var(--border-color-primary); border-radius:8px; padding:6px 10px; margin-bottom:6px}
#sources .src-title {font-size:0.85em; font-style:italic; color: var(--body-text-color-subdued)}
#sources mark, #article mark {background:#fde68a; color:#111; padding:0 2px}
#sources .declined, #article .declined {background:#fee2e2; color:#7f1d1d; padding:8px; border-radius:6px; margin-bottom:8px}
#sources .note {font-size:0.85em; color: var(--body-text-color-subdued)}
#sources .score {font-family: monospace; margin-right:6px}
#chat .answer-text {white-space: pre-wrap}
#chat .src-lines {margin-top:6px; font-size:0.85em}
a.src-line {display:block; text-decoration:none; color: var(--body-text-color-subdued); cursor:pointer}
a.src-line:hover, a.cite:hover {text-decoration:underline}
a.cite {text-decoration:none; font-weight:600; color: var(--color-accent); cursor:pointer}
#chat .answer-note {font-size:0.85em; color: var(--body-text-color-subdued)}
#chat a.copy-answer {font-size:0.8em; color: var(--body-text-color-subdued); text-decoration:none; cursor:pointer}
#article .article {max-height:560px; overflow:auto; font-family: Georgia, serif; font-size:0.95em}
#article .line {display:flex; gap:10px}
#article .ln {color:#9ca3af; min-width:2.5em; text-align:right; user-select:none; font-family: monospace}
#article .tx {white-space: pre-wrap; word-break: break-word}
#article .article-title {font-weight:600; margin-bottom:6px}
#article .page-head {font-weight:600; margin:10px 0 4px; border-bottom:1px solid var(--border-color-primary)}
#article .formatted p, #article .formatted pre {margin:0 0 0.6em}
#article .formatted pre {white-space: pre-wrap; font-size:0.85em; background: var(--background-fill-secondary); padding:6px}
#article .pdf-view {display:flex; flex-wrap:wrap; gap:10px; align-items:flex-start}
#article .pdf-page {position:relative; flex: 1 1 340px; max-width:100%; border:1px solid var(--border-color-primary); line-height:0}
#article .pdf-img {width:100%; height:auto; display:block}
#article .pdf-hl {position:absolute; background: rgba(250, 204, 21, 0.45); outline: 1px solid rgba(202, 138, 4, 0.9); mix-blend-mode: multiply; pointer-events:none}
#article .pdf-text {flex: 1 1 240px; min-width:0}
#article .pdf-text .article {max-height:520px; font-size:0.8em}
#article .pdf-nav {margin-bottom:6px; display:flex; gap:14px}
#article .pdf-nav a {cursor:pointer}
#corpus-table table {table-layout: fixed; width: 100%; font-size: 0.85em}
#corpus-table td, #corpus-table th {white-space: normal; overflow-wrap: anywhere}
#corpus-table th, #corpus-table th * {overflow-wrap: normal; word-break: normal; hyphens: none}
#index-progress {font-size:0.9em}
#status {font-size:0.85em}
.rag-hidden {display:none !important}
"""

SCROLL_TO_MARK_JS = ("() => { setTimeout(() => { const m = document.querySelector('#article mark, #article .pdf-hl');"
                     " if (m) m.scrollIntoView({block: 'center'}); }, 80); }")

# The page's one script (Blocks head): a click on a citation link (#cite-TURN-N), a page link (#page-P) or Copy.
# Links are ours (ui/render.py); the target goes to the server through the hidden #open-target box and #open-go
# button, so opening a document is an ordinary event of the page, in its session.
SCRIPT = """<script>
(() => {
  function plain(root) {
    const parts = [];
    const text = root.querySelector('.answer-text');
    if (text) parts.push(text.textContent, '');
    root.querySelectorAll('.src-line, .answer-note').forEach((e) => parts.push(e.textContent));
    return parts.join('\\n').trim();
  }
  async function copy(link) {
    const root = link.closest('.rag-answer');
    if (!root) return;
    const text = plain(root);
    try { await navigator.clipboard.writeText(text); }
    catch (e) {
      const area = document.createElement('textarea');
      area.value = text; document.body.appendChild(area); area.select();
      document.execCommand('copy'); area.remove();
    }
    link.textContent = 'Copied'; setTimeout(() => { link.textContent = 'Copy'; }, 1500);
  }
  document.addEventListener('click', (ev) => {
    const link = ev.target && ev.target.closest ? ev.target.closest('a[href^="#cite-"], a[href^="#page-"], a[href="#copy"]') : null;
    if (!link) return;
    ev.preventDefault();
    ev.stopPropagation();
    const target = link.getAttribute('href').slice(1);
    if (target === 'copy') { copy(link); return; }
    window.__ragTarget = target;
    const go = document.querySelector('#open-go');
    if (go) go.click();
  }, true);
})();
</script>"""

BROWSER_ID_JS = """(x) => {
  let id = null;
  try { id = window.localStorage.getItem('rag-browser-id'); } catch (e) {}
  if (!/^[0-9a-f]{32}$/.test(id || '')) {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    id = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    try { window.localStorage.setItem('rag-browser-id', id); } catch (e) {}
  }
  return id;
}"""

OPEN_TARGET_JS = "(...args) => { args[0] = window.__ragTarget || ''; return args; }"
