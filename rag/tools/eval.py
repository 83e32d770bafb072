"""`rag eval`: the fixed question set through the same answer() the CLI uses, scored and reported.

Scores, per kind and overall, on the dev and test splits (reported apart: rules are chosen on dev only):
  right       not declined, every must-have fact in the answer, and a gold file cited (a copied sentence
              cannot game it: it must hold the facts and come from the right file); unanswerable: declined
  retrieval   gold source retrieved; gold answer inside the top-1/3/k passages (recall@i); MRR of the gold source
  answers     facts (share of must-have facts covered); correct (a normalized gold alias inside the answer);
              SQuAD token F1 of the short answer (factoids); words (answer length)
  citations   precision (every cited file is a gold source), recall (a gold source is cited),
              support (a cited quote contains a gold alias)
  refusals    unanswerable questions declined; answerable questions wrongly declined
  latency     p50/p95 per stage
"""

from __future__ import annotations

import json
import re
import string
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rag.config import ROOT, Settings
from rag.errors import InputError
from rag.engine.prompts import MODEL_NOT_FOUND
from rag.types import Answer, Citation, Passage

DEFAULT_QUESTIONS = ROOT / "tests" / "eval" / "questions.jsonl"
CORE_KINDS = ("fact", "paraphrase", "quote")


@dataclass
class Question:
    id: str
    question: str
    kind: str = ""
    answers: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    lines: list[dict] = field(default_factory=list)
    history: list[str] = field(default_factory=list)
    match: str = ""  # "sources": correct when every gold source is cited (questions asking which articles)
    split: str = "dev"  # "dev" (rules and thresholds are chosen on it) or "test" ("heldout" in older sets)
    facts: list[list[str]] = field(default_factory=list)  # must-have facts, each a list of aliases
    evidence: list[str] = field(default_factory=list)  # verbatim quotes of the gold sources
    pages: list = field(default_factory=list)  # PDFs: the page of each quote; a citation must name one of them
    folder: str = ""  # tests/qa/ sets: the folder the question is about

    def __post_init__(self):
        if self.split == "heldout":
            self.split = "test"

    @property
    def must_have(self) -> list[list[str]]:
        """The facts an answer must contain: the given ones, else the gold answer itself as one fact."""
        return self.facts or ([self.answers] if self.answers and self.kind != "yesno" else [])
    @property
    def scored(self) -> bool:
        return bool(self.kind) and (bool(self.answers) or bool(self.facts) or self.match == "sources" or self.kind == "unanswerable")

    @property
    def answerable(self) -> bool:
        return self.kind != "unanswerable"


