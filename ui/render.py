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


def chat_text(answer: Answer) -> str:
    """What the chat shows (and what its copy button copies): the answer, its markers and its sources."""
    if answer.refused:
        return f"{CANNOT_ANSWER_PHRASE}\n(The closest passages are listed under Sources, for you to judge.)"
    markers = " ".join(f"[{n}]" for n in range(1, len(answer.citations) + 1))
    lines = [f"{answer.answer} {markers}", ""]
    for n, c in enumerate(answer.citations, 1):
        lines.append(f"[{n}] {c.source}:L{c.start_line}-L{c.end_line} “{c.quote}”")
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
            f"L{c.start_line}-L{c.end_line} · <i>{_e(c.title)}</i></div>"
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


def article_html(path: Path, source: str, start_line: int, end_line: int) -> str:
    """The whole file, line-numbered, with the cited lines marked (the page scrolls the mark into view)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        return f"<div class='declined'>Cannot open {_e(source)}: {_e(e.strerror or str(e))}</div>"
    rows = []
    for n, line in enumerate(text.split("\n"), 1):
        body = _e(line) or "&nbsp;"
        if start_line <= n <= end_line:
            body = f"<mark class='cited'>{body}</mark>"
        rows.append(f"<div class='line'><span class='ln'>{n}</span><span class='tx'>{body}</span></div>")
    return f"<div class='article-title'>{_e(source)} · lines {start_line}–{end_line}</div><div class='article'>{''.join(rows)}</div>"


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
#status {font-size:0.85em}
"""

SCROLL_TO_MARK_JS = "() => { setTimeout(() => { const m = document.querySelector('#article mark'); if (m) m.scrollIntoView({block: 'center'}); }, 50); }"
