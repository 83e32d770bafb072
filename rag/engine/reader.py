"""The reader: does this sentence answer the question? Question and sentence read together, token by token.

    Reader.read(question_states, candidate_states, first_scores) -> list[Reading]
        p(the sentence answers the question, in whole or in part), calibrated on the dev folders,
        and where in the sentence the short answer lies (a span of its word pieces)

What it reads: the token vectors the bundled all-MiniLM-L6-v2 encoder already computes for the first stage (the
question's and each candidate sentence's, computed apart and pooled there into one vector each). A bi-encoder
compares only those pooled vectors, so "the market share of vendor A" and "a 35 percent cap on vendor B" look
alike. The reader instead runs two small transformer layers over the question's tokens and the sentence's tokens
together (each token attends to the other text's), with a flag on every word piece the other text shares, and
pools that into an answer logit; a span head scores each sentence token as the start or end of the short answer.
It also sees what today's engine knows (feature_row: the trained ranker's and the first stage's scores, the
evidence mix's logit, the question's answerability features), so it learns a correction to them rather than
starting from nothing.

Why not a full cross-encoder (the six MiniLM layers over "[CLS] question [SEP] sentence [SEP]"): on the two
cores this runs on, one pair takes 57 ms (fp32, 96 tokens), so 20 candidates would take over a second per
question against a 300 ms budget, and training on 10,000 questions would take hours per epoch. The reader runs
the same encoder once per text (the index keeps pooled vectors only, so the candidates' token vectors are
computed again: most of the read stage's 18-101 ms p50 on the test folders) and its own two layers on top.

Trained by `rag train --reader` (rag/tools/train_reader.py); shipped as ONNX int8 in rag/weights/ with its sha256
in models.txt (role `rerank`, checked at every load); reader.json beside it holds the temperature and thresholds chosen on dev folders.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.engine.answerability import FEATURES
from rag.engine.rerank import MIX_FEATURES, sigmoid, verified
from rag.errors import ModelError

READER_FILE = "reader-int8.onnx"
READER_SETTINGS = "reader.json"  # temperature, thresholds and the sizes the model was exported with
MAX_SENTENCE_TOKENS = 64  # a longer sentence is read up to here (its start says what it is)
MAX_SPAN_TOKENS = 12  # a short answer is at most this many word pieces
SPECIAL_IDS = (0, 100, 101, 102, 103)  # [PAD] [UNK] [CLS] [SEP] [MASK] of the MiniLM vocabulary: never a match


def match_flags(ids: np.ndarray, other: np.ndarray) -> np.ndarray:
    """1 for each word piece of `ids` that `other` also has (special tokens and one-character pieces excepted)."""
    return np.isin(ids, np.setdiff1d(other, SPECIAL_IDS)).astype(np.int64)


def pad(arrays: list[np.ndarray], width: int | None = None, value=0) -> tuple[np.ndarray, np.ndarray]:
    """Stack variable-length rows (n_i, ...) into (B, width, ...) with a mask."""
    width = width or max(len(a) for a in arrays)
    out = np.full((len(arrays), width, *arrays[0].shape[1:]), value, dtype=arrays[0].dtype)
    mask = np.zeros((len(arrays), width), dtype=np.int64)
    for r, a in enumerate(arrays):
        n = min(len(a), width)
        out[r, :n] = a[:n]
        mask[r, :n] = 1
    return out, mask


def clip(states):
    """A sentence's token states cut to MAX_SENTENCE_TOKENS (its end: the closing [SEP] goes too)."""
    if len(states.ids) <= MAX_SENTENCE_TOKENS:
        return states
    n = MAX_SENTENCE_TOKENS
    return type(states)(states.ids[:n], states.offsets[:n], states.vectors[:n])


