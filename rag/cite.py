"""Evidence and support: which sentences bear on the question, and whether an answer rests on them.

The model only phrases. Whether an answer stands is decided here, by checking its words against the
cited sentences: an answer whose content words are not in the text it cites is not shown as the model's.
"""

from __future__ import annotations

import math
import re
from collections import Counter
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
    doing done does did get got make made many much
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
        for part in {w, *w.split("-")} if "-" in w else (w,):
            if part and part not in STOPWORDS:
                out.add(stem(part))
    return out


def covered(term: str, terms: set[str]) -> bool:
    """The term, or a longer or shorter form of it ("spoke" ~ "spokesman"), is among terms."""
    if term in terms:
        return True
    return len(term) >= 4 and any(len(t) >= 4 and (t.startswith(term) or term.startswith(t)) for t in terms)


def coverage(question_terms: set[str], text_terms: set[str], weight=None) -> float:
    """idf-weighted share of the question's terms that the text covers (1.0 when there are none)."""
    if not question_terms:
        return 1.0
    weight = weight or (lambda term: 1.0)
    total = sum(weight(t) for t in question_terms) or 1.0
    return sum(weight(t) for t in question_terms if covered(t, text_terms)) / total


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
    dense: float = 0.0  # cosine similarity to the question
    overlap: float = 0.0  # idf-weighted share of the question's terms found in the sentence

    def citation(self) -> Citation:
        c = self.chunk
        return Citation(c.source, self.start_line, self.end_line, self.text, c.title, c.page, c.heading)


_ANAPHOR_START = re.compile(r"^[“\"]?(he|she|it|they|his|her|its|their|this|these|those)\b", re.I)
_UNNAMED_SPEAKER = re.compile(r"\b(he|she|they) (said|added|explained|noted|argued|warned|told)\b", re.I)


