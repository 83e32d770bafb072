"""`rag train`: the evidence ranker and the answerability score, learned from the question corpus (tests/qa/).

    1. pools      every question of every folder through the real retrieval and first-stage ranking: its
                  `rerank_top` best candidate sentences, each labelled gold when it states the record's evidence
    2. ranker     a copy of the bundled all-MiniLM-L6-v2 encoder fine-tuned on the train folders' pools (each
                  gold sentence against the first stage's best non-gold ones: MultipleNegativesRankingLoss),
                  exported to ONNX int8 (a cross-encoder from the same weights did not learn: README, Quality)
    3. mix        a logistic regression over each candidate's trained score and first-stage features, fitted on
                  the train folders: the evidence score that orders the candidates
    4. decline    a logistic regression on the answerability features (rag/engine/decide.py) of the
                  dev folders, with the ranker and the mix in place; its threshold and the short-answer threshold
                  are chosen on the dev folders too

Test folders are never read here. Everything runs on CPU (2 shared cores: about 20 minutes); the result is written to
rag/weights/ (or --out) and the sha256 of each file is written to models.txt's `rerank` lines.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.tools import questions
from rag.engine import decide, reader, rerank
from rag.engine.decide import FEATURES
from rag.config import ROOT, TEXT_VERSION, Settings
from rag.models import sha256_file
from rag.engine.query import analyze

log = logging.getLogger("rag.tools.train")

BUILD_DIR = ROOT / "build"
HARD_NEGATIVES = 6  # per gold sentence: the first stage's best non-gold candidates (and the batch's others)
MAX_TOKENS = 128  # a candidate longer than this many word pieces is cut (its start says what it is)
SEED = 13
POOLS_VERSION = 2  # what a cached pool holds (2: each candidate's sentence as well)


@dataclass
class Config:
    epochs: float = 1.0
    batch_size: int = 32  # questions per step, each with its gold and negatives
    learning_rate: float = 3e-5
    warmup_ratio: float = 0.1
    max_wrongly_declined: float = 0.03  # the decline threshold: the highest whose dev wrongly-declined rate stays under this (the
    #                                     other decline rules add about two points: 0.03 gives 4-5% on the dev folders end to end)
    short_precision: float = 0.55  # the short-answer threshold: the lowest at which the dev top-1 is gold this often (on dev
    #                                the curve is flat from 0.55 to 0.65, 0.7 is reached only by the top 2% of questions)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", questions.fold(text).lower())


def is_gold(candidate: str, evidence: list[str]) -> bool:
    """The candidate states (part of) a gold quote: most of its words are a quote's, or a quote is inside it."""
    cand = questions.fold(candidate).lower()
    words = _words(candidate)
    if len(words) < 3:
        return False
    for quote in evidence:
        q = questions.fold(quote).lower()
        if q in cand or (len(cand) >= 20 and cand in q):
            return True
        qw = set(_words(quote))
        if qw and sum(w in qw for w in words) / len(words) >= 0.8 and len(set(words) & qw) / len(qw) >= 0.5:
            return True
    return False


def folder_settings(folder: str, qa_dir: Path = questions.QA_DIR, **changes) -> Settings:
    return Settings.from_env(**{"corpus_dir": qa_dir / "folders" / folder, "index_dir": BUILD_DIR / "qa-index" / folder,
                                "use_llm": False, **changes})


def record_query(pipeline, record: dict):
    """A record's question as the engine understands it (after its follow-up history)."""
    history = [(h, "") for h in record.get("history", [])]
    return analyze(record["question"], history, pipeline.vocabulary, pipeline.embedder.dictionary())


