"""`rag train --reader`: the reader (rag/engine/reader.py), learned from the question corpus of tests/qa/.

    1. examples  each question's candidate pool (rag/tools/train.py `pools`: the first stage's best sentences),
                 each candidate labelled 1 when it states the record's evidence or a teacher graded it as
                 answering in whole or in part (tests/qa/grades/), else 0; an unanswerable question's candidates
                 are all 0 (its near misses); the record's short answer located in the answering sentence (span)
    2. states    the MiniLM token vectors of every question and candidate (the same int8 ONNX run the first
                 stage makes), computed once
    3. train     per question a group of one answering candidate and the hardest others. Loss: binary
                 cross-entropy per candidate (p decides declines, so it must mean something) + a softmax over
                 the group (the answer above its near misses) + the span's cross-entropy
    4. calibrate on the dev folders: the temperature with the least log loss, then the decline threshold
    5. export    ONNX int8 and reader.json

Test folders are never read here. CPU is enough (a CUDA GPU is used when present).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rag.engine import reader as reader_mod
from rag.tools import questions

GRADES_DIR = questions.QA_DIR / "grades"
ANSWERS = ("answers", "part")  # the teacher's grades that count as answering (in whole or in part)


@dataclass
class ReaderConfig:
    epochs: int = 6
    groups_per_step: int = 16  # questions per optimiser step
    group_size: int = 8  # candidates per question: one answering and the hardest others
    pool_top: int = 20  # candidates per question the reader is trained on and run on
    hidden: int = 128
    layers: int = 2
    heads: int = 4
    dropout: float = 0.1
    learning_rate: float = 1e-3
    warmup_ratio: float = 0.05
    listwise_weight: float = 1.0
    span_weight: float = 0.3
    max_wrongly_declined: float = 0.05  # the decline threshold: the highest whose dev wrongly-declined rate stays under this
    max_questions: int = 0  # 0: all (the learning curve trains on fewer)
    seed: int = 13


@dataclass
class Example:
    question: str
    sentences: list[str]
    features: list[list[float]]  # reader.feature_row of each
    labels: list[float]
    answer: str = ""  # the short answer, or ""
    answerable: bool = True
    folder: str = ""
    kind: str = ""
    near_miss: bool = False


def grades(folder: str, grades_dir: Path = GRADES_DIR) -> dict[str, dict[str, str]]:
    """The teacher's grades of a folder: record id -> {fold(sentence): grade}."""
    path = grades_dir / f"{folder}.jsonl"
    out: dict[str, dict[str, str]] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                g = json.loads(line)
                out[g["id"]] = {questions.fold(c["sentence"]): c["grade"] for c in g["candidates"] if c.get("grade")}
    return out


def examples(pool: list[dict], records: dict[str, dict], graded: dict[str, dict[str, str]], top: int, folder: str = "") -> list[Example]:
    """One Example per question of a folder's pool. A teacher's grade wins over the record's evidence for an
    answerable question (it also finds the other sentences that answer); an unanswerable one has no answer."""
    out = []
    for p in pool:
        rec = records.get(p["id"], {})
        cands = p["candidates"][:top]
        teacher = graded.get(p["id"], {})
        labels = []
        for c in cands:
            g = teacher.get(questions.fold(c["sentence"]))
            gold = bool(c["gold"]) or (g in ANSWERS if g else False)
            labels.append(float(p["answerable"] and gold))
        answer = "" if rec.get("kind") == "yesno" else next(iter(rec.get("answers", [])), "")
        rows = [reader_mod.feature_row(c["features"], c["score"], p["features"]) for c in cands]
        out.append(Example(p["question"], [c["sentence"] for c in cands], rows, labels,
                           answer, p["answerable"], folder, rec.get("kind", ""), bool(rec.get("near"))))
    return out


def folder_examples(folders: list[str], embedder, cfg: ReaderConfig, qa_dir: Path = questions.QA_DIR,
                    grades_dir: Path = GRADES_DIR, pools_dir: Path | None = None) -> list[Example]:
    """Each folder's questions with today's engine's candidates (ranked by the trained ranker and the evidence
    mix, with its features): the reader reads what the engine would give it. `pools_dir`: pools made before."""
    from rag.tools.train import pools

    out = []
    for f in folders:
        records = {r["id"]: r for r in questions.load(f, qa_dir)}
        cached = pools_dir / f"{f}.json" if pools_dir else None
        pool = json.loads(cached.read_text()) if cached and cached.is_file() else pools(f, embedder, "ranker", qa_dir=qa_dir)
        out += examples(pool, records, grades(f, grades_dir), cfg.pool_top, f)
    return out


