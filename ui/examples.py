"""Example questions for the page, taken from the documents themselves, or none.

Only what already reads as a question a person would ask: a heading that is a question ("What is a commit?"),
a "How to …" heading asked as "How do I …?", or a short question a document opens with (an FAQ's). Nothing is
pasted into a template, and nothing is cut: a candidate that is too long is left out, not shortened.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MIN_WORDS, MAX_WORDS = 3, 14
OPENING_CHUNKS = 3  # a document's opening: its first few chunks
_NUMBERING = re.compile(r"^(?:\d+(?:\.\d+)*\.?|[IVX]+\.|[A-Z]\.)\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_ODD = re.compile(r"[\"“”‘’()\[\]{}<>|*_#=/\\]|https?:|www\.")


def _fits(q: str) -> bool:
    words = q.split()
    return (MIN_WORDS <= len(words) <= MAX_WORDS and q[0].isupper() and q.endswith("?") and q.count("?") == 1
            and not _ODD.search(q))


def from_heading(heading: str) -> str | None:
    h = _NUMBERING.sub("", " ".join(heading.split())).strip()
    if not h:
        return None
    if h.endswith("?"):
        return h if _fits(h) else None
    m = re.match(r"^How to (\w.*)$", h, re.IGNORECASE)
    if m and not re.search(r"[.:;!]$", h):
        q = f"How do I {m.group(1)}?"
        return q if _fits(q) else None
    return None


_ASKS = re.compile(r"^(?:Who|What|When|Where|Why|How|Which|Whose|Is|Are|Was|Were|Can|Could|Does|Do|Did|Should|Will|Would|Has|Have)\b")
_LEAD = re.compile(r"^(?:So|And|But|Then|Now|Well),?\s+", re.IGNORECASE)


def from_opening(text: str) -> list[str]:
    """Questions a document's opening asks in so many words ("So, why are allies reluctant?" asked as "Why are
    allies reluctant?"); a sentence that only ends in a question mark ("Given all that, where …?") is not one."""
    out = []
    for sentence in _SENTENCE_END.split(" ".join(text.split())):
        s = _LEAD.sub("", sentence.strip())
        s = s[:1].upper() + s[1:]
        if s.endswith("?") and _ASKS.match(s) and _fits(s):
            out.append(s)
    return out


def example_questions(chunks: Iterable, n: int = 4) -> list[str]:
    """Up to `n` questions, one document at a time in turn (so one long document does not fill the list)."""
    per_doc: dict[str, list[str]] = {}
    for c in chunks:
        found = per_doc.setdefault(c.source, [])
        for part in (c.heading or "").split(" › ")[-1:]:
            q = from_heading(part)
            if q and q not in found:
                found.append(q)
        if getattr(c, "paragraph", 0) < OPENING_CHUNKS:
            found.extend(q for q in from_opening(c.text) if q not in found)
    picked: list[str] = []
    queues = [qs for qs in per_doc.values() if qs]
    while len(picked) < n and queues:
        for qs in queues:
            q = qs.pop(0)
            if q not in picked and len(picked) < n:
                picked.append(q)
        queues = [qs for qs in queues if qs]
    return picked
