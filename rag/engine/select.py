"""Select the evidence: split retrieved passages into sentences, rank them against the question, and decide
whether the corpus answers it at all.

Only prose is evidence. A sentence that is itself a question, a heading, a code line or program output is
never an answer (it may still be retrieved and shown as a passage).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from rag import text
from rag.index.chunk import sentence_spans
from rag.engine.query import Query
from rag.types import Chunk, Citation


@dataclass(frozen=True)
class Sentence:
    chunk: Chunk
    text: str
    start_char: int  # in the document text
    end_char: int
    start_line: int
    end_line: int
    score: float = 0.0
    dense: float = 0.0  # cosine similarity to the question
    overlap: float = 0.0  # idf-weighted share of the question's terms found in the sentence
    first: float = 0.0  # the first stage's score (dense + weight * overlap)
    trained: float = 0.0  # the trained ranker's score (20 × cosine of its own vectors)
    rank: int = 0  # place in the first stage's order (0 = best)
    answer_p: float = -1.0  # the reader's p(this sentence answers the question); -1: not read
    span: tuple[int, int] | None = None  # the reader's short answer in `text` (character offsets)

    def citation(self) -> Citation:
        c = self.chunk
        return Citation(c.source, self.start_line, self.end_line, self.text, c.title, c.page, c.heading)

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.chunk.source, self.start_char, self.end_char)


def split_sentences(chunk: Chunk) -> list[Sentence]:
    out = []
    for s, e in sentence_spans(chunk.text):
        first = chunk.start_line + chunk.text.count("\n", 0, s)
        last = chunk.start_line + chunk.text.count("\n", 0, e)
        out.append(Sentence(chunk, chunk.text[s:e], chunk.start_char + s, chunk.start_char + e, first, last))
    return out


_PROSE_END = re.compile(r"[.!:;)\"”’']$")
# a table-of-contents or index line: a title, a run of dot leaders, a page number ("7.10 How do I … . . . 30")
_LEADERS = re.compile(r"(?:\.\s?){4,}\s*[\dIVXivx]+\s*$|\s{2,}\d{1,4}\s*$")
_NUMBERED_HEADING = re.compile(r"^(?:(?:chapter|section|part|appendix)\s+[\dIVX]+[.:]?|\d+(?:\.\d+)+\.?|\d+\.)\s+[^.!?]{2,80}?\s+\d{1,4}$", re.I)

CODE_MIN_CHARS = 4  # a code line shorter than this ("fi", "}") carries no command
STATEMENT_MIN_WORDS = 4  # without a sentence end, fewer words are a heading, label or caption
PROSE_MIN_WORDS = 2  # with one, a single word is still a label


def answerable(sentence: Sentence, code_ok: bool = False) -> bool:
    """A statement: not a question, not a heading-like fragment, not a table-of-contents line; code and tables
    only where `code_ok` (a how-to in technical documents may be answered by its command)."""
    t = sentence.text.strip()
    if sentence.chunk.kind != "text":
        return code_ok and sentence.chunk.kind == "code" and len(t) >= CODE_MIN_CHARS
    if t.endswith("?") or t.endswith(":") or _LEADERS.search(t) or _NUMBERED_HEADING.match(t):
        return False  # a question, a line announcing what follows, a contents line is no statement
    n = len(t.split())
    # a line of three words or fewer without a sentence end is a heading, label or caption, not a statement
    return n >= STATEMENT_MIN_WORDS or bool(_PROSE_END.search(t)) and n >= PROSE_MIN_WORDS


def rank(query: Query, query_vector: np.ndarray, sentences: list[Sentence], vectors: np.ndarray,
         lexical_weight: float, vocabulary) -> list[Sentence]:
    """Meaning (cosine) plus the idf-weighted share of the question's key terms a sentence holds, with the
    heading trail it sits under ("EXAMPLES › Saving local changes"), best first."""
    ranked = []
    for sent, vec in zip(sentences, vectors):
        dense = float(vec @ query_vector)
        words = text.terms(sent.text) | text.terms(sent.chunk.heading.rsplit(" › ", 1)[-1])
        overlap = text.coverage(set(query.terms), words, vocabulary) if query.terms else 0.0
        score = dense + lexical_weight * overlap
        ranked.append(replace(sent, score=score, first=score, dense=dense, overlap=overlap))
    return [replace(x, rank=i) for i, x in enumerate(sorted(ranked, key=lambda s: -s.score))]


_ANAPHOR_START = re.compile(r"^[“\"]?(he|she|it|they|his|her|its|their|this|these|those)\b", re.I)
_UNNAMED_SPEAKER = re.compile(r"\b(he|she|they) (said|added|explained|noted|argued|warned|told)\b", re.I)


def with_context(best: Sentence, pool: list[Sentence]) -> Sentence:
    """The sentence, joined with a neighbour it leans on: a following "He is a former CIA officer." or, for
    a remark ending "…,” he said", the preceding sentence that names the speaker. Same paragraph only."""
    same = sorted(
        (x for x in pool if x.chunk.source == best.chunk.source and x.chunk.paragraph == best.chunk.paragraph
         and x.chunk.kind == "text"),
        key=lambda x: x.start_char,
    )
    at = next((i for i, x in enumerate(same) if x.start_char == best.start_char), None)
    if at is None:
        return best
    first, last = best, best
    if (_ANAPHOR_START.match(best.text) or _UNNAMED_SPEAKER.search(best.text)) and at > 0:
        first = same[at - 1]
    if at + 1 < len(same) and _ANAPHOR_START.match(same[at + 1].text):
        last = same[at + 1]
    if first is best and last is best:
        return best
    joined = " ".join(dict.fromkeys(x.text for x in (first, best, last)))
    return replace(best, text=joined, start_char=first.start_char, end_char=last.end_char,
                   start_line=first.start_line, end_line=last.end_line)