def token_states(exs: list[Example], embedder, block: int = 512, echo=print) -> dict:
    """text -> TokenStates for every question and candidate, from the embedder's own ONNX run."""
    texts = list(dict.fromkeys([t for ex in exs for t in (ex.question, *ex.sentences)]))
    out, t0 = {}, time.perf_counter()
    for start in range(0, len(texts), block):
        part = texts[start:start + block]
        out.update(zip(part, embedder.encode_with_states(part)[1]))
        if (start // block) % 10 == 9:
            echo(f"token vectors: {start + len(part)} of {len(texts)} texts ({time.perf_counter() - t0:.0f} s)")
    return out


def span_tokens(answer: str, sentence: str, states) -> tuple[int, int]:
    """The first and last word piece of the short answer in the sentence, or (-100, -100)."""
    if not answer:
        return -100, -100
    at = sentence.lower().find(answer.lower())
    if at < 0:
        return -100, -100
    end = at + len(answer)
    toks = [i for i, (a, b) in enumerate(states.offsets) if b > a and a < end and b > at]
    return (toks[0], toks[-1]) if toks else (-100, -100)


def build_model(cfg: ReaderConfig, dim: int = 384, n_features: int = 18, mean=None, scale=None):
    import torch

    class ReaderNet(torch.nn.Module):
        """Two transformer layers over the question's and the sentence's token vectors together."""

        def __init__(self):
            super().__init__()
            h = cfg.hidden
            self.project = torch.nn.Linear(dim, h)
            self.side = torch.nn.Embedding(2, h)  # question or sentence
            self.match = torch.nn.Embedding(2, h)  # the word piece is in the other text
            self.cls = torch.nn.Parameter(torch.zeros(1, 1, h))
            layer = torch.nn.TransformerEncoderLayer(h, cfg.heads, 2 * h, cfg.dropout, batch_first=True, norm_first=True)
            self.layers = torch.nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
            self.norm = torch.nn.LayerNorm(h)
            self.answer = torch.nn.Sequential(torch.nn.Linear(h + 1 + n_features, h), torch.nn.GELU(), torch.nn.Linear(h, 1))
            # the features' scales differ (logits, shares, counts): standardised with the train rows' mean and spread
            self.register_buffer("mean", torch.as_tensor(mean if mean is not None else np.zeros(n_features), dtype=torch.float32))
            self.register_buffer("scale", torch.as_tensor(scale if scale is not None else np.ones(n_features), dtype=torch.float32))
            self.span = torch.nn.Linear(h, 2)

        def forward(self, q_states, q_mask, q_match, s_states, s_mask, s_match, features):
            q = self.project(q_states) + self.side.weight[0] + self.match(q_match)
            s = self.project(s_states) + self.side.weight[1] + self.match(s_match)
            x = torch.cat([self.cls.expand(q.shape[0], 1, -1), q, s], dim=1)
            mask = torch.cat([torch.ones_like(q_mask[:, :1]), q_mask, s_mask], dim=1)
            for layer in self.layers.layers:
                x = encoder_layer(layer, x, mask == 0, self.training)
            x = self.norm(x)
            # the first stage's view, as a feature: the cosine of the pooled vectors (what a bi-encoder compares)
            qm, sm = q_mask.unsqueeze(-1).to(q_states.dtype), s_mask.unsqueeze(-1).to(s_states.dtype)
            qv = torch.nn.functional.normalize((q_states * qm).sum(1) / qm.sum(1).clamp(min=1.0), dim=-1)
            sv = torch.nn.functional.normalize((s_states * sm).sum(1) / sm.sum(1).clamp(min=1.0), dim=-1)
            cos = (qv * sv).sum(-1, keepdim=True)
            logit = self.answer(torch.cat([x[:, 0], cos, (features - self.mean) / self.scale], dim=-1)).squeeze(-1)
            se = self.span(x[:, 1 + q_states.shape[1]:])
            return logit, se[..., 0], se[..., 1]

    return ReaderNet()


def encoder_layer(layer, x, blank, training: bool):
    """One torch.nn.TransformerEncoderLayer (norm first) over x (batch, tokens, hidden), spelled out: its weights,
    its arithmetic, but attention reshaped by heads only, so that the ONNX export keeps the batch and the length
    dynamic (the built-in layer's traced attention fixes the length it was exported with)."""
    import torch
    import torch.nn.functional as F

    attn = layer.self_attn
    heads = attn.num_heads
    q, k, v = F.linear(layer.norm1(x), attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    q, k, v = (t.unflatten(-1, (heads, -1)).transpose(1, 2) for t in (q, k, v))  # (batch, heads, tokens, dim)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(blank[:, None, None, :], -1e4)
    weights = F.dropout(torch.softmax(scores, dim=-1), attn.dropout, training)
    out = attn.out_proj((weights @ v).transpose(1, 2).flatten(2))
    x = x + layer.dropout1(out)
    return x + layer.dropout2(layer.linear2(layer.dropout(layer.activation(layer.linear1(layer.norm2(x))))))


def _tensors(pairs: list[tuple], states: dict, device):
    """Model inputs for a list of (question, sentence, first score): reader.inputs, batched across questions."""
    import torch

    qs = [states[q] for q, _, _ in pairs]
    ss = [reader_mod.clip(states[s]) for _, s, _ in pairs]
    batch = {"features": np.asarray([row for _, _, row in pairs], dtype=np.float32)}
    batch["q_states"], batch["q_mask"] = reader_mod.pad([q.vectors for q in qs])
    batch["s_states"], batch["s_mask"] = reader_mod.pad([s.vectors for s in ss])
    batch["q_match"] = reader_mod.pad([reader_mod.match_flags(q.ids, s.ids) for q, s in zip(qs, ss)])[0]
    batch["s_match"] = reader_mod.pad([reader_mod.match_flags(s.ids, q.ids) for q, s in zip(qs, ss)])[0]
    batch["q_states"], batch["s_states"] = batch["q_states"].astype(np.float32), batch["s_states"].astype(np.float32)
    return {k: torch.from_numpy(v).to(device) for k, v in batch.items()}


ORDER = ("q_states", "q_mask", "q_match", "s_states", "s_mask", "s_match", "features")


def groups(ex: Example, size: int, rng: random.Random) -> list[tuple[list[int], int]]:
    """(candidate indices, position of the answering one or -1) per group: each answering candidate (at most two)
    with the hardest others (and two easier ones), or, for a question nothing answers, its best candidates."""
    pos = [i for i, y in enumerate(ex.labels) if y > 0.5]
    neg = [i for i, y in enumerate(ex.labels) if y <= 0.5]
    if not pos:
        return [(neg[:size], -1)] if neg else []
    out = []
    for i in pos[:2]:
        hard, rest = neg[: size - 3], neg[size - 3:]
        out.append(([i, *hard, *rng.sample(rest, min(2, len(rest)))], 0))
    return out


def train(exs: list[Example], states: dict, cfg: ReaderConfig, echo=print, device: str | None = None):
    """The trained torch model and its loss per step."""
    import torch
    import torch.nn.functional as F

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    dim = next(iter(states.values())).vectors.shape[1]
    rows = np.asarray([r for ex in exs for r in ex.features], dtype=np.float64)
    model = build_model(cfg, dim, rows.shape[1], rows.mean(0), np.maximum(rows.std(0), 1e-3)).to(device)
    units = [(ex, g) for ex in exs for g in groups(ex, cfg.group_size, rng)]
    steps = max(1, math.ceil(len(units) / cfg.groups_per_step) * cfg.epochs)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=0.01)
    warm = max(1, int(steps * cfg.warmup_ratio))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s + 1) / warm if s < warm else max(0.02, (steps - s) / (steps - warm)))
    model.train()
    losses, order, t0 = [], [], time.perf_counter()
    for step in range(steps):
        if len(order) < cfg.groups_per_step:
            order = list(range(len(units)))
            rng.shuffle(order)
        chosen = [units[order.pop()] for _ in range(cfg.groups_per_step)]
        pairs, labels, bounds, gold_at, starts, ends = [], [], [], [], [], []
        for ex, (idx, pos) in chosen:
            a = len(pairs)
            for i in idx:
                pairs.append((ex.question, ex.sentences[i], ex.features[i]))
                labels.append(ex.labels[i])
                st, en = span_tokens(ex.answer, ex.sentences[i], reader_mod.clip(states[ex.sentences[i]])) if ex.labels[i] > 0.5 else (-100, -100)
                starts.append(st)
                ends.append(en)
            bounds.append((a, len(pairs)))
            gold_at.append(pos)
        feed = _tensors(pairs, states, device)
        logit, s_log, e_log = model(*(feed[k] for k in ORDER))
        y = torch.tensor(labels, device=device)
        loss = F.binary_cross_entropy_with_logits(logit, y)
        listwise = [F.cross_entropy(logit[a:b].unsqueeze(0), torch.tensor([pos], device=device))
                    for (a, b), pos in zip(bounds, gold_at) if pos >= 0 and b - a > 1]
        if listwise:
            loss = loss + cfg.listwise_weight * torch.stack(listwise).mean()
        st, en = torch.tensor(starts, device=device), torch.tensor(ends, device=device)
        if (st >= 0).any():
            blank = feed["s_mask"] == 0
            s_log, e_log = s_log.masked_fill(blank, -1e4), e_log.masked_fill(blank, -1e4)
            loss = loss + cfg.span_weight * (F.cross_entropy(s_log, st, ignore_index=-100) + F.cross_entropy(e_log, en, ignore_index=-100)) / 2
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if (step + 1) % 200 == 0 or step + 1 == steps:
            echo(f"reader step {step + 1}/{steps}: loss {np.mean(losses[-200:]):.3f} ({time.perf_counter() - t0:.0f} s)")
    model.eval()
    return model, losses


