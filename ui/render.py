"""HTML for the sources panel, the article viewer and the corpus table.

Everything that comes from the corpus or from the model is escaped here: articles are data, so nothing in
them can run a script or make the browser fetch anything.
"""

from __future__ import annotations

import html
from pathlib import Path

from rag.prompts import CANNOT_ANSWER_PHRASE
from rag.types import Answer


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def highlight(passage: str, quote: str) -> str:
    """The passage, escaped, with the quoted sentence marked."""
    at = passage.find(quote) if quote else -1
    if at < 0:
        return _e(passage)
    return _e(passage[:at]) + "<mark>" + _e(quote) + "</mark>" + _e(passage[at + len(quote):])


def chat_escape(text: str) -> str:
    """Text for a chat bubble. Gradio's Chatbot (render_markdown=False) still parses a message as HTML, and its
    sanitizer keeps <img src=…>, so everything that goes into a bubble is escaped here: a document's own
    markup (or "&lt;img…&gt;" that its parser decoded to "<img…>") is shown as text, never made an element."""
    return html.escape(text, quote=False)


def chat_text(answer: Answer) -> str:
    """What the chat shows (and what its copy button copies): the answer, its markers and its sources, escaped."""
    return chat_escape(_chat_text(answer))


def _chat_text(answer: Answer) -> str:
    if answer.refused:  # the refusal, with the name no document mentions where that is the reason
        return f"{answer.answer or CANNOT_ANSWER_PHRASE}\n(The closest passages are listed under Sources, for you to judge.)"
    lines = [answer.answer, ""]  # the answer carries its own [n] markers (rag/compose.py)
    for n, c in enumerate(answer.citations, 1):
        lines.append(f"[{n}] {c.label()} “{c.quote}”")
    for note in answer.notes:
        lines.append(f"Note: {note}")
    return "\n".join(lines)


def sources_html(answer: Answer | None, show_passages: bool) -> str:
    if answer is None:
        return "<div class='sources-empty'>Ask a question: its sources appear here.</div>"
    parts = []
    if answer.refused:
        parts.append(f"<div class='declined'><b>Declined.</b> {_e(' '.join(answer.notes))}</div>")
        parts.append("<h4>Closest passages</h4>")
        for p in answer.passages[:3]:
            parts.append(
                f"<div class='src'><div class='src-head'>{_e(p.source)} · L{p.start_line}-L{p.end_line}"
                f" · {_e(p.title)}</div><div class='passage'>{_e(p.text)}</div></div>"
            )
        return "".join(parts)
    for n, c in enumerate(answer.citations, 1):
        passage = next((p.text for p in answer.passages if c.source == p.source and c.quote in p.text), c.quote)
        parts.append(
            f"<div class='src' data-citation='{n}'><div class='src-head'>[{n}] <b>{_e(c.source)}</b> · "
            + (f"p.{c.page} " if c.page else "") + f"L{c.start_line}-L{c.end_line} · <i>{_e(c.title)}</i>"
            + (f" · {_e(c.heading)}" if c.heading else "") + "</div>"
            f"<div class='passage'>{highlight(passage, c.quote)}</div></div>"
        )
    if answer.notes:
        parts.append(f"<div class='note'>{_e(' '.join(answer.notes))}</div>")
    if show_passages:
        parts.append("<h4>Retrieved passages</h4><ol class='retrieved'>")
        for p in answer.passages:
            parts.append(f"<li><span class='score'>{p.score:.3f}</span> {_e(p.source)} L{p.start_line}-L{p.end_line}: {_e(p.text)}</li>")
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


def article_html(path: Path, source: str, start_line: int, end_line: int, page: int = 0) -> str:
    """The whole file, line-numbered, with the cited lines marked (the page scrolls the mark into view).

    A PDF is shown as its extracted text, page by page (lines are numbered within each page, as citations
    give them); a Word file as its extracted text. Other files are shown as they are on disk (HTML as source).
    """
    try:
        if path.suffix.lower() in EXTRACTED:
            return _extracted_html(path, source, start_line, end_line, page)
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        return f"<div class='declined'>Cannot open {_e(source)}: {_e(e.strerror or str(e))}</div>"
    rows = [_line_row(n, line, start_line <= n <= end_line) for n, line in enumerate(text.split("\n"), 1)]
    return f"<div class='article-title'>{_e(source)} · lines {start_line}–{end_line}</div><div class='article'>{''.join(rows)}</div>"


def _line_row(n: int, line: str, cited: bool) -> str:
    body = _e(line) or "&nbsp;"
    if cited:
        body = f"<mark class='cited'>{body}</mark>"
    return f"<div class='line'><span class='ln'>{n}</span><span class='tx'>{body}</span></div>"


def _extracted_html(path: Path, source: str, start_line: int, end_line: int, page: int) -> str:
    from rag.errors import SkipFile
    from rag.parse import parse

    try:
        doc = parse(path, source)
    except SkipFile as e:
        return f"<div class='declined'>Cannot show {_e(source)}: {_e(str(e))}</div>"
    rows, current = [], None
    for i, line in enumerate(doc.text.split("\n"), 1):
        p, n = doc.page_of(i), doc.file_line(i)
        if p != current and p:
            current = p
            rows.append(f"<div class='page-head' data-page='{p}'>Page {p}</div>")
        rows.append(_line_row(n, line, p == page and start_line <= n <= end_line))
    where = (f"page {page}, " if page else "") + f"lines {start_line}–{end_line}"
    return f"<div class='article-title'>{_e(source)} · {where} (extracted text)</div><div class='article'>{''.join(rows)}</div>"


CSS = """
#sources .src {border:1px solid var(--border-color-primary); border-radius:8px; padding:8px 10px; margin-bottom:8px}
#sources .src-head {font-size:0.85em; margin-bottom:4px; color: var(--body-text-color-subdued)}
#sources mark, #article mark {background:#fde68a; color:#111; padding:0 2px}
#sources .declined, #article .declined {background:#fee2e2; color:#7f1d1d; padding:8px; border-radius:6px; margin-bottom:8px}
#sources .note {font-size:0.85em; color: var(--body-text-color-subdued)}
#sources .score {font-family: monospace; margin-right:6px}
#article .article {max-height:520px; overflow:auto; font-family: Georgia, serif; font-size:0.95em}
#article .line {display:flex; gap:10px}
#article .ln {color:#9ca3af; min-width:2.5em; text-align:right; user-select:none; font-family: monospace}
#article .tx {white-space: pre-wrap; word-break: break-word}
#article .article-title {font-weight:600; margin-bottom:6px}
#article .page-head {font-weight:600; margin:10px 0 4px; border-bottom:1px solid var(--border-color-primary)}
#status {font-size:0.85em}
"""

SCROLL_TO_MARK_JS = "() => { setTimeout(() => { const m = document.querySelector('#article mark'); if (m) m.scrollIntoView({block: 'center'}); }, 50); }"
