"""Decide: answer or decline, and why. This module owns the answerability features, the model that reads them
(a logistic regression fitted by `rag train` on the dev folders, rag/weights/answerability.json) and its
thresholds.

    decide(query, found) -> Verdict      declined (with the reason the answer gives) or the evidence to compose from

Two ways to decline:
    the answerability score   p(the best evidence answers) below the threshold chosen on the dev folders
    nothing bound             a factoid asking for a number or a time, where no retrieved sentence states one next
                              to the question's own words
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rag.engine import compose
from rag.engine.answerability import FEATURES, features  # noqa: F401 (FEATURES: what the model's weights are for)
from rag.engine.evidence import Evidence
from rag.engine.query import Query
from rag.engine.rerank import ANSWERABILITY_FILE, WEIGHTS_DIR, sigmoid, verified
from rag.engine.select import Sentence
from rag.errors import ModelError

@dataclass(frozen=True)
class Answerability:
    """p(the pool answers the question) = sigmoid(w · features + b); decline below `threshold`."""

    names: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float
    short_threshold: float  # a short answer is given only when the best sentence's evidence score reaches this
    mix: object | None = None  # rag.engine.rerank.Mix, stored in the same file

    def probability(self, features: dict[str, float]) -> float:
        return sigmoid(self.bias + sum(w * (features[n] - m) / s for n, w, m, s in zip(self.names, self.weights, self.mean, self.scale)))

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["mix"] = self.mix and {"names": self.mix.names, "weights": self.mix.weights, "bias": self.mix.bias}
        return out

    @classmethod
    def load(cls, path: Path) -> "Answerability":
        from rag.engine.rerank import Mix

        verified(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            mix = raw.pop("mix", None)
            fields = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in cls.__dataclass_fields__}
            return cls(**fields, mix=Mix(tuple(mix["names"]), tuple(mix["weights"]), mix["bias"]) if mix else None)
        except (OSError, ValueError, TypeError) as e:
            raise ModelError(f"cannot read the answerability model {path}: {e}") from None


@lru_cache(maxsize=4)
def load_answerability(directory: Path = WEIGHTS_DIR) -> Answerability:
    return Answerability.load(directory / ANSWERABILITY_FILE)


@dataclass
class Verdict:
    reason: str = ""  # why the documents are taken not to answer; "" when they may
    evidence: list[Sentence] = field(default_factory=list)  # best first, what compose() reads
    confidence: float | None = None  # p that the documents answer it (None: nothing decided it)

    @property
    def declined(self) -> bool:
        return bool(self.reason)


class Decider:
    """The decide stage of one pipeline: its settings, the trained model, the index's vocabulary."""

    def __init__(self, settings, vocabulary, passage_terms):
        self.settings = settings
        self.vocabulary = vocabulary
        self.passage_terms = passage_terms

    @property
    def model(self) -> Answerability:
        return load_answerability(self.settings.ranker_dir)

    @property
    def short_threshold(self) -> float:
        """The evidence score a factoid's best sentence needs for a short answer in front of it."""
        s = self.settings
        return self.model.short_threshold if s.short_threshold is None else s.short_threshold

    def sure(self, best: Sentence) -> bool:
        """Is the best sentence sure enough for a short answer in front of it? With the reader: its p(answers)
        reaches the short-answer threshold chosen on the dev folders; else the evidence score does."""
        if not self.settings.rerank:
            return True
        if best.answer_p >= 0:
            from rag.engine.reader import load_reader

            t = self.settings.short_threshold
            return best.answer_p >= (float(load_reader(self.settings.ranker_dir).settings["short_threshold"]) if t is None else t)
        return best.score >= self.short_threshold

    def features(self, query: Query, found: Evidence) -> dict[str, float]:
        if found.answerability is not None:  # taken before the reader re-scored the candidates
            return found.answerability
        return features(query, found.ranked, found.hits, self.vocabulary, self.passage_terms, self.settings.gate_passages)

    def decide(self, query: Query, found: Evidence) -> Verdict:
        p = self.answerability(query, found) if found.ranked and self.settings.rerank else None
        confidence = p[0] if p else None
        if reason := self.decline_reason(query, found, p):
            return Verdict(reason, confidence=confidence)
        evidence = found.ranked
        if query.form == "factoid" and query.expects in ("number", "time"):
            # the answer must be a number or date bound to the question's words: the best sentence holding one
            stating = [x for x in evidence[: self.settings.bound_from] if compose.bound(query, x.text, self.vocabulary)]
            if not stating:
                return Verdict(f"no retrieved sentence states a {query.expects} for what the question asks", confidence=confidence)
            evidence = [stating[0], *(x for x in evidence if x is not stating[0])]
        return Verdict("", evidence, confidence)

    def answerability(self, query: Query, found: Evidence) -> tuple[float, float]:
        """(p, threshold): p that the documents answer the question and the decline threshold chosen for it on the
        dev folders. The ten-feature model's p; with the reader, a logistic regression (fitted on the dev folders)
        over the log-odds of the reader's best p(this sentence answers) and of the ten-feature model's p."""
        model = self.model
        p, threshold = model.probability(self.features(query, found)), model.threshold
        if found.ranked and found.ranked[0].answer_p >= 0:  # the reader read the candidates
            from rag.engine.reader import load_reader

            p, threshold = load_reader(self.settings.ranker_dir).decide(max(x.answer_p for x in found.ranked), p)
        return p, (threshold if self.settings.decline_threshold is None else self.settings.decline_threshold)

    def decline_reason(self, query: Query, found: Evidence, answerability: tuple[float, float] | None = None) -> str:
        """Why the documents are taken not to answer ("" when they may): the reader's (or, without it, the
        ten-feature model's) p that they answer is below the threshold chosen on the dev folders."""
        if not found.ranked:
            return "nothing retrieved states anything that could answer it"
        if not self.settings.rerank:
            return ""
        p, threshold = answerability or self.answerability(query, found)
        if p >= threshold:
            return ""
        if query.unknown:
            return "no document mentions " + ", ".join(f"“{n}”" for n in query.unknown) + f" (answerability {p:.2f} < {threshold:.2f})"
        return f"the best evidence is unlikely to answer it (answerability {p:.2f} < {threshold:.2f})"


def clear() -> None:
    """Forget the loaded model (after `rag train` wrote a new one)."""
    load_answerability.cache_clear()