def pools(folder: str, embedder, ranked_by: str = "first", ranker_dir: Path = rerank.WEIGHTS_DIR,
          qa_dir: Path = questions.QA_DIR) -> list[dict]:
    """Each record of the folder with its candidates: the `rerank_top` best of the first stage (or of the trained
    ranker, `ranked_by="ranker"`), each with its ranker text and gold label; plus the answerability features.
    The first stage's pools are kept in build/train/ while the questions, the folder and the code are unchanged."""
    if ranked_by == "first":
        key = hashlib.sha256(json.dumps([
            sha256_file(qa_dir / f"{folder}.jsonl"),
            sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in (qa_dir / "folders" / folder).iterdir()),
            [sha256_file(ROOT / "rag" / m) for m in ("engine/pipeline.py", "engine/select.py", "engine/query.py", "engine/retrieve.py", "index/chunk.py", "index/clean.py")],
            TEXT_VERSION, POOLS_VERSION]).encode()).hexdigest()[:16]
        cache = BUILD_DIR / "train" / "pools" / f"{folder}-{key}.json"
        if cache.is_file():
            return json.loads(cache.read_text())
        out = _pools(folder, embedder, ranked_by, ranker_dir, qa_dir)
        cache.parent.mkdir(parents=True, exist_ok=True)
        _write_json(cache, out)
        return out
    return _pools(folder, embedder, ranked_by, ranker_dir, qa_dir)


def _pools(folder: str, embedder, ranked_by: str, ranker_dir: Path, qa_dir: Path) -> list[dict]:
    from rag.engine.pipeline import Pipeline

    # the reader reads these pools: they hold the engine's order before it (its own scores would feed back)
    settings = folder_settings(folder, qa_dir, rerank=ranked_by == "ranker", ranker_dir=ranker_dir, reader=False)
    pipeline = Pipeline(settings, embedder=embedder, progress=False)
    out = []
    for rec in questions.load(folder, qa_dir):
        query = record_query(pipeline, rec)
        found = pipeline.evidence.gather(query)
        ranked = found.ranked if ranked_by == "ranker" else found.first[: pipeline.settings.rerank_top]
        out.append({
            "id": rec["id"], "folder": folder, "kind": rec["kind"], "question": query.search,
            "answerable": rec["kind"] != "unanswerable", "evidence": rec.get("evidence", []),
            "candidates": [{"text": rerank.pair_text(x.text, x.chunk.heading, x.chunk.kind), "source": x.chunk.source,
                            "sentence": x.text, "heading": x.chunk.heading,
                            "page": x.chunk.page, "gold": is_gold(x.text, rec.get("evidence", [])), "score": x.score,
                            "features": rerank.candidate_features(x) if ranked_by == "ranker" else {}}
                           for x in ranked],
            "features": pipeline.decider.features(query, found) if ranked_by == "ranker" else {},
        })
    return out


def ranking_quality(pool: list[dict]) -> dict:
    """First-choice precision (the best candidate is gold) and MRR over answerable questions, and how often a
    gold sentence is in the pool at all."""
    rows = [p for p in pool if p["answerable"]]
    first, rr, inside = [], [], []
    for p in rows:
        rank = next((i for i, c in enumerate(p["candidates"], 1) if c["gold"]), None)
        first.append(rank == 1)
        rr.append(1.0 / rank if rank else 0.0)
        inside.append(rank is not None)
    n = len(rows) or 1
    return {"n": len(rows), "p@1": round(sum(first) / n, 3), "mrr": round(sum(rr) / n, 3), "in_pool": round(sum(inside) / n, 3)}


def rows(pool: list[dict], rng: random.Random) -> list[list[str]]:
    """(question, gold, negative_1 … negative_N) for the ranker (a bi-encoder: question and sentence are embedded apart): each gold candidate (at most two per
    question; the gold quote itself when retrieval missed it) against the first stage's best non-gold
    candidates, which are the hardest: what the ranker must learn is to tell them apart. Unanswerable questions
    have no gold and teach the answerability score instead."""
    out = []
    for p in pool:
        if not p["answerable"]:
            continue
        cands = p["candidates"]
        gold = [c["text"] for c in cands if c["gold"]][:2] or [" ".join(q.split()) for q in p["evidence"][:1]]
        rest = [c["text"] for c in cands if not c["gold"]]
        if not rest:
            continue
        negs = rest[:HARD_NEGATIVES]
        while len(negs) < HARD_NEGATIVES:  # a short pool: repeat its negatives (a column may not be empty)
            negs.append(rng.choice(rest))
        out += [[p["question"], g, *negs] for g in gold]
    return out


