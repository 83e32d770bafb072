"""Select the evidence: split retrieved passages into sentences, rank them against the question, and decide
whether the corpus answers it at all.

Only prose is evidence. A sentence that is itself a question, a heading, a code line or program output is
never an answer (it may still be retrieved and shown as a passage).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from . import text
from .chunk import sentence_spans
from .query import Query
from .types import Chunk, Citation


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


def answerable(sentence: Sentence) -> bool:
    """Prose that states something: not a question, not code or a table, not a heading-like fragment."""
    t = sentence.text.strip()
    if sentence.chunk.kind != "text" or t.endswith("?"):
        return False
    n = len(t.split())
    # a line of three words or fewer without a sentence end is a heading, label or caption, not a statement
    return n >= 4 or bool(_PROSE_END.search(t)) and n >= 2


def rank(query: Query, query_vector: np.ndarray, sentences: list[Sentence], vectors: np.ndarray,
         lexical_weight: float, vocabulary) -> list[Sentence]:
    """Meaning (cosine) plus the idf-weighted share of the question's key terms a sentence holds, with the
    heading trail it sits under ("EXAMPLES › Saving local changes"), best first."""
    ranked = []
    for sent, vec in zip(sentences, vectors):
        dense = float(vec @ query_vector)
        words = text.terms(sent.text) | text.terms(sent.chunk.heading.rsplit(" › ", 1)[-1])
        overlap = text.coverage(set(query.terms), words, vocabulary) if query.terms else 0.0
        ranked.append(replace(sent, score=dense + lexical_weight * overlap, dense=dense, overlap=overlap))
    return sorted(ranked, key=lambda s: -s.score)


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


@dataclass(frozen=True)
class Gate:
    min_relevance: float
    min_coverage: float  # of the question's key terms by the best evidence's passage
    min_coverage_top: float  # ...and by the best few passages together
    confident_relevance: float


def decline_reason(query: Query, ranked: list[Sentence], passage_terms: set[str], gate: Gate, vocabulary,
                   top_terms: set[str] | None = None) -> str:
    """Why the corpus is taken not to answer the question ("" when it may).

    1. a specific name in the question occurs in no document;
    2. nothing retrieved is close enough in meaning;
    3. the best evidence's passage, or the best few passages together, do not cover the question's key terms
       (idf-weighted), unless the evidence is very close in meaning.
    """
    if query.unknown:
        return "no document mentions " + ", ".join(f"“{n}”" for n in query.unknown)
    if not ranked:
        return "nothing was retrieved"
    best = ranked[0]
    if best.score < gate.min_relevance:
        return f"no passage is close enough to the question (relevance {best.score:.2f} < {gate.min_relevance})"
    if best.score >= gate.confident_relevance or query.form == "summary":
        return ""  # a summary is of the best-matching document, whatever words the request is phrased in
    share = text.coverage(set(query.terms), passage_terms, vocabulary)
    top_share = text.coverage(set(query.terms), top_terms if top_terms is not None else passage_terms, vocabulary)
    if share < gate.min_coverage or top_share < gate.min_coverage_top:
        missing = sorted(t for t in query.terms if not text.covered(t, passage_terms))
        return (f"the passages do not speak of {', '.join(missing)} (key-term coverage {share:.2f} < {gate.min_coverage}"
                f" or {top_share:.2f} < {gate.min_coverage_top} over the best passages)")
    return ""