def load_questions(path: Path) -> list[Question]:
    known = set(Question.__dataclass_fields__)
    out = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise InputError(f"cannot read questions file {path}: {e.strerror}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            if not isinstance(raw, dict) or not isinstance(raw.get("question"), str):
                raise ValueError("needs a 'question' string")
            raw.setdefault("id", f"q{n}")
            out.append(Question(**{k: v for k, v in raw.items() if k in known}))
        except (ValueError, TypeError) as e:
            raise InputError(f"{path}:{n}: not a question record ({e})") from None
    if not out:
        raise InputError(f"{path} holds no questions")
    return out


# ---- scoring helpers (pure) ------------------------------------------------------------------------

def normalize(text: str) -> str:
    """SQuAD-style: lower case, no punctuation or articles, single spaces; curly quotes folded."""
    text = text.lower().replace("\ufffe", "-").replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = "".join(" " if ch in string.punctuation and ch not in "%'" else ch for ch in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text.replace("'", " "))
    return " ".join(text.split())


def contains_alias(text: str, aliases: list[str]) -> bool:
    """A gold alias occurs in the text, starting at a word boundary (so "manag" matches "manageable")."""
    t = normalize(text)
    return any(re.search(rf"(?<!\w){re.escape(normalize(a))}", t) for a in aliases if normalize(a))


def says_alias(text: str, aliases: list[str], dates: bool = False) -> bool:
    """contains_alias, and with `dates` also a calendar date of the gold written another way ("2013-07-28" for
    "Sun, 28 Jul 2013"): a date question's answer may spell the day as the metadata does."""
    if contains_alias(text, aliases):
        return True
    if not dates:
        return False
    from rag.index.parse.meta import dates_in

    return bool(dates_in(text) & {d for a in aliases for d in dates_in(a)})


def token_f1(prediction: str, gold: str) -> float:
    p, g = normalize(prediction).split(), normalize(gold).split()
    common = sum((Counter(p) & Counter(g)).values())
    if not p or not g or not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    i = (len(values) - 1) * q
    lo, hi = int(i), min(int(i) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (i - lo)


# ---- running ------------------------------------------------------------------------------------

@dataclass
class Record:
    id: str
    question: str
    kind: str
    split: str
    answer: str
    refused: bool
    mode: str
    citations: list[dict]
    short: str
    form: str
    timings_ms: dict
    passages: list[dict]  # the retrieved passages, best first: source, text
    confidence: float | None = None  # the answer's p that the documents answer it (None: no model decided)

    def public(self) -> dict:
        return {k: getattr(self, k) for k in ("id", "question", "answer", "refused", "citations", "timings_ms")}


def run(answerer, questions: list[Question], progress=None) -> list[Record]:
    """Answer every question (follow-ups after their history), one model load for all."""
    records = []
    for q in questions:
        history = []
        for prev in q.history:
            a = answerer.answer(prev, history=history)
            history.append((prev, a.answer))
        a: Answer = answerer.answer(q.question, history=history)
        passages = [{"source": p.source, "text": p.text} for p in a.passages]
        records.append(
            Record(q.id, q.question, q.kind, q.split, a.answer, a.refused, a.mode,
                   [c.to_dict() for c in a.citations], a.short, a.form, {k: round(v, 1) for k, v in a.timings_ms.items()}, passages,
                   None if a.confidence is None else round(a.confidence, 4))
        )
        if progress:
            progress()
    return records


# ---- scoring ------------------------------------------------------------------------------------

def score_one(q: Question, r: Record, k: int) -> dict:
    """Per-question scores; None where a metric does not apply."""
    s: dict = {}
    cited = [c["source"] for c in r.citations]
    if q.answerable:
        texts = [p["text"] for p in r.passages]
        srcs = [p["source"] for p in r.passages]
        gold = set(q.sources)
        s["source_retrieved"] = float(bool(gold & set(srcs[:k])))
        for name, i in (("recall@1", 1), ("recall@3", 3), ("recall@k", len(texts))):
            s[name] = float(contains_alias(" ".join(texts[:i]), q.answers)) if q.match != "sources" else None
        rank = next((n for n, src in enumerate(srcs, 1) if src in gold), None)
        s["mrr"] = 1.0 / rank if rank else 0.0
        s["wrongly_declined"] = float(r.refused)
        gold_pages = {p for p in q.pages if p}
        cited_gold = any(c["source"] in gold and (not gold_pages or c.get("page") in gold_pages) for c in r.citations)
        if q.match == "sources":
            correct = not r.refused and gold <= set(cited)
            s["f1"] = float(correct)
            s["right"] = float(correct)
        else:
            facts = [not r.refused and says_alias(r.answer, aliases, q.kind == "doc-date") for aliases in q.must_have]
            s["facts"] = sum(facts) / len(facts) if facts else None
            s["right"] = float(not r.refused and all(facts) and cited_gold)
            correct = not r.refused and says_alias(r.answer, q.answers or [a for f in q.facts for a in f], q.kind == "doc-date")
            if q.kind == "yesno" and q.answers:  # does an opening Yes/No, where given, agree with the gold?
                s["polarity"] = None if not r.short else float(normalize(r.short) == normalize(q.answers[0]))
            elif q.answers:
                s["f1"] = 0.0 if r.refused else max(token_f1(r.short or r.answer, a) for a in q.answers)
        s["correct"] = float(correct)
        s["words"] = None if r.refused else float(len(r.answer.split()))
        if not r.refused and cited:
            s["citation_precision"] = float(set(cited) <= gold)
            s["citation_recall"] = float(bool(gold & set(cited)))
            if q.match != "sources":
                s["support"] = float(any(contains_alias(c["quote"], q.answers) for c in r.citations))
    else:
        s["declined"] = float(r.refused)
        s["correct"] = float(r.refused)
        s["right"] = float(r.refused)
    return s


METRICS = ["right", "facts", "correct", "f1", "polarity", "words", "source_retrieved", "recall@1", "recall@3", "recall@k", "mrr",
           "citation_precision", "citation_recall", "support", "declined", "wrongly_declined"]


def aggregate(questions: list[Question], records: list[Record], k: int) -> dict:
    by_id = {q.id: q for q in questions}
    groups: dict[str, list[dict]] = defaultdict(list)
    timings: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    confidences: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for r in records:
        q = by_id[r.id]
        if not q.scored:
            continue
        sc = score_one(q, r, k)
        for g in {q.kind, "all", f"split:{q.split}"} | ({"core"} if q.kind in CORE_KINDS else set()):
            groups[g].append(sc)
            if r.confidence is not None:
                confidences[g].append((r.confidence, q.answerable))
            for stage, ms in r.timings_ms.items():
                timings[g][stage].append(ms)
    out = {}
    for g, rows in groups.items():
        m = {"n": len(rows)}
        for name in METRICS:
            vals = [row[name] for row in rows if row.get(name) is not None]
            m[name] = round(sum(vals) / len(vals), 3) if vals else None
        m["ece"] = calibration(confidences[g])[0] if g in ("all",) or g.startswith("split:") else None
        m["latency_ms"] = {
            stage: {"p50": round(percentile(v, 0.5), 1), "p95": round(percentile(v, 0.95), 1)} for stage, v in timings[g].items()
        }
        out[g] = m
    return out


def calibration(pairs: list[tuple[float, bool]], bins: int = 10) -> tuple[float | None, list[dict]]:
    """Expected calibration error of the answers' confidence (p that the documents answer the question) against
    whether the folder does answer it, and the reliability bins (mean p, share answerable, n) it is read from."""
    if not pairs:
        return None, []
    p = np.asarray([c for c, _ in pairs], dtype=float)
    y = np.asarray([float(a) for _, a in pairs])
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows, total = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (p >= lo) & ((p < hi) | (hi == 1.0))
        if inside.any():
            rows.append({"p": round(float(p[inside].mean()), 3), "answerable": round(float(y[inside].mean()), 3), "n": int(inside.sum())})
            total += inside.mean() * abs(p[inside].mean() - y[inside].mean())
    return round(float(total), 3), rows


def reliability(pairs_by_variant: dict[str, list[tuple[float, bool]]], path: Path, title: str = "") -> None:
    """The reliability plot (`rag eval --plots`): per variant, the share of questions the folder answers against
    the confidence given, in ten bins; a calibrated confidence lies on the diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="calibrated")
    for name, pairs in pairs_by_variant.items():
        ece, rows = calibration(pairs)
        if rows:
            ax.plot([r["p"] for r in rows], [r["answerable"] for r in rows], marker="o", label=f"{name} (ECE {ece:.3f}, n {len(pairs)})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence: p that the documents answer it")
    ax.set_ylabel("share of questions the documents answer")
    ax.set_title(title or "rag eval: reliability of the answer's confidence")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- the naive baseline, for comparison ---------------------------------------------------------

class NaiveBaseline:
    """800-character chunks, dense top-4, whole chunks in the prompt, the model's reply as the answer."""

    def __init__(self, settings: Settings, embedder, generator):
        from rag.index.build import open_or_build
        from rag.engine.retrieve import Retriever

        self.settings = settings.replace(chunk_size=800, hybrid=False, k=4, embed_title=False,
                                         index_dir=settings.index_dir / "variants" / "naive-800")
        self.data, _ = open_or_build(self.settings, embedder)
        self.retriever = Retriever(self.data, embedder, self.settings)
        self.generator = generator

    def answer(self, question: str, history=()) -> Answer:
        from rag.engine.generate import build_messages

        t0 = time.perf_counter()
        hits = self.retriever.search(question, k=4)
        t1 = time.perf_counter()
        reply, first = self.generator.complete(build_messages(question, [h.chunk.text for h in hits]))
        t2 = time.perf_counter()
        refused = MODEL_NOT_FOUND.lower() in reply.lower() or not reply
        citations = [] if refused else [Citation(h.chunk.source, h.chunk.start_line, h.chunk.end_line, h.chunk.text) for h in hits]
        timings = {"retrieve": (t1 - t0) * 1000, "generate": (t2 - t1) * 1000, "first_token": (t1 - t0) * 1000 + first, "total": (t2 - t0) * 1000}
        passages = [Passage(h.chunk.source, h.chunk.text, h.chunk.start_line, h.chunk.end_line, h.score) for h in hits]
        return Answer(question, reply, refused, citations, timings, passages, mode="naive")


VARIANTS = {
    "default": {},
    "dense-only": {"hybrid": False},
    "extractive": {"use_llm": False},
    "no-reader": {"reader": False, "use_llm": False},  # extractive, without the reader: the mix orders, the ten-feature model declines
    "first-stage": {"rerank": False, "use_llm": False},  # ranked by meaning + key terms only, nothing declined, no model
    "generate": {"answer_style": "generate"},
    "naive": None,  # NaiveBaseline
}


def build_answerers(settings: Settings, names: list[str]):
    from rag.engine.pipeline import Pipeline

    base = Pipeline(settings)
    out = {}
    for name in names:
        if name not in VARIANTS:
            raise InputError(f"unknown variant {name!r} (known: {', '.join(VARIANTS)})")
        if name == "default":
            out[name] = base
        elif name == "naive":
            out[name] = NaiveBaseline(settings, base.embedder, base.generator)
        else:
            out[name] = Pipeline(settings.replace(**VARIANTS[name]), embedder=base.embedder, generator=base.generator)
    return base, out


# ---- reports ------------------------------------------------------------------------------------

TABLE_COLUMNS = [
    ("n", "n"), ("right", "right"), ("facts", "facts"), ("correct", "correct"), ("f1", "F1"), ("words", "words"), ("recall@1", "R@1"), ("recall@3", "R@3"), ("recall@k", "R@k"),
    ("mrr", "MRR"), ("citation_precision", "cit.prec"), ("citation_recall", "cit.rec"), ("support", "support"),
    ("declined", "declined"), ("wrongly_declined", "wrongly decl."), ("ece", "ECE"),
]
GROUP_ORDER = ["fact", "paraphrase", "quote", "core", "multi", "factoid", "definition", "yesno", "why", "how", "summary",
               "listing", "followup", "doc-author", "doc-date", "doc-site", "doc-summary", "doc-section", "doc-listing", "unanswerable",
               "split:dev", "split:test", "all"]


def _fmt(v) -> str:
    if v is None:
        return "–"
    return str(v) if isinstance(v, int) else f"{v:.2f}"


def markdown(report: dict) -> str:
    lines = [f"# Evaluation — {report['created_at']}", "",
             f"Questions: `{report['questions']}` · k = {report['settings']['k']} · "
             f"embed `{report['models']['embed']}` · llm `{report['models']['llm']}`", ""]
    for variant, res in report["variants"].items():
        lines += [f"## {variant}", "", "| group | " + " | ".join(h for _, h in TABLE_COLUMNS) + " | p50 total ms | p95 total ms |",
                  "|---" * (len(TABLE_COLUMNS) + 3) + "|"]
        for g in GROUP_ORDER:
            if g in res["metrics"]:
                m = res["metrics"][g]
                lat = m["latency_ms"].get("total", {})
                lines.append(f"| {g} | " + " | ".join(_fmt(m.get(key)) for key, _ in TABLE_COLUMNS) + f" | {lat.get('p50', 0):.0f} | {lat.get('p95', 0):.0f} |")
        stages = res["metrics"].get("all", {}).get("latency_ms", {})
        lines += ["", "Latency per stage (all questions): " + ", ".join(
            f"{s} p50 {v['p50']:.0f} ms / p95 {v['p95']:.0f} ms" for s, v in stages.items()), ""]
    return "\n".join(lines)


def print_table(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for variant, res in report["variants"].items():
        table = Table(title=f"rag eval — {variant}", show_lines=False)
        table.add_column("group")
        for _, h in TABLE_COLUMNS:
            table.add_column(h, justify="right")
        table.add_column("p50 ms", justify="right")
        for g in GROUP_ORDER:
            if g in res["metrics"]:
                m = res["metrics"][g]
                table.add_row(g, *[_fmt(m.get(key)) for key, _ in TABLE_COLUMNS], f"{m['latency_ms'].get('total', {}).get('p50', 0):.0f}")
        console.print(table)


def chart(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [g for g in GROUP_ORDER if g not in ("core", "split:dev")
              if any(g in r["metrics"] for r in report["variants"].values())]
    variants = list(report["variants"])
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / max(1, len(variants))
    for i, v in enumerate(variants):
        vals = [report["variants"][v]["metrics"].get(g, {}).get("right") or 0 for g in groups]
        ax.bar([x + i * width for x in range(len(groups))], vals, width, label=v)
    ax.set_xticks([x + width * (len(variants) - 1) / 2 for x in range(len(groups))], groups)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("right and cited (unanswerable: declined)")
    ax.set_title("rag eval: answer accuracy per question kind")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def qa_questions(folder: str, qa_dir: Path | None = None, documents: bool = False) -> list[Question]:
    """A tests/qa/ folder's checked records as eval questions (split: the folder's); with `documents`, its
    questions about documents and sections as a whole (tests/qa/documents/)."""
    from rag.tools import questions as qa

    known = set(Question.__dataclass_fields__)
    return [Question(**{k: v for k, v in r.items() if k in known}) for r in qa.load(folder, qa_dir or qa.QA_DIR, documents)]


def evaluate_folders(folders: list[str], variants: list[str], out_dir: Path, progress: bool = True, plots: bool = False,
                     documents: bool = False) -> dict:
    """`rag eval --folder`: each tests/qa/ folder with its own index, reported per folder and per question form;
    with `plots`, the reliability of the answers' confidence over all the folders (reliability.png); with
    `documents`, the folders' document-level questions instead."""
    from rag.tools.questions import set_file
    from rag.tools.train import folder_settings

    summary: dict = {}
    for folder in folders:
        path = set_file(folder, documents=documents).relative_to(ROOT)  # the report names it as before
        rep = evaluate(folder_settings(folder, use_llm=True), path, variants, out_dir / folder,
                       progress=progress, questions=qa_questions(folder, documents=documents), plots=plots)
        summary[folder] = {v: r["metrics"] for v, r in rep["variants"].items()}
    if plots:
        pairs: dict[str, list[tuple[float, bool]]] = defaultdict(list)
        for folder in folders:
            for line in (out_dir / folder / "eval_questions.jsonl").read_text(encoding="utf-8").splitlines():
                r = json.loads(line)
                if r.get("confidence") is not None:
                    pairs[r["variant"]].append((r["confidence"], r["kind"] != "unanswerable"))
        reliability(dict(pairs), out_dir / "reliability.png", f"reliability over {len(folders)} folders")
    (out_dir / "folders.json").write_text(json.dumps(summary, indent=1))
    (out_dir / "folders.md").write_text(folders_markdown(summary))
    return summary


FOLDER_COLUMNS = [("n", "n"), ("right", "right and cited"), ("declined", "declined"), ("wrongly_declined", "wrongly declined"),
                  ("f1", "short F1"), ("words", "words")]


def folders_markdown(summary: dict) -> str:
    from rag.tools.questions import SPLITS

    lines = ["| folder | split | variant | answerable n | " + " | ".join(h for _, h in FOLDER_COLUMNS[1:]) + " | ECE | p50 ms |",
             "|---" * (len(FOLDER_COLUMNS) + 5) + "|"]
    for folder, variants in summary.items():
        for v, m in variants.items():
            answerable = {k: val for k, val in m.items() if k not in ("unanswerable",)}
            a = _answerable_metrics(answerable)
            un = m.get("unanswerable", {})
            p50 = m.get("all", {}).get("latency_ms", {}).get("total", {}).get("p50", 0)
            lines.append(f"| {folder} | {SPLITS.get(folder, '?')} | {v} | {a['n']} | {_fmt(a['right'])} | {_fmt(un.get('declined'))} | "
                         f"{_fmt(a['wrongly_declined'])} | {_fmt(a['f1'])} | {_fmt(a['words'])} | {_fmt(m.get('all', {}).get('ece'))} | {p50:.0f} |")
    return "\n".join(lines) + "\n"


def _answerable_metrics(groups: dict) -> dict:
    """Answerable questions pooled over their forms (weighted by n)."""
    forms = [m for g, m in groups.items() if g not in ("all", "core") and not g.startswith("split:")]
    out = {"n": sum(m["n"] for m in forms)}
    for key in ("right", "wrongly_declined", "f1", "words"):
        pairs = [(m[key], m["n"]) for m in forms if m.get(key) is not None]
        out[key] = sum(v * n for v, n in pairs) / sum(n for _, n in pairs) if pairs else None
    return out


def evaluate(settings: Settings, questions_path: Path, variants: list[str], out_dir: Path, out_jsonl: Path | None = None,
             progress: bool = True, split: str | None = None, questions: list[Question] | None = None,
             plots: bool = False) -> dict:
    from rich.progress import Progress

    questions = [q for q in (questions or load_questions(questions_path)) if split is None or q.split == split]
    if not questions:
        raise InputError(f"{questions_path} has no {split} questions")
    base, answerers = build_answerers(settings, variants)
    report = {
        "created_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "questions": str(questions_path),
        "corpus": str(settings.corpus_dir),
        "split": split or "all",
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()},
        "models": {"embed": base.embedder.name, "llm": base.generator.name},
        "variants": {},
    }
    per_question = {}
    with Progress(transient=True, disable=not progress) as bar:
        for name, answerer in answerers.items():
            task = bar.add_task(f"{name:>10}", total=len(questions))
            records = run(answerer, questions, lambda: bar.advance(task))
            report["variants"][name] = {"metrics": aggregate(questions, records, settings.k)}
            per_question[name] = records
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "eval.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    (out_dir / "eval.md").write_text(markdown(report))
    chart(report, out_dir / "eval.png")
    if plots:
        answerable = {q.id: q.answerable for q in questions}
        reliability({name: [(r.confidence, answerable[r.id]) for r in records if r.confidence is not None]
                     for name, records in per_question.items()}, out_dir / "reliability.png")
    with open(out_dir / "eval_questions.jsonl", "w", encoding="utf-8") as f:
        for name, records in per_question.items():
            for r in records:
                f.write(json.dumps({"variant": name, **asdict(r)}, ensure_ascii=False) + "\n")
    if out_jsonl is not None:
        with open(out_jsonl, "w", encoding="utf-8") as f:
            for r in per_question[variants[0]]:
                f.write(json.dumps(r.public(), ensure_ascii=False) + "\n")
    return report