def train_ranker(train_rows: list[list[str]], out_dir: Path, cfg: Config) -> Path:
    """Fine-tune a copy of the MiniLM encoder so that a question is nearest its gold sentence among the hard
    negatives and the batch's other sentences (MultipleNegativesRankingLoss), then export it as ONNX int8."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.losses import MultipleNegativesRankingLoss
    from sentence_transformers.training_args import BatchSamplers

    from rag.index.embed import export_fp32, quantize
    from rag.models import resolve

    torch.manual_seed(SEED)
    _, base = resolve(Settings().models_file, "embed")
    model = SentenceTransformer(str(base), device="cpu")
    model.max_seq_length = MAX_TOKENS
    columns = ["anchor", "positive", *(f"negative_{i}" for i in range(1, HARD_NEGATIVES + 1))]
    data = Dataset.from_dict({c: [r[i] for r in train_rows] for i, c in enumerate(columns)}).shuffle(seed=SEED)
    work = BUILD_DIR / "train"
    args = SentenceTransformerTrainingArguments(
        output_dir=str(work / "checkpoints"), num_train_epochs=cfg.epochs, per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate, warmup_ratio=cfg.warmup_ratio, save_strategy="no", logging_steps=10,
        seed=SEED, report_to="none", use_cpu=True, dataloader_num_workers=0, batch_sampler=BatchSamplers.NO_DUPLICATES,
    )
    loss = MultipleNegativesRankingLoss(model, scale=rerank.Ranker.SCALE)
    with contextlib.redirect_stdout(sys.stderr):  # the trainer prints its log; stdout is the report's
        SentenceTransformerTrainer(model=model, args=args, train_dataset=data, loss=loss).train()
    saved = work / "ranker-model"
    model.save(str(saved))
    out_dir.mkdir(parents=True, exist_ok=True)
    fp32 = work / "ranker-fp32.onnx"
    export_fp32(saved, fp32)
    tmp = out_dir / (rerank.RANKER_FILE + ".tmp")
    quantize(fp32, tmp)
    os.replace(tmp, out_dir / rerank.RANKER_FILE)
    write_recipe(base, out_dir)
    return out_dir / rerank.RANKER_FILE


def write_recipe(base: Path, out_dir: Path) -> None:
    """What the ONNX encoder needs beside the weights (rag/index/embed.py): the tokenizer, and the base model's module
    list and mean pooling, which fine-tuning kept, with the training's sequence length."""
    shutil.copyfile(base / "tokenizer.json", out_dir / "tokenizer.json")
    shutil.copyfile(base / "modules.json", out_dir / "modules.json")
    (out_dir / "1_Pooling").mkdir(exist_ok=True)
    shutil.copyfile(base / "1_Pooling" / "config.json", out_dir / "1_Pooling" / "config.json")
    config = json.loads((base / "sentence_bert_config.json").read_text())
    (out_dir / "sentence_bert_config.json").write_text(json.dumps({**config, "max_seq_length": MAX_TOKENS}))


def fit_mix(pool: list[dict]) -> rerank.Mix:
    """The evidence score: logistic regression of gold vs not over the candidates of the train folders'
    answerable questions (features: rerank.candidate_features)."""
    from sklearn.linear_model import LogisticRegression

    rows = [(c["features"], c["gold"]) for p in pool if p["answerable"] for c in p["candidates"]]
    x = np.array([[f[n] for n in rerank.MIX_FEATURES] for f, _ in rows])
    y = np.array([g for _, g in rows], dtype=int)
    lr = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(x, y)
    return rerank.Mix(rerank.MIX_FEATURES, tuple(float(w) for w in lr.coef_[0]), float(lr.intercept_[0]))