def feature_row(candidate: dict[str, float], mix_logit: float, question: dict[str, float]) -> list[float]:
    """What the reader knows of a candidate besides its tokens: today's evidence features of the candidate
    (rag/engine/rerank.py: the trained ranker's score, the first stage's), the evidence mix's logit, and the
    question's answerability features (rag/engine/decide.py: how well the best passages cover its terms, an
    unknown name). The reader learns a correction to them by reading."""
    return [*(float(candidate[n]) for n in MIX_FEATURES), float(mix_logit), *(float(question[n]) for n in FEATURES)]


def inputs(question, candidates, feature_rows) -> dict[str, np.ndarray]:
    """The model's inputs for one question (rag.index.embed.TokenStates) against its candidates."""
    candidates = [clip(c) for c in candidates]
    n = len(candidates)
    qv, qm = pad([question.vectors.astype(np.float32)] * n)
    qf, _ = pad([match_flags(question.ids, c.ids) for c in candidates])
    sv, sm = pad([c.vectors.astype(np.float32) for c in candidates])
    sf, _ = pad([match_flags(c.ids, question.ids) for c in candidates])
    feats = np.asarray(feature_rows, dtype=np.float32)
    return {"q_states": qv, "q_mask": qm, "q_match": qf, "s_states": sv, "s_mask": sm, "s_match": sf, "features": feats}


@dataclass(frozen=True)
class Reading:
    logit: float
    probability: float  # sigmoid(logit / temperature)
    span: tuple[int, int] | None  # character offsets of the short answer in the sentence
    span_score: float  # p(start) * p(end) of that span


class Reader:
    def __init__(self, directory: Path):
        import onnxruntime as ort

        model = directory / READER_FILE
        if not model.is_file():
            raise ModelError(f"no trained reader in {directory} (run `rag train --reader`)")
        verified(model)
        try:
            self.settings = json.loads((directory / READER_SETTINGS).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot read the reader's settings in {directory}: {e}") from None
        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise ModelError(f"cannot load the reader {model}: {e}") from None

    @property
    def temperature(self) -> float:
        return float(self.settings.get("temperature", 1.0))

    def decide(self, reader_p: float, features_p: float) -> tuple[float, float]:
        """(p that the documents answer the question, its decline threshold): the reader's best p and the
        ten-feature answerability model's p (rag/engine/decide.py) combined by the logistic regression fitted on
        the dev folders (reader.json `decide`); the reader's p alone where none was fitted."""
        d = self.settings.get("decide")
        if not d:
            return reader_p, float(self.settings["threshold"])
        z = d["bias"] + d["weights"][0] * log_odds(reader_p) + d["weights"][1] * log_odds(features_p)
        return sigmoid(z), float(d["threshold"])

    def logits(self, question, candidates, feature_rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return tuple(self.session.run(None, inputs(question, candidates, feature_rows)))

    def read(self, question, candidates, feature_rows) -> list[Reading]:
        if not candidates:
            return []
        logits, starts, ends = self.logits(question, candidates, feature_rows)
        out = []
        for r, c in enumerate(candidates):
            span, score = best_span(clip(c), starts[r], ends[r])
            z = float(logits[r])
            out.append(Reading(z, sigmoid(z / self.temperature), span, score))
        return out


def best_span(states, start_logits, end_logits) -> tuple[tuple[int, int] | None, float]:
    """The most likely (start, end) word-piece pair of a sentence, as character offsets in it."""
    tokens = [i for i, (a, b) in enumerate(states.offsets) if b > a]
    if not tokens:
        return None, 0.0
    s = _softmax(np.asarray([start_logits[i] for i in tokens]))
    e = _softmax(np.asarray([end_logits[i] for i in tokens]))
    best, at = 0.0, None
    for a in range(len(tokens)):
        for b in range(a, min(len(tokens), a + MAX_SPAN_TOKENS)):
            if s[a] * e[b] > best:
                best, at = float(s[a] * e[b]), (int(states.offsets[tokens[a]][0]), int(states.offsets[tokens[b]][1]))
    return at, best


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max())
    return z / z.sum()


def log_odds(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@lru_cache(maxsize=4)
def load_reader(directory: Path) -> Reader:
    return Reader(directory)


def clear() -> None:
    load_reader.cache_clear()
