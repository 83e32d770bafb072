"""An Answer as plain text: the one renderer of the `ask` command, the API's reply and the chat's Copy (the chat's
HTML is ui/render.py's, built from the same source lines).

    <the answer, with its [n] markers>

    Sources:
    [1] file.pdf · p. 3 · Heading › Subheading “the quoted sentence”
    Note: ...

The API also sends the citations as data (`citations`), so a client never has to read them out of this text.
"""

from __future__ import annotations

import re

from rag.types import Answer, Citation

SOURCES_HEADING = "Sources:"
QUOTE_CHARS = 240  # a source line quotes this much; the structured citations carry the whole sentence
_MARKER = re.compile(r"\[\d+\]")
_SOURCES = re.compile(re.escape(f"\n\n{SOURCES_HEADING}\n"))  # a literal: sre's prefix search is linear


def source_line(c: Citation) -> str:
    """One compact line for a citation: file, page or lines, heading trail, the document's author and date (never
    the quote)."""
    where = f"p. {c.page}" if c.page else (f"line {c.start_line}" if c.start_line == c.end_line else f"lines {c.start_line}–{c.end_line}")
    return " · ".join(part for part in (c.source, where, c.heading, c.byline) if part)


def short_quote(quote: str, limit: int = QUOTE_CHARS) -> str:
    return quote if len(quote) <= limit else quote[: limit - 1].rsplit(" ", 1)[0] + "…"


def answer_text(answer: Answer, notes: bool = True) -> str:
    """The answer, its [n] markers, one line per source with its quote, and (with `notes`) what the engine noted."""
    lines = [answer.answer]
    if not answer.refused and answer.citations:
        if not _MARKER.search(answer.answer):  # an answer may carry its markers already, beside what they mark
            lines[0] += " " + " ".join(f"[{n}]" for n in range(1, len(answer.citations) + 1))
        lines += ["", SOURCES_HEADING]
        lines += [f"[{n}] {source_line(c)} “{short_quote(c.quote)}”" for n, c in enumerate(answer.citations, 1)]
    if notes:
        lines += [f"Note: {note}" for note in answer.notes]
    return "\n".join(lines)


def answer_only(content: str) -> str:
    """The answer inside a reply of ours that a client sends back as history, without the Sources list and the
    trailing markers: a follow-up borrows a short previous answer (a name) for its pronoun.

    Linear in the length of `content` (no regular expression: `(\\s*\\[\\d+\\])+\\s*$` took the square of it)."""
    found = _SOURCES.search(content)  # str.split's substring search took 42x the time for 8x "he he …"
    text = content[: found.start()] if found else content
    end = len(text)
    while True:
        while end and text[end - 1].isspace():
            end -= 1
        if not (end and text[end - 1] == "]"):
            break
        at = text.rfind("[", 0, end)
        if at < 0 or not text[at + 1 : end - 1].isdigit():
            break
        end = at
    return text[:end].strip()