def scores(model, exs: list[Example], states: dict, batch: int = 256) -> list[np.ndarray]:
    """The model's answer logits for every candidate of every example."""
    import torch

    device = next(model.parameters()).device
    flat = [(ex.question, s, f) for ex in exs for s, f in zip(ex.sentences, ex.features)]
    out = []
    with torch.no_grad():
        for i in range(0, len(flat), batch):
            feed = _tensors(flat[i:i + batch], states, device)
            out.append(model(*(feed[k] for k in ORDER))[0].float().cpu().numpy())
    z = np.concatenate(out) if out else np.zeros(0)
    res, at = [], 0
    for ex in exs:
        res.append(z[at:at + len(ex.sentences)])
        at += len(ex.sentences)
    return res


def quality(exs: list[Example], logits: list[np.ndarray], threshold: float | None = None, temperature: float = 1.0) -> dict:
    """First-choice precision and MRR over answerable questions (against the labels); with a threshold, the
    share of unanswerable questions declined and of answerable ones wrongly declined, and decline F1."""
    p1, rr, declined_un, declined_ans = [], [], [], []
    for ex, z in zip(exs, logits):
        best = float(np.max(z)) if len(z) else -30.0
        declines = threshold is not None and reader_mod.sigmoid(best / temperature) < threshold
        if ex.answerable:
            order = np.argsort(-z, kind="stable")
            rank = next((r for r, i in enumerate(order, 1) if ex.labels[i] > 0.5), None)
            p1.append(rank == 1)
            rr.append(1 / rank if rank else 0.0)
            declined_ans.append(declines)
        else:
            declined_un.append(declines)
    out = {"questions": len(exs), "p@1": round(float(np.mean(p1)), 3) if p1 else 0.0, "mrr": round(float(np.mean(rr)), 3) if rr else 0.0}
    if threshold is not None:
        tp, fp, fn = sum(declined_un), sum(declined_ans), len(declined_un) - sum(declined_un)
        prec, rec = (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)
        out.update({"declined": round(float(np.mean(declined_un)), 3) if declined_un else None,
                    "wrongly_declined": round(float(np.mean(declined_ans)), 3) if declined_ans else None,
                    "decline_f1": round(2 * prec * rec / (prec + rec), 3) if prec + rec else 0.0})
    return out