def with_context(best: Sentence, pool: list[Sentence]) -> Sentence:
    """The sentence, joined with a neighbour it leans on: a following "He is a former CIA officer." or, for
    a remark ending "…,” he said", the preceding sentence that names the speaker. Same paragraph only."""
    same = sorted(
        (x for x in pool if x.chunk.source == best.chunk.source and x.chunk.paragraph == best.chunk.paragraph),
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
    parts = [x for x in (first, best, last) if x is not None]
    text = " ".join(dict.fromkeys(x.text for x in parts))
    return Sentence(best.chunk, text, first.start_char, last.end_char, first.start_line, last.end_line,
                    best.score, best.dense, best.overlap)


def split_sentences(chunk: Chunk) -> list[Sentence]:
    out = []
    for s, e in sentence_spans(chunk.text):
        first = chunk.start_line + chunk.text.count("\n", 0, s)
        last = chunk.start_line + chunk.text.count("\n", 0, e)
        out.append(Sentence(chunk, chunk.text[s:e], chunk.start_char + s, chunk.start_char + e, first, last))
    return out


def relation_terms(question: str) -> set[str]:
    """The question's content words that are not names: what it asks about an entity ("founder", "revenue")."""
    names = {w.lower() for w in re.findall(r"(?<!^)\b[A-Z][\w’'-]*", question.strip())}
    lowered = " ".join(w for w in re.findall(r"[\w’'-]+", question) if w.lower() not in names)
    return content_terms(lowered)


class TermWeights:
    """Inverse document frequency of content terms over the indexed chunks: rare words say more."""

    def __init__(self, texts: list[str]):
        df: Counter = Counter()
        for t in texts:
            df.update(content_terms(t))
        self.n = len(texts)
        self.df = df
        self.common = 0.25  # a term in more than this share of passages is "everywhere"

    def __call__(self, term: str) -> float:
        return math.log((self.n + 1) / (self.df.get(term, 0) + 0.5))


def rank_sentences(question_terms: set[str], query_vector: np.ndarray, sentences: list[Sentence], vectors: np.ndarray,
                   lexical_weight: float = 0.5, weights: TermWeights | None = None) -> list[Sentence]:
    """Query-aware selection: meaning (cosine) plus the idf-weighted share of the question's terms a sentence holds."""
    ranked = []
    for sent, vec in zip(sentences, vectors):
        dense = float(vec @ query_vector)
        overlap = coverage(question_terms, content_terms(sent.text), weights) if question_terms else 0.0
        ranked.append(
            Sentence(sent.chunk, sent.text, sent.start_char, sent.end_char, sent.start_line, sent.end_line,
                     dense + lexical_weight * overlap, dense, overlap)
        )
    return sorted(ranked, key=lambda s: -s.score)


# What kind of answer a question asks for, and how to see one in a sentence.
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
_TIME = re.compile(rf"\b((19|20)\d\d|{_MONTHS}|monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|week|month|year|decade|century|spring|summer|autumn|fall|winter|ago|since|until)\b", re.I)


_NAME_HEADS = (
    r"country|countries|city|cities|nation|state|capital|region|newspaper|paper|publication|outlet|company|firm|provider|"
    r"carrier|operator|maker|makers|manufacturer|vendor|organi[sz]ation|agency|department|programme|program|alliance|"
    r"minority|group|committee|council|leader|official|person|lawmaker|politician|minister|chancellor|president|"
    r"diplomat|ambassador|congressman|senator|spokesman|spokeswoman|executive|founder|author|writer|journalist"
)
_WHICH_NAME = re.compile(
    rf"^((in|at|from|to|for|of|by|with) )?(which|what) ((?!(in|of|for|at|on|to|the|by|with|from)\b)[\w’'-]+ ){{0,3}}({_NAME_HEADS})\b", re.I
)


def expected_type(question: str) -> str:
    """The kind of answer a question asks for: "name", "number", "time", or "" (anything)."""
    q = question.lower().strip()
    if re.match(r"^(in )?(what|which) year\b|^when\b|^(on |in )?what (date|day|month)\b|^how long ago\b", q):
        return "time"
    if re.match(r"^how (many|much|old)\b|^what (percentage|share|number|amount)\b", q):
        return "number"
    if re.match(r"^(who|whom|whose)\b", q) or _WHICH_NAME.match(q):
        return "name"
    return ""


_CAP = r"[A-Z][\w’'.&-]*[\w]"
_NAME_RUN = re.compile(rf"{_CAP}(?:\s+(?:(?:of|for|the|and|de|van|von|al|a)\s+)?{_CAP})*")
_NUMBER_RUN = re.compile(r"(?:\$|£|€)?(?<![\w.])\d[\d,.]*(?![\w])(?:\s*(?:%|percent|per cent|million|billion|thousand|years?|months?|days?))?|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|half|a quarter|dozens?|hundreds?|thousands?)\b", re.I)
_TIME_RUN = re.compile(rf"\b(?:(?:early|late|mid-?)\s*)?(?:(?:\d{{1,2}}\s+)?(?:{_MONTHS})\.?(?:\s+\d{{1,2}})?,?\s*(?:19|20)\d\d|(?:{_MONTHS})\.?\s+\d{{1,2}}|(?:{_MONTHS})|(?:19|20)\d\d|(?:last|this|next) (?:week|month|year)|yesterday|today|(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b", re.I)
_LEADING = re.compile(r"^(the|a|an|but|and|in|on|at|as|so|then|however|while|last|this|mr|ms|mrs|dr)\.?\s+", re.I)


_NOT_NAMES = re.compile(rf"^(?:{_MONTHS}|monday|tuesday|wednesday|thursday|friday|saturday|sunday)$|[’'](?:m|re|ve|ll|d)$", re.I)


def _plausible_name(span: str, at: int, terms: set[str], asked: set[str], weights) -> bool:
    """Not a weekday, not what the question says, not a lone capitalized first word, not the corpus's
    everywhere-entity (a name found in most passages, like the subject of every article, rarely answers)."""
    if not terms or terms <= asked or span.lower() in STOPWORDS or _NOT_NAMES.search(span):
        return False
    if re.search(r"\d", span) or not (re.search(r"[a-z]{2}", span) or re.fullmatch(r"[A-Z]{2,}|(?:[A-Z]\.){2,}[A-Z]?", span)):
        return False  # "L1-L9" is no name; "ZTE", "NATO" and "U.S." are
    if at == 0 and " " not in span:
        return False
    return weights is None or any(weights.df.get(t, 0) <= weights.common * weights.n for t in terms)


def clip_around(text: str, phrases: list[str], words: int) -> str:
    """`text` cut to `words` words either side of the phrases it contains (an exact substring of it).

    The model choosing among candidate answers reads only this much: every prompt token costs ~5 ms on two
    cores, and the words next to a candidate are what tell it apart (eval: same F1 at 8 words as whole sentences).
    """
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    hits = [
        i
        for phrase in phrases
        if (at := text.find(phrase)) >= 0
        for i, (start, end) in enumerate(spans)
        if start < at + len(phrase) and end > at
    ]
    if words <= 0 or not hits:
        return text
    first, last = max(0, min(hits) - words), min(len(spans), max(hits) + words + 1)
    return text[spans[first][0] : spans[last - 1][1]]


def candidates(text: str, kind: str, question: str, weights: "TermWeights | None" = None) -> list[str]:
    """Spans of `text` that could answer a question of this kind, minus what the question already says,
    nearest to the question's cue words first."""
    pattern = {"name": _NAME_RUN, "number": _NUMBER_RUN, "time": _TIME_RUN}.get(kind)
    if pattern is None:
        return []
    spans = list(pattern.finditer(text))
    asked = content_terms(question)
    # Closest to the words the question shares with the sentence first: answers sit next to their cues.
    stem = _stem()
    cue_positions = [m.start() for m in _WORD.finditer(text) if covered(stem(re.sub(r"[’']s$", "", m.group(0).lower())), asked)]
    scored: dict[str, float] = {}
    for m in spans:
        span = re.sub(r"[’']s$", "", m.group(0).strip(" ,.;:’'“”\"")).strip()
        span = _LEADING.sub("", span) if kind == "name" else span
        terms = content_terms(span)
        if not span or (kind == "name" and not _plausible_name(span, m.start(), terms, asked, weights)):
            continue
        at = text.find(span, m.start())
        distance = min((abs(at - p) if p < at else abs(p - (at + len(span))) for p in cue_positions), default=len(text))
        scored[span] = min(scored.get(span, distance), distance)
    return sorted(scored, key=lambda x: scored[x])


def has_type(text: str, kind: str, question: str) -> bool:
    if kind == "time":
        return bool(_TIME.search(text))
    if kind == "number":
        return bool(_NUMBER.search(text)) or bool(
            re.search(r"\b(one|two|three|four|five|six|seven|eight|nine|ten|dozen|hundred|thousand|million|billion|half|quarter)\b", text, re.I)
        )
    if kind == "name":  # a capitalized word the question does not already contain (the first word aside)
        asked = {w.lower() for w in words(question)}
        caps = [m.group(0) for m in re.finditer(r"\b[A-Z][\w’'-]*[a-z]", text) if m.start() > 2]
        return any(c.lower() not in asked and c.lower() not in STOPWORDS for c in caps)
    return True
