"""Typed records passed between the pipeline stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Span:
    """A piece of kept article text: raw[start_char:end_char] == text, on lines start_line..end_line (1-based)."""

    text: str
    start_char: int
    end_char: int
    start_line: int
    end_line: int
    kind: str = "text"  # as Chunk.kind: "text", "code" or "table"
    heading: str = ""  # heading trail above it
    page: int = 0  # 1-based PDF page (0: no pages)


@dataclass(frozen=True)
class Dropped:
    """A part of a file the cleaner left out, and why (logged, recorded in the manifest, never indexed)."""

    start_line: int
    end_line: int
    reason: str
    text: str
    page: int = 0


@dataclass(frozen=True)
class CleanDoc:
    source: str
    title: str
    paragraphs: list[Span]
    dropped: list[Dropped]
    words: int = 0  # words of the document's text (headings aside)
    lost_words: int = 0  # of those, dropped and not indexed anywhere (a duplicate is indexed once: not lost)
    note: str = ""  # what the cleaner did that the user should know ("kept whole: ...")
    headings: list[Span] = field(default_factory=list)  # kept headings: not chunks, the trails of what follows

    @property
    def dropped_majority(self) -> bool:
        """Cleaning removed most of the document: shown as a warning, never silently."""
        return self.lost_words * 2 > self.words


@dataclass(frozen=True)
class Chunk:
    """The unit that is embedded, searched and shown to the model."""

    id: str  # "<source>#<ordinal>"
    source: str
    title: str
    text: str
    start_line: int
    end_line: int
    start_char: int
    end_char: int
    hash: str  # sha256 of text (first 16 hex digits)
    doc_sha: str  # sha256 of the file it came from: unchanged file, re-usable vectors
    paragraph: int = 0  # ordinal of its paragraph in the article: neighbours in one paragraph form a window
    kind: str = "text"  # "text" (prose), "code" (code or program output), "table": only prose is quoted as an answer
    heading: str = ""  # the heading trail above it, "Chapter › Section" ("" when the document has none)
    page: int = 0  # 1-based page of a PDF (0: the format has no pages)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # fused score (higher is better)
    dense: float  # cosine similarity to the query, -1..1
    lexical: float  # BM25 score, 0 when not found lexically
    rank: int


@dataclass(frozen=True)
class Citation:
    source: str
    start_line: int
    end_line: int
    quote: str
    title: str = ""
    page: int = 0  # 1-based PDF page (0: not a paged format)
    heading: str = ""  # heading trail of the cited passage
    byline: str = ""  # the document's author and date, from its metadata ("Jane Doe, 2019-03-05"): the source line
    # shows it; to_dict leaves it out, so the JSON of `ask --json` and the API keeps its documented keys

    def to_dict(self) -> dict:
        d = {"source": self.source, "start_line": self.start_line, "end_line": self.end_line, "quote": self.quote}
        if self.page:
            d["page"] = self.page
        if self.heading:
            d["heading"] = self.heading
        return d

    def label(self) -> str:
        if self.page:
            return f"{self.source} p.{self.page}"
        return f"{self.source}:L{self.start_line}-L{self.end_line}"


@dataclass(frozen=True)
class Passage:
    """A retrieved passage as given to the model: a hit widened to its sentence window."""

    source: str
    text: str
    start_line: int
    end_line: int
    score: float
    title: str = ""
    page: int = 0
    heading: str = ""


@dataclass
class Answer:
    question: str
    answer: str
    refused: bool
    citations: list[Citation]
    timings_ms: dict[str, float]
    passages: list[Passage] = field(default_factory=list)  # retrieved, best first (more than the model saw)
    mode: str = ""  # "llm" (model chose the short answer), "extracted" (one candidate), "quote", "passage", "list", "refused"
    notes: list[str] = field(default_factory=list)
    query: str = ""  # what was actually searched (after follow-up rewriting)
    short: str = ""  # a factoid's short answer (or "Yes"/"No"), "" when the answer is the evidence itself
    form: str = ""  # the question's form (rag/engine/query.py FORMS)
    confidence: float | None = None  # p that the documents answer it (the reader's, calibrated); None: not decided by a model

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "short": self.short,
            "form": self.form,
            "citations": [c.to_dict() for c in self.citations],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "mode": self.mode,
            "notes": self.notes,
        }