MIX_AT = 7  # where the evidence mix's logit sits in a feature row (after rerank.MIX_FEATURES)


def today_logits(exs: list[Example]) -> list[np.ndarray]:
    """Today's order (the evidence mix's logit), as scores: P@1 and MRR side by side with the reader's."""
    return [np.asarray([row[MIX_AT] for row in ex.features]) for ex in exs]


def calibrate(exs: list[Example], logits: list[np.ndarray]) -> float:
    """The temperature T with the least log loss of sigmoid(max logit / T) against "the question is answered by
    one of its candidates" (the probability the decline reads)."""
    z = np.asarray([float(np.max(s)) if len(s) else -30.0 for s in logits])
    y = np.asarray([float(ex.answerable and any(v > 0.5 for v in ex.labels)) for ex in exs])
    best, at = float("inf"), 1.0
    for t in np.exp(np.linspace(math.log(0.25), math.log(8), 80)):
        p = np.clip(1 / (1 + np.exp(-z / t)), 1e-6, 1 - 1e-6)
        ll = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
        if ll < best:
            best, at = ll, float(t)
    return at


def choose_threshold(exs: list[Example], logits: list[np.ndarray], temperature: float, max_wrong: float) -> float:
    """The highest decline threshold whose wrongly-declined rate on these (dev) questions stays within max_wrong."""
    best = 0.0
    for t in np.linspace(0.02, 0.95, 94):
        q = quality(exs, logits, float(t), temperature)
        if q["wrongly_declined"] is not None and q["wrongly_declined"] <= max_wrong:
            best = float(t)
    return round(best, 3)


