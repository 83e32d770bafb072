"""The trained evidence ranker and the evidence mix (trained by `rag train`, rag/tools/train.py).

Ranker: a copy of the bundled all-MiniLM-L6-v2 encoder fine-tuned for one job, on the question corpus of tests/qa/:
a question's vector must be nearer to the vector of the sentence that states its answer (with the heading it
sits under) than to the other retrieved sentences (sentence-transformers' MultipleNegativesRankingLoss with
hard negatives). Its score is 20 × cosine. It runs as ONNX int8 on onnxruntime. (A cross-encoder from the same
weights, which reads question and sentence together, was tried first and did not learn: see README, Quality.)

The ranker is a bi-encoder: question and sentence are embedded apart and compared by cosine; it never reads them
together.

Mix: a logistic regression over each candidate's trained score and first-stage features (candidate_features),
fitted on the train folders; its logit is the evidence score. It is stored in answerability.json beside the
answerability model (rag/engine/decide.py), which is fitted on the dev folders.

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
def load_mix(directory: Path = WEIGHTS_DIR) -> Mix | None:
    """The evidence score's mix (stored beside the answerability model, which rag/engine/decide.py reads), or
    None before `rag train` has fitted one (the trained score alone then)."""
    path = directory / ANSWERABILITY_FILE
    if not path.is_file():
        return None
    verified(path)
    try:
        mix = json.loads(path.read_text(encoding="utf-8")).get("mix")
        return Mix(tuple(mix["names"]), tuple(mix["weights"]), mix["bias"]) if mix else None
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise ModelError(f"cannot read the evidence mix in {path}: {e}") from None


def clear() -> None:
    """Forget the loaded models (after `rag train` wrote new ones)."""
    load_ranker.cache_clear()
    load_mix.cache_clear()