def rerank_pool(pool: list[dict], mix: rerank.Mix) -> list[dict]:
    """The pool re-ordered by the mix (for measuring it without running the pipeline again)."""
    out = []
    for p in pool:
        cands = [{**c, "score": mix.logit(c["features"])} for c in p["candidates"]]
        out.append({**p, "candidates": sorted(cands, key=lambda c: -c["score"])})
    return out




def fit_answerability(dev: list[dict], cfg: Config, mix: rerank.Mix) -> rerank.Answerability:
    """Logistic regression (L2) on the dev folders' features; the decline threshold is the highest probability
    at which at most `max_wrongly_declined` of the dev answerable questions are declined."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([[p["features"][f] for f in FEATURES] for p in dev], dtype=np.float64)
    y = np.array([p["answerable"] for p in dev], dtype=int)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    lr = LogisticRegression(C=1.0, max_iter=2000).fit((x - mean) / scale, y)
    model = decide.Answerability(FEATURES, tuple(float(w) for w in lr.coef_[0]), float(lr.intercept_[0]),
                                 tuple(float(m) for m in mean), tuple(float(s) for s in scale), 0.5, 0.5)
    probs = np.array([model.probability(p["features"]) for p in dev])
    answerable = np.sort(probs[y == 1])
    k = int(np.floor(cfg.max_wrongly_declined * len(answerable)))  # this many may fall below the threshold
    threshold = float(answerable[k]) if len(answerable) else 0.5
    # short answers: the lowest top-1 score at which the dev top-1 candidate is gold `short_precision` often
    tops = sorted(((p["candidates"][0]["score"], p["candidates"][0]["gold"]) for p in dev
                   if p["answerable"] and p["candidates"]), reverse=True)
    short, hits = float("inf"), 0
    for i, (prob, gold) in enumerate(tops, 1):
        hits += gold
        if hits / i >= cfg.short_precision:
            short = prob
    return decide.Answerability(model.names, model.weights, model.bias, model.mean, model.scale, threshold, float(short), mix)


def record_models(models_file: Path, out_dir: Path) -> None:
    """Write the sha256 of the trained files into models.txt's `rerank` lines (atomically)."""
    lines = models_file.read_text(encoding="utf-8").splitlines()
    wanted = {name: sha256_file(out_dir / name) for name in (rerank.RANKER_FILE, rerank.ANSWERABILITY_FILE, reader.READER_FILE, reader.READER_SETTINGS)
              if (out_dir / name).is_file()}
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) == 4 and parts[0] == "rerank" and Path(parts[2].split(":", 1)[-1]).name in wanted:
            parts[3] = wanted[Path(parts[2].split(":", 1)[-1]).name]
            line = "  ".join(parts)
        out.append(line)
    tmp = models_file.with_suffix(".tmp")
    tmp.write_text("\n".join(out) + "\n", encoding="utf-8")
    os.replace(tmp, models_file)


def compare(folders: list[str], ranker_dir: Path = rerank.WEIGHTS_DIR) -> dict:
    """First-choice precision and MRR of the first stage (meaning + key terms, today's ranking before the
    ranker) and of the trained ranker, per folder: `rag train --compare FOLDER`."""
    from rag.index.embed import Embedder

    embedder = Embedder.from_settings(Settings.from_env())
    return {f: {"first_stage": ranking_quality(pools(f, embedder)),
                "trained": ranking_quality(pools(f, embedder, "ranker", ranker_dir))} for f in folders}