def ece(exs: list[Example], logits: list[np.ndarray], temperature: float) -> float:
    """Expected calibration error of p(best candidate answers) against whether the question is answerable."""
    from rag.tools.eval import calibration

    return calibration([(reader_mod.sigmoid(float(np.max(z)) / temperature) if len(z) else 0.0, ex.answerable)
                        for ex, z in zip(exs, logits)])[0]


def export(model, cfg: ReaderConfig, out_dir: Path, settings: dict) -> Path:
    """ONNX int8 of the model and reader.json, each written atomically into out_dir."""
    import warnings

    import torch

    from rag.index.embed import quantize

    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu").eval()
    dim = model.project.in_features
    dummy = (torch.zeros(2, 5, dim), torch.ones(2, 5, dtype=torch.long), torch.zeros(2, 5, dtype=torch.long),
             torch.zeros(2, 7, dim), torch.ones(2, 7, dtype=torch.long), torch.zeros(2, 7, dtype=torch.long),
             torch.zeros(2, model.mean.shape[0]))
    fp32 = out_dir / ".reader-fp32.onnx"
    q_axes, s_axes = {0: "batch", 1: "q_tokens"}, {0: "batch", 1: "s_tokens"}
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # the fused inference kernel of an encoder layer has no ONNX form
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, dummy, str(fp32), input_names=list(ORDER), output_names=["logit", "start", "end"],
                          dynamic_axes={"q_states": q_axes, "q_mask": q_axes, "q_match": q_axes, "s_states": s_axes,
                                        "s_mask": s_axes, "s_match": s_axes, "features": {0: "batch"},
                                        "logit": {0: "batch"}, "start": s_axes, "end": s_axes},
                          opset_version=17, dynamo=False)
    torch.backends.mha.set_fastpath_enabled(fastpath)
    tmp = out_dir / f".{reader_mod.READER_FILE}.tmp"
    quantize(fp32, tmp)
    os.replace(tmp, out_dir / reader_mod.READER_FILE)
    fp32.unlink(missing_ok=True)
    tmp = out_dir / f".{reader_mod.READER_SETTINGS}.tmp"
    tmp.write_text(json.dumps({**settings, "config": asdict(cfg)}, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out_dir / reader_mod.READER_SETTINGS)
    return out_dir / reader_mod.READER_FILE


def fit_decision(exs: list[Example], logits: list[np.ndarray], temperature: float, max_wrong: float) -> dict | None:
    """The decline, fitted on the dev folders: a logistic regression of "the folder answers it" on the log-odds of
    the reader's best p and of the ten-feature answerability model's p (rag/engine/decide.py, read from the same
    feature row), and the highest threshold whose dev wrongly-declined rate stays within max_wrong. The two
    disagree usefully: the reader knows whether a sentence answers, the features how much of the question the
    folder covers at all."""
    from sklearn.linear_model import LogisticRegression

    from rag.engine.decide import FEATURES, load_answerability
    from rag.tools.eval import calibration

    model = load_answerability()
    y = np.asarray([ex.answerable for ex in exs])
    if len(set(y)) < 2:
        return None
    reader_p = [reader_mod.sigmoid(float(np.max(z)) / temperature) if len(z) else 0.0 for z in logits]
    features_p = [model.probability(dict(zip(FEATURES, ex.features[0][MIX_AT + 1:]))) if ex.features else 0.0 for ex in exs]
    x = np.asarray([[reader_mod.log_odds(a), reader_mod.log_odds(b)] for a, b in zip(reader_p, features_p)])
    fit = LogisticRegression(C=1.0).fit(x, y)
    p = fit.predict_proba(x)[:, 1]
    threshold = 0.0
    for t in np.linspace(0.01, 0.95, 95):
        if np.mean(p[y] < t) <= max_wrong:
            threshold = float(t)
    declined, wrong = float(np.mean(p[~y] < threshold)), float(np.mean(p[y] < threshold))
    prec = np.sum(p[~y] < threshold) / max(1, np.sum(p < threshold))
    return {"weights": [round(float(w), 4) for w in fit.coef_[0]], "bias": round(float(fit.intercept_[0]), 4),
            "threshold": round(threshold, 3), "dev_declined": round(declined, 3), "dev_wrongly_declined": round(wrong, 3),
            "dev_decline_f1": round(float(2 * prec * declined / (prec + declined)) if prec + declined else 0.0, 3),
            "dev_ece": calibration(list(zip(p.tolist(), y.tolist())))[0]}


def choose_short_threshold(exs: list[Example], logits: list[np.ndarray], temperature: float, precision: float) -> float:
    """The lowest p at which the dev top-1 candidate answers `precision` often: below it, no short answer."""
    tops = sorted(((reader_mod.sigmoid(float(np.max(z)) / temperature), ex.labels[int(np.argmax(z))] > 0.5)
                   for ex, z in zip(exs, logits) if ex.answerable and len(z)), reverse=True)
    short, hits = 1.0, 0
    for i, (p, ok) in enumerate(tops, 1):
        hits += ok
        if hits / i >= precision:
            short = p
    return round(float(short), 3)


def run(out_dir: Path, cfg: ReaderConfig | None = None, train_folders=None, dev_folders=None,
        qa_dir: Path = questions.QA_DIR, grades_dir: Path = GRADES_DIR, echo=print, pools_dir: Path | None = None,
        states: dict | None = None, keep: Path | None = None) -> dict:
    """The whole recipe; returns the report (also written into reader.json beside the model). `pools_dir` and
    `states`: candidate pools and token vectors made before (the learning curve reuses them); `keep`: where the
    trained torch weights are saved before calibration and export."""
    from rag.config import Settings
    from rag.index.embed import Embedder

    cfg = cfg or ReaderConfig()
    t0 = time.perf_counter()
    train_folders = train_folders or questions.folders("train")
    dev_folders = dev_folders or questions.folders("dev")
    embedder = Embedder.from_settings(Settings.from_env())
    train_ex = folder_examples(train_folders, embedder, cfg, qa_dir, grades_dir, pools_dir)
    dev_ex = folder_examples(dev_folders, embedder, cfg, qa_dir, grades_dir, pools_dir)
    if cfg.max_questions:
        random.Random(cfg.seed).shuffle(train_ex)
        train_ex = train_ex[: cfg.max_questions]
    echo(f"reader: {len(train_ex)} train questions over {len(train_folders)} folders, {len(dev_ex)} dev questions")
    known = states or {}
    missing = [ex for ex in train_ex + dev_ex if ex.question not in known or any(s not in known for s in ex.sentences)]
    states = {**known, **token_states(missing, embedder, echo=echo)} if missing else known
    model, losses = train(train_ex, states, cfg, echo)
    if keep is not None:
        import torch

        torch.save(model.state_dict(), keep)
    dev_logits = scores(model, dev_ex, states)
    temperature = calibrate(dev_ex, dev_logits)
    threshold = choose_threshold(dev_ex, dev_logits, temperature, cfg.max_wrongly_declined)
    short = choose_short_threshold(dev_ex, dev_logits, temperature, SHORT_PRECISION)
    decision = fit_decision(dev_ex, dev_logits, temperature, cfg.max_wrongly_declined)
    per_folder = {}
    for f in dev_folders:
        pick = [i for i, ex in enumerate(dev_ex) if ex.folder == f]
        exs, zs = [dev_ex[i] for i in pick], [dev_logits[i] for i in pick]
        per_folder[f] = {"today": quality(exs, today_logits(exs)), "reader": quality(exs, zs, threshold, temperature)}
    report = {"train_folders": train_folders, "dev_folders": dev_folders, "train_questions": len(train_ex),
              "graded_questions": sum(len(grades(f, grades_dir)) for f in train_folders),
              "temperature": round(temperature, 4), "threshold": threshold, "short_threshold": short, "decide": decision,
              "dev": per_folder, "dev_all": quality(dev_ex, dev_logits, threshold, temperature),
              "dev_ece": ece(dev_ex, dev_logits, temperature), "final_loss": round(float(np.mean(losses[-50:])), 4),
              "seconds": round(time.perf_counter() - t0)}
    export(model, cfg, out_dir, report)
    reader_mod.clear()
    return report


SHORT_PRECISION = 0.6  # a short answer in front only where the dev top-1 sentence answers this often
