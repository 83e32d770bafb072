"""The trained evidence ranker and answerability score (trained by `rag train`, rag/train.py).

Ranker: a copy of the bundled all-MiniLM-L6-v2 encoder fine-tuned for one job, on the question corpus of tests/qa/:
a question's vector must be nearer to the vector of the sentence that states its answer (with the heading it
sits under) than to the other retrieved sentences (sentence-transformers' MultipleNegativesRankingLoss with
hard negatives). Its score is 20 × cosine. It runs as ONNX int8 on onnxruntime. (A cross-encoder from the same
weights, which reads question and sentence together, was tried first and did not learn: see README, Quality.)

Answerability: a logistic regression over what the ranker and the retrieval say about the question's pool (the
best sentence's logit, its margin over the next, key-term coverage, names no document mentions, ...), fitted on
the training folders and calibrated on the dev folders. Its probability below the threshold chosen on the dev
folders means: decline.

Both files live in rag/weights/ and are listed in models.txt with their sha256 (role `rerank`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.config import ROOT
from rag.errors import ModelError

WEIGHTS_DIR = ROOT / "rag" / "weights"  # beside the code, named in models.txt
RANKER_FILE = "ranker-int8.onnx"
ANSWERABILITY_FILE = "answerability.json"


def pair_text(sentence: str, heading: str, kind: str = "text") -> str:
    """What the ranker reads of a candidate: the innermost heading it sits under, then the sentence (a code
    block is marked as such: for a how-to it may be the answer)."""
    head = heading.rsplit(" › ", 1)[-1].strip()
    body = " ".join(sentence.split())
    if kind == "code":
        body = "code: " + body
    return f"{head}: {body}" if head else body


class Ranker:
    """question × candidates -> scores (20 × cosine of the fine-tuned encoder's vectors), on onnxruntime.
    A candidate's vector depends on its text alone, so it is remembered (a long-running server embeds each
    sentence once)."""

    SCALE = 20.0  # the training loss's scale: scores are logits of its softmax over a question's candidates
    CACHE_MAX = 50_000

    def __init__(self, directory: Path = WEIGHTS_DIR):
        from rag.index.embed import OnnxEncoder

        model = directory / RANKER_FILE
        if not model.is_file() or not (directory / "tokenizer.json").is_file():
            raise ModelError(f"no trained ranker in {directory} (run `rag train`)")
        verified(model)
        self.encoder = OnnxEncoder(directory, model)
        self._vectors: dict[str, np.ndarray] = {}

    def scores(self, question: str, candidates: list[str]) -> np.ndarray:
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        missing = list(dict.fromkeys(c for c in candidates if c not in self._vectors))
        if len(self._vectors) + len(missing) > self.CACHE_MAX:
            self._vectors.clear()
        if missing:
            self._vectors.update(zip(missing, self.encoder.encode(missing, 32)))
        q = self.encoder.encode([question], 1)[0]
        return self.SCALE * np.stack([self._vectors[c] for c in candidates]) @ q


MIX_FEATURES = ("trained", "first", "dense", "overlap", "rank", "words", "code")


def candidate_features(x) -> dict[str, float]:
    """What the mix reads of one candidate sentence (a rag.select.Sentence): the trained ranker's score, the first
    stage's (meaning and key terms), where the first stage put it, its length, and whether it is code."""
    return {"trained": x.trained / Ranker.SCALE, "first": x.first, "dense": x.dense, "overlap": x.overlap,
            "rank": math.log1p(x.rank), "words": math.log1p(len(x.text.split())), "code": float(x.chunk.kind == "code")}


@dataclass(frozen=True)
class Mix:
    """The evidence score: a logistic regression over candidate_features, fitted on the train folders (a gold
    sentence against the other candidates of its question). Its logit orders the candidates."""

    names: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float

    def logit(self, features: dict[str, float]) -> float:
        return self.bias + sum(w * features[n] for n, w in zip(self.names, self.weights))


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
    mix: Mix | None = None

    def probability(self, features: dict[str, float]) -> float:
        return sigmoid(self.bias + sum(w * (features[n] - m) / s for n, w, m, s in zip(self.names, self.weights, self.mean, self.scale)))

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["mix"] = self.mix and {"names": self.mix.names, "weights": self.mix.weights, "bias": self.mix.bias}
        return out

    @classmethod
    def load(cls, path: Path) -> "Answerability":
        verified(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            mix = raw.pop("mix", None)
            fields = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in cls.__dataclass_fields__}
            return cls(**fields, mix=Mix(tuple(mix["names"]), tuple(mix["weights"]), mix["bias"]) if mix else None)
        except (OSError, ValueError, TypeError) as e:
            raise ModelError(f"cannot read the answerability model {path}: {e}") from None


def verified(path: Path, models_file: Path | None = None) -> None:
    """A trained file listed in models.txt (role `rerank`) must match its sha256 there, checked at every load;
    a file trained elsewhere (`rag train --out`) is not listed and is taken as it is."""
    from rag.config import ROOT
    from rag.models import locate, read_models, verify

    models_file = models_file or ROOT / "models.txt"
    for spec in read_models(models_file):
        if spec.role == "rerank" and (found := locate(spec, models_file)) is not None and found.resolve() == path.resolve():
            verify(spec, found)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))


@lru_cache(maxsize=4)
def load_ranker(directory: Path = WEIGHTS_DIR) -> Ranker:
    """The trained ranker, loaded once per process."""
    return Ranker(directory)


@lru_cache(maxsize=4)
def load_answerability(directory: Path = WEIGHTS_DIR) -> Answerability:
    return Answerability.load(directory / ANSWERABILITY_FILE)


def load_mix(directory: Path = WEIGHTS_DIR) -> Mix | None:
    """The evidence score's mix, or None before `rag train` has fitted one (the trained score alone then)."""
    if not (directory / ANSWERABILITY_FILE).is_file():
        return None
    return load_answerability(directory).mix


def clear() -> None:
    """Forget the loaded models (after `rag train` wrote new ones)."""
    load_ranker.cache_clear()
    load_answerability.cache_clear()
