"""The question's answerability features: what the decline reads of a question and its ranked evidence (how
sure the ranking is of its best sentence and by how much, how much of the question the best passages speak of).
Apart from decide.py so that the rank stage can hand them to the reader (rag/engine/reader.py) without importing
the decide stage, which reads the rank stage's Evidence."""

from __future__ import annotations

from rag import text
from rag.engine.query import Query
from rag.engine.select import Sentence
from rag.types import Hit

# The features, in the order the model stores its weights; `rag train` fits on exactly these.
FEATURES = ("logit1", "margin", "logit_mean3", "dense1", "overlap1", "passage_cov", "top_cov", "unknown", "hit1", "n_terms")
TOP_LOGITS = 3  # the best few evidence scores the features summarise
NO_LOGIT = -10.0  # stands for a missing evidence score: far below any real one
TERMS_CAP = 10  # a question's number of key terms, capped: more than ten says nothing more


def features(query: Query, ranked: list[Sentence], hits: list[Hit], vocabulary, passage_terms, gate_passages: int) -> dict[str, float]:
    """What the answerability score reads: how sure the ranker is of its best sentence and by how much, and how
    much of the question the best passages speak of. `passage_terms(chunk)`: the words a passage speaks of."""
    logits = [x.score for x in ranked[:TOP_LOGITS]] or [NO_LOGIT]
    best = ranked[0] if ranked else None
    asked = set(query.terms)
    passage = passage_terms(best.chunk) if best else set()
    top = set().union(*(passage_terms(h.chunk) for h in hits[:gate_passages])) if hits else set()
    return {
        "logit1": logits[0],
        "margin": logits[0] - (logits[1] if len(logits) > 1 else NO_LOGIT),
        "logit_mean3": sum(logits) / len(logits),
        "dense1": max((x.dense for x in ranked[:TOP_LOGITS]), default=0.0),
        "overlap1": best.overlap if best else 0.0,
        "passage_cov": text.coverage(asked, passage, vocabulary),
        "top_cov": text.coverage(asked, top, vocabulary),
        "unknown": float(bool(query.unknown)),
        "hit1": hits[0].score if hits else 0.0,
        "n_terms": min(len(asked), TERMS_CAP) / TERMS_CAP,
    }
