"""What the project makes of one file: its metadata and exactly the text that will be indexed (`rag parse`).

The text is the cleaner's kept blocks in reading order, one block a line: headings (indexed as the heading
trail of what follows them), paragraphs, list items, code and tables. Metadata (title, author, date, site,
language) is reported beside it, never inside it: a headline that is the title is the `title` field.
"""

from __future__ import annotations

from pathlib import Path

from rag.index.clean import clean, normal
from rag.index.parse import parse

TITLE_MIN_WORDS = 3  # a heading this long found inside the title is the headline
FIELDS = ("source", "format", "title", "author", "published", "site", "language", "text")


def describe(path: Path, enabled: bool = True) -> dict:
    """One file as a record of FIELDS. Raises SkipFile (with its one-line reason) when it cannot be read."""
    path = Path(path)
    doc = parse(path, str(path))
    cleaned = clean(doc, None, enabled)
    meta = doc.meta.to_dict()
    meta["title"] = meta["title"] or cleaned.title or None
    # a heading that is the title is the `title` field (each chunk is indexed with its title), not said twice
    # ("Big news today" under the <title> "Big news today | The Paper" too)
    titles = " | ".join(normal(t) for t in (meta["title"], cleaned.title) if t)
    headings = [h for h in cleaned.headings if not _in_title(normal(h.text), titles)]
    blocks = sorted([*cleaned.paragraphs, *headings], key=lambda s: s.start_char)
    return {"source": str(path), "format": doc.format, **{k: meta[k] for k in FIELDS[2:7]},
            "text": "\n".join(" ".join(b.text.split()) if b.kind != "code" else b.text.strip("\n") for b in blocks)}


def _in_title(heading: str, titles: str) -> bool:
    """The whole title, or three words or more of it (one word, "Comments", is not the headline)."""
    return bool(heading) and (heading in titles.split(" | ") or (
        len(heading.split()) >= TITLE_MIN_WORDS and f" {heading} " in f" {titles} "))


def as_text(record: dict) -> str:
    """The record for a person: the metadata lines, a blank line, the text."""
    head = [f"{k}: {record[k]}" for k in FIELDS[:7] if record.get(k)]
    return "\n".join(head) + "\n\n" + record["text"] + "\n"
