"""What the project makes of one file: its metadata and exactly the text that will be indexed (`rag parse`).

The text is the cleaner's kept blocks in reading order, one block a line: headings (indexed as the heading
trail of what follows them), paragraphs, list items, code and tables. Metadata (title, author, date, site,
language) is reported beside it, never inside it.
"""

from __future__ import annotations

from pathlib import Path

from rag.index.clean import clean
from rag.index.parse import parse

FIELDS = ("source", "format", "title", "author", "published", "site", "language", "text")


def describe(path: Path, enabled: bool = True) -> dict:
    """One file as a record of FIELDS. Raises SkipFile (with its one-line reason) when it cannot be read."""
    path = Path(path)
    doc = parse(path, str(path))
    cleaned = clean(doc, None, enabled)
    blocks = sorted([*cleaned.paragraphs, *cleaned.headings], key=lambda s: s.start_char)
    meta = doc.meta.to_dict()
    meta["title"] = meta["title"] or cleaned.title or None
    return {"source": str(path), "format": doc.format, **{k: meta[k] for k in FIELDS[2:7]},
            "text": "\n".join(" ".join(b.text.split()) if b.kind != "code" else b.text.strip("\n") for b in blocks)}


def as_text(record: dict) -> str:
    """The record for a person: the metadata lines, a blank line, the text."""
    head = [f"{k}: {record[k]}" for k in FIELDS[:7] if record.get(k)]
    return "\n".join(head) + "\n\n" + record["text"] + "\n"
