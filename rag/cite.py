"""Evidence and support: which sentences bear on the question, and whether an answer rests on them.

The model only phrases. Whether an answer stands is decided here, by checking its words against the
cited sentences: an answer whose content words are not in the text it cites is not shown as the model's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .chunk import sentence_spans
from .types import Chunk, Citation

STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being has have had do does did
    it its this that these those there their they them he him his she her we our you your i me my not no so than then
    too very can could would should will may might must shall into over under about after before between through
    during without within also just only what which who whom whose when where why how all any both each few more most
    other some such own same s t said says say according mr ms mrs""".split()
)
_WORD = re.compile(r"[\w’'-]+", re.UNICODE)
_NUMBER = re.compile(r"\d")


@lru_cache(maxsize=1)
def _stem():
    try:
        import Stemmer

        s = Stemmer.Stemmer("english")
        return s.stemWord
    except ImportError:
        return lambda w: w.rstrip("s")


def words(text: str) -> list[str]:
    return [w.strip("’'-").lower() for w in _WORD.findall(text) if w.strip("’'-")]


def content_terms(text: str) -> set[str]:
    """Stemmed words that carry meaning (no stopwords); possessives folded ("Huawei’s" -> "huawei")."""
    stem = _stem()
    out = set()
    for w in words(text):
        w = re.sub(r"[’']s$", "", w)
        if w and w not in STOPWORDS:
            out.add(stem(w))
    return out


def support(answer: str, evidence: str) -> float:
    """Share of the answer's content terms that occur in the evidence (1.0 = every one)."""
    terms = content_terms(answer)
    if not terms:
        return 0.0
    return len(terms & content_terms(evidence)) / len(terms)


@dataclass(frozen=True)
class Sentence:
    chunk: Chunk
    text: str
    start_char: int  # in the document text
    end_char: int
    start_line: int
    end_line: int
    score: float = 0.0
    dense: float = 0.0

    def citation(self) -> Citation:
        return Citation(self.chunk.source, self.start_line, self.end_line, self.text, self.chunk.title)


def split_sentences(chunk: Chunk) -> list[Sentence]:
    out = []
    for s, e in sentence_spans(chunk.text):
        first = chunk.start_line + chunk.text.count("\n", 0, s)
        last = chunk.start_line + chunk.text.count("\n", 0, e)
        out.append(Sentence(chunk, chunk.text[s:e], chunk.start_char + s, chunk.start_char + e, first, last))
    return out


def rank_sentences(question_terms: set[str], query_vector: np.ndarray, sentences: list[Sentence], vectors: np.ndarray, lexical_weight: float = 0.5) -> list[Sentence]:
    """Query-aware selection: meaning (cosine) plus the share of the question's terms a sentence contains."""
    ranked = []
    for sent, vec in zip(sentences, vectors):
        dense = float(vec @ query_vector)
        overlap = len(question_terms & content_terms(sent.text)) / max(1, len(question_terms))
        ranked.append(
            Sentence(sent.chunk, sent.text, sent.start_char, sent.end_char, sent.start_line, sent.end_line, dense + lexical_weight * overlap, dense)
        )
    return sorted(ranked, key=lambda s: -s.score)


# What kind of answer a question asks for, and how to see one in a sentence.
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
_TIME = re.compile(rf"\b((19|20)\d\d|{_MONTHS}|monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|week|month|year|decade|century|spring|summer|autumn|fall|winter|ago|since|until)\b", re.I)


def expected_type(question: str) -> str:
    q = question.lower().strip()
    if re.match(r"^(in )?(what|which) year\b|^when\b|^(on |in )?what (date|day|month)\b|^how long ago\b", q):
        return "time"
    if re.match(r"^how (many|much)\b|^what (percentage|share|number|amount)\b", q):
        return "number"
    if re.match(r"^(who|whom|whose)\b", q):
        return "name"
    return ""


def has_type(text: str, kind: str, question: str) -> bool:
    if kind == "time":
        return bool(_TIME.search(text))
    if kind == "number":
        return bool(_NUMBER.search(text)) or bool(
            re.search(r"\b(one|two|three|four|five|six|seven|eight|nine|ten|dozen|hundred|thousand|million|billion|half|quarter)\b", text, re.I)
        )
    if kind == "name":  # a capitalized word the question does not already contain, not at sentence start
        asked = {w.lower() for w in words(question)}
        caps = re.findall(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-z]+", text)
        return any(c.lower() not in asked for c in caps)
    return True
