"""Questions about a document rather than what it says: "who wrote the article about X", "when was the article
about X published". Retrieval finds the document about X; its metadata (rag/index/parse/meta.py, stored in the
index manifest) answers, cited to that document. Bylines are never prose evidence, so this is the only way they
answer.
"""

from __future__ import annotations

import re

_DOC = r"(?:the\s+|that\s+|this\s+|an?\s+)?(?:article|story|piece|post|blog\s+post|report|news\s+story|document|paper)"
_ABOUT = r"\s+(?:about|on|regarding|concerning|covering)\s+(?P<topic>.+?)"
_ASKS = (
    ("author", re.compile(rf"^who\s+(?:wrote|authored|is\s+the\s+author\s+of|was\s+the\s+author\s+of)\s+{_DOC}{_ABOUT}\s*\??$",
                          re.I)),
    ("published", re.compile(rf"^when\s+(?:was|were)\s+{_DOC}{_ABOUT}\s+(?:published|written|posted|released)\s*\??$",
                             re.I)),
    ("published", re.compile(rf"^(?:what\s+is\s+the\s+)?(?:publication\s+)?date\s+of\s+{_DOC}{_ABOUT}\s*\??$", re.I)),
)
FIELD_WORDS = {"author": "who wrote it", "published": "when it was published"}


def metadata_question(question: str) -> tuple[str, str] | None:
    """(metadata field, topic) when the question asks who wrote or when the document about a topic was
    published; None for any other question."""
    q = " ".join(question.split())
    for field, pattern in _ASKS:
        m = pattern.match(q)
        if m and m.group("topic").strip(" ?"):
            return field, m.group("topic").strip(" ?")
    return None


def byline(meta: dict) -> str:
    """"Jane Doe, 2019-03-05": what a citation's source line says of its document ("" when nothing is known)."""
    return ", ".join(v for v in ((meta or {}).get("author"), (meta or {}).get("published")) if v)


def metadata_answer(field: str, value: str, title: str) -> str:
    named = f"“{title}”" if title else "The article"
    if field == "author":
        return f"{value} wrote {named}."
    return f"{named} was published on {value}."