def _write_json(path: Path, data) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def leave_one_folder_out(train_ranked: list[dict], dev_ranked: dict[str, list[dict]]) -> dict:
    """The mix fitted on every train and dev folder but one, measured on that one (first-choice precision and
    MRR): how it does on a folder it never saw. The ranker itself is not retrained per folder (an hour each
    on two cores); on a train folder its scores have seen that folder's questions."""
    by_folder: dict[str, list[dict]] = {}
    for p in train_ranked:
        by_folder.setdefault(p["folder"], []).append(p)
    by_folder.update(dev_ranked)
    out = {}
    for held, pool in by_folder.items() if len(by_folder) > 1 else []:
        mix = fit_mix([p for f, ps in by_folder.items() if f != held for p in ps])
        out[held] = ranking_quality(rerank_pool(pool, mix))
    return out


def run(out_dir: Path = rerank.WEIGHTS_DIR, cfg: Config | None = None, train_folders=None, dev_folders=None,
        qa_dir: Path = questions.QA_DIR, echo=print, keep_ranker: bool = False) -> dict:
    """The whole recipe; returns the report (also written to out_dir/training.json)."""
    from rag.index.embed import Embedder

    cfg = cfg or Config()
    rng = random.Random(SEED)
    train_folders = train_folders or questions.folders("train")
    dev_folders = dev_folders or questions.folders("dev")
    embedder = Embedder.from_settings(Settings.from_env())
    report: dict = {"train_folders": train_folders, "dev_folders": dev_folders, "config": cfg.__dict__}
    t0 = time.perf_counter()
    listed = out_dir.resolve() == rerank.WEIGHTS_DIR.resolve()  # the shipped files: models.txt records their sha256
    if keep_ranker:  # only the answerability score and the thresholds, for the ranker already in out_dir
        old = json.loads((out_dir / "training.json").read_text()) if (out_dir / "training.json").is_file() else {}
        report.update({k: old[k] for k in ("questions", "rows", "ranker_seconds") if k in old})
    train_pool = []
    for f in train_folders if not keep_ranker else []:
        train_pool += pools(f, embedder, qa_dir=qa_dir)
        echo(f"pools: {f} ({time.perf_counter() - t0:.0f} s)")
    dev_first = {f: pools(f, embedder, qa_dir=qa_dir) for f in dev_folders}
    if not keep_ranker:
        train_rows = rows(train_pool, rng)
        report["questions"] = len(train_pool)
        report["rows"] = len(train_rows)
        echo(f"training the ranker on {len(train_rows)} gold sentences of {len(train_pool)} questions, {HARD_NEGATIVES} negatives each")
        t1 = time.perf_counter()
        train_ranker(train_rows, out_dir, cfg)
        report["ranker_seconds"] = round(time.perf_counter() - t1)
    if listed:
        record_models(Settings().models_file, out_dir)
    write = lambda model: _write_json(out_dir / rerank.ANSWERABILITY_FILE, model.to_dict())  # noqa: E731
    (out_dir / rerank.ANSWERABILITY_FILE).unlink(missing_ok=True)  # no old mix while the new one is fitted
    rerank.clear()
    decide.clear()
    train_ranked = [p for f in train_folders for p in pools(f, embedder, "ranker", out_dir, qa_dir)]
    mix = fit_mix(train_ranked)
    write(decide.Answerability((), (), 0.0, (), (), 0.0, float("inf"), mix))
    if listed:
        record_models(Settings().models_file, out_dir)
    rerank.clear()
    decide.clear()
    dev_ranked = {f: pools(f, embedder, "ranker", out_dir, qa_dir) for f in dev_folders}
    report["dev_ranking"] = {f: {"first_stage": ranking_quality(dev_first[f]), "trained": ranking_quality(dev_ranked[f])}
                             for f in dev_folders}
    report["lofo_mix"] = leave_one_folder_out(train_ranked, dev_ranked)
    model = fit_answerability([p for f in dev_folders for p in dev_ranked[f]], cfg, mix)
    write(model)
    if listed:
        record_models(Settings().models_file, out_dir)
    rerank.clear()
    decide.clear()
    report["answerability"] = {"threshold": model.threshold, "short_threshold": model.short_threshold}
    report["seconds"] = round(time.perf_counter() - t0)
    _write_json(out_dir / "training.json", report)
    return report
