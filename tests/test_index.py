"""The index on disk with the real embedding model: incremental refresh, atomic writes, bad files."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from rag.index import files as store
from rag.config import SCHEMA_VERSION, Settings
from rag.errors import CorpusError, IndexStoreError
from rag.index.clean import clean
from rag.index.corpus import load_corpus
from rag.index.build import open_or_build

from tests.conftest import BIN, CORPUS


def _settings(corpus, index_dir):
    return Settings.from_env(corpus_dir=corpus, index_dir=index_dir)


def test_editing_one_file_reembeds_only_its_chunks(corpus_copy, tmp_path, embedder):
    s = _settings(corpus_copy, tmp_path / "index")
    first, report = open_or_build(s, embedder)
    assert report.embedded_chunks == len(first.chunks) > 50
    assert sorted(report.added) == sorted(p.name for p in corpus_copy.iterdir())

    again, report = open_or_build(s, embedder)
    assert report.embedded_chunks == 0 and not report.wrote and again.path == first.path

    edited = corpus_copy / "002_b1afe3b024eb253c.txt"
    edited.write_text(edited.read_text() + "\nThe EU summit on 5G security was held in Lisbon in a later week, officials said.\n")
    data, report = open_or_build(s, embedder)
    assert report.updated == ["002_b1afe3b024eb253c.txt"]
    assert report.embedded_chunks == sum(c.source == "002_b1afe3b024eb253c.txt" for c in data.chunks)
    assert any("Lisbon" in c.text for c in data.chunks)
    # vectors of untouched files are carried over unchanged
    kept = [c.id for c in first.chunks if c.source == "000_f7ddb58f33c977c6.txt"]
    old_rows = [i for i, c in enumerate(first.chunks) if c.id in kept]
    new_rows = [i for i, c in enumerate(data.chunks) if c.id in kept]
    assert (first.vectors[old_rows] == data.vectors[new_rows]).all()

    (corpus_copy / "004_5162ebb7ef3b6638.txt").unlink()
    data, report = open_or_build(s, embedder)
    assert report.removed == ["004_5162ebb7ef3b6638.txt"] and report.embedded_chunks == 0
    assert not any(c.source == "004_5162ebb7ef3b6638.txt" for c in data.chunks)
    assert data.faiss_index.ntotal == len(data.chunks)
    # only the live generation is left on disk
    assert [p.name for p in s.index_dir.iterdir() if p.name.startswith("gen-")] == [data.path.name]


def test_bad_files_are_skipped_with_a_reason(corpus_copy, tmp_path, embedder):
    (corpus_copy / "empty.txt").write_text("   \n")
    (corpus_copy / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    (corpus_copy / "latin1 ünïcode name.txt").write_bytes(
        "Der Präsident sagte, dass die Regierung über Huawei entscheiden würde, und zwar bald, im nächsten Monat.".encode("latin-1")
    )
    (corpus_copy / "dup.txt").write_bytes((corpus_copy / "002_b1afe3b024eb253c.txt").read_bytes())
    outside = tmp_path / "secret.txt"
    outside.write_text("A zorblax secret that lives outside the corpus folder and must never be indexed by anyone.")
    os.symlink(outside, corpus_copy / "link.txt")
    (corpus_copy / "image.png").write_bytes(b"\x89PNG")
    data, report = open_or_build(_settings(corpus_copy, tmp_path / "index"), embedder)
    reasons = dict(report.skipped)
    assert reasons["empty.txt"] == "empty file"
    assert reasons["binary.txt"].startswith("binary")
    assert reasons["dup.txt"] == "same content as 002_b1afe3b024eb253c.txt"
    assert "outside the corpus" in reasons["link.txt"]
    assert "unsupported file type" in reasons["image.png"]
    assert any(c.source == "latin1 ünïcode name.txt" and "Präsident" in c.text for c in data.chunks)
    assert not any("zorblax" in c.text for c in data.chunks)


def test_empty_corpus_is_a_clear_error(tmp_path, embedder):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no indexable"):
        open_or_build(_settings(tmp_path / "empty", tmp_path / "index"), embedder)
    with pytest.raises(CorpusError, match="does not exist"):
        open_or_build(_settings(tmp_path / "nowhere", tmp_path / "index"), embedder)


def test_tampered_index_is_refused_and_rebuilt(corpus_copy, tmp_path, embedder):
    s = _settings(corpus_copy, tmp_path / "index")
    data, _ = open_or_build(s, embedder)
    with open(data.path / "chunks.jsonl", "a") as f:
        f.write(json.dumps({"injected": True}) + "\n")
    with pytest.raises(IndexStoreError, match="does not match its manifest"):
        store.load(s.index_dir)
    rebuilt, report = open_or_build(s, embedder)
    assert report.wrote and "does not match" in report.rebuilt_reason
    assert store.load(s.index_dir).path == rebuilt.path


def test_changed_settings_trigger_a_rebuild(corpus_copy, tmp_path, embedder):
    s = _settings(corpus_copy, tmp_path / "index")
    open_or_build(s, embedder)
    data, report = open_or_build(s.replace(chunk_size=600), embedder)
    assert report.wrote and report.rebuilt_reason == "chunking settings changed"
    assert report.embedded_chunks == len(data.chunks)


def test_index_from_another_schema_or_model_is_rebuilt_with_a_notice(corpus_copy, tmp_path, embedder, caplog):
    from rag.index.embed import Embedder

    s = _settings(corpus_copy, tmp_path / "index")
    data, _ = open_or_build(s, embedder)
    manifest = json.loads((data.path / "manifest.json").read_text())
    (data.path / "manifest.json").write_text(json.dumps(dict(manifest, schema_version=0)))
    _, report = open_or_build(s, embedder)
    assert report.wrote and report.rebuilt_reason == f"index schema 0 differs from {SCHEMA_VERSION}"
    other_backend = "onnx" if embedder.backend == "onnx-int8" else "onnx-int8"  # other vectors, other model id
    other = Embedder.from_settings(s.replace(embed_backend=other_backend))
    caplog.clear()
    _, report = open_or_build(s, other)
    assert report.wrote and report.rebuilt_reason == f"index was built with {embedder.name}, not {other.name}"
    assert f"rebuilding the index: index was built with {embedder.name}" in caplog.text


def test_killed_build_leaves_the_previous_index_working(corpus_copy, tmp_path, settings):
    """SIGKILL `rag index --rebuild` at several points; the last good index must load and answer each time."""
    index_dir = tmp_path / "index"
    env = {**os.environ, "RAG_INDEX_DIR": str(index_dir), "RAG_CORPUS_DIR": str(corpus_copy)}
    rag = [os.path.join(os.path.dirname(sys.executable), "rag"), "index"]
    subprocess.run(rag, env=env, check=True, capture_output=True, timeout=300)
    good = store.load(index_dir)
    # A bigger corpus makes the rebuild long enough to be killed while it embeds and while it writes.
    for n in range(12):
        (corpus_copy / f"extra{n}.txt").write_text(
            "\n\n".join(f"Paragraph {n}-{i}: officials in city {i} said the network plan number {n * i} was delayed again." for i in range(40))
        )
    full_env = {**env, "RAG_INDEX_DIR": str(tmp_path / "full")}  # what a complete build of the bigger corpus holds
    subprocess.run(rag, env=full_env, check=True, capture_output=True, timeout=300)
    full = len(store.load(tmp_path / "full").chunks)
    for delay in (0.5, 4.0, 7.0):
        proc = subprocess.Popen(rag + ["--rebuild"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        live = store.load(index_dir)
        assert live is not None and live.faiss_index.ntotal == len(live.chunks)
        assert live.path == good.path or len(live.chunks) == full  # the last good one or a whole new one, never a mix
        good = live
    from rag.engine.pipeline import Pipeline

    # what a build killed while writing leaves: all of it goes at the next start, even one that writes nothing
    subprocess.run(rag, env=env, check=True, capture_output=True, timeout=300)  # up to date: the start below writes nothing
    (index_dir / ".tmp-deadbeef").mkdir(exist_ok=True)
    (index_dir / ".tmp-deadbeef" / "vectors.npy").write_bytes(b"half written")
    (index_dir / "gen-19700101T000000-dead00").mkdir()
    (index_dir / "CURRENT.tmp").write_text("gen-19700101T000000-dead00\n")
    answer = Pipeline(settings.replace(index_dir=index_dir, corpus_dir=corpus_copy)).answer("Who is the founder of Huawei?", use_llm=False)
    assert "Ren Zhengfei" in answer.answer
    live = store.current_generation(index_dir)
    left = [p.name for p in index_dir.iterdir() if p.name.startswith((".tmp-", "gen-", "CURRENT"))]
    assert sorted(left) == sorted(["CURRENT", live.name])


def test_lock_is_exclusive(tmp_path):
    index_dir = tmp_path / "index"
    with store.build_lock(index_dir):
        with pytest.raises(IndexStoreError, match="another build holds the lock"):
            with store.build_lock(index_dir, wait=False):
                pass
    with store.build_lock(index_dir, wait=False):
        pass


def test_two_index_runs_at_once_are_serialized(corpus_copy, tmp_path):
    """Without the lock the second writer's clean-up can delete the generation the first just made live."""
    index = tmp_path / "index"
    cmd = [str(BIN / "rag"), "index", "--rebuild", "--verbose", "--corpus", str(corpus_copy), "--index", str(index)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    assert all(o.startswith("index updated at ") for o, _ in outs)
    # each held the lock while the other did not: the two critical sections do not overlap
    held = sorted(
        (float(re.search(r"lock taken at ([\d.]+)", err)[1]), float(re.search(r"lock released at ([\d.]+)", err)[1]))
        for _, err in outs
    )
    assert held[0][1] <= held[1][0], held
    gens = sorted(p.name for p in index.iterdir() if p.name.startswith(("gen-", ".tmp-")))
    assert len(gens) == 1
    live = store.load(index)
    assert live.path.name == gens[0] and len(live.manifest["files"]) == len(list(CORPUS.iterdir()))


PLAIN_BUILD_MB = 400  # peak RSS of `rag index` over the five articles (ONNX model, FAISS, Python): 360 MB measured
NEEDLE = ("The old lighthouse keeper of Porto Vello, Amadeo Ruas, said in an interview that the harbour lamp was "
          "finally switched to LED light in the spring of 2019, after ninety-one years of paraffin.")


def archive_dump(path, size_mb: int = 50) -> int:
    """A 50 MB crawl dump: the corpus's paragraphs over and over (the cleaner keeps each once), one unique
    paragraph near the end. Returns the needle's line number."""
    docs, _ = load_corpus(CORPUS, 64)
    paragraphs = [p.text for d in docs for p in clean(d).paragraphs]  # article text only: no end-of-article markers
    block = "\n\n".join(paragraphs) + "\n\n"
    copies = size_mb * 2**20 // len(block.encode()) + 1
    head = block * (copies - 2)
    with open(path, "w", encoding="utf-8") as f:
        f.write(head)
        f.write(NEEDLE + "\n\n")
        f.write(block * 2)
    return head.count("\n") + 1


def test_fifty_megabyte_file_is_indexed_with_progress_and_bounded_memory(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    needle_line = archive_dump(corpus / "crawl dump.txt")
    assert (corpus / "crawl dump.txt").stat().st_size >= 50 * 2**20
    index = tmp_path / "index"
    # started from a small parent: a child forked from this test process would count its pages in its peak
    shim = "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"
    cmd = [sys.executable, "-c", shim, str(BIN / "rag"), "index", "--corpus", str(corpus), "--index", str(index)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    err, peak_mb = proc.stderr, int(proc.stdout.split()[-1]) / 1024
    # the text is held a few times over (file, cleaned paragraphs, line offsets), never hundreds of times
    assert peak_mb < PLAIN_BUILD_MB + 10 * 50, f"peak RSS {peak_mb:.0f} MB"
    assert "Cleaning and chunking" in err and "100%" in err  # the progress bar ran to the end
    live = store.load(index)
    meta = live.manifest["files"]["crawl dump.txt"]
    assert meta["bytes"] >= 50 * 2**20
    # the repeats are dropped as duplicates, as one run each, not a million manifest entries
    assert len(meta["dropped"]) < 50 and any(d[2] == "duplicate paragraph" for d in meta["dropped"])
    needle = [c for c in live.chunks if "lighthouse keeper" in c.text]
    assert len(needle) == 1 and needle[0].start_line == needle_line


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_each_index_type_finds_stored_passages_after_a_round_trip(tmp_path, kind):
    import faiss
    import numpy as np

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((store.IVF_MIN + 2000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    faiss.write_index(store.make_faiss(vectors, kind), str(tmp_path / "faiss.index"))
    index = store.read_faiss(tmp_path / "faiss.index")
    _, ids = index.search(vectors[:50], 10)
    assert (ids[:, 0] == np.arange(50)).all()
    if kind == "hnsw":
        assert index.hnsw.efSearch == store.HNSW_EF_SEARCH  # search-time settings survive the file
    if kind == "ivfpq":
        assert index.k_factor == store.IVF_REFINE_FACTOR and faiss.extract_index_ivf(index.base_index).nprobe == store.IVF_NPROBE


def test_ivfpq_on_a_small_corpus_falls_back_to_flat():
    assert store.choose_index_type(500, "ivfpq") == "flat"
    assert [store.choose_index_type(n) for n in (10, 60_000, 3_000_000)] == ["flat", "hnsw", "ivfpq"]


def _chunks_of(tmp_path, name: str, text: str):
    from rag.index.chunk import chunk
    from rag.index.parse import parse

    path = tmp_path / name
    path.write_text(text)
    doc = parse(path, name)
    return chunk(doc, clean(doc), 400)


def test_identical_and_near_identical_chunks_are_stored_once(tmp_path):
    """A one-line file of one sentence repeated (cut at other places each time), and a file of a hundred thousand
    one-letter lines, become a few chunks, not thousands; a chunk that differs from the rest by one word stays."""
    sentence = "The harbour authority said the new quay would open next spring after years of delays. "
    one_line = _chunks_of(tmp_path, "one-line.txt", sentence * 20_000 + "\n")  # 1.7 MB on one line
    assert 1 <= len(one_line) <= 3, len(one_line)
    letters = _chunks_of(tmp_path, "letters.txt", "a\n" * 100_000)
    assert 1 <= len(letters) <= 3, len(letters)
    distinct = [f"Ferry {n} left the harbour at {n} o'clock with {n * 3} passengers and {n * 7} cars on board." for n in range(200)]
    kept = _chunks_of(tmp_path, "distinct.txt", "\n\n".join(distinct) + "\n")
    assert len(kept) == 200  # every paragraph is its own chunk: none of them is a repeat
    changed = _chunks_of(tmp_path, "changed.txt", f"{sentence * 3}\n\n{sentence.replace('spring', 'autumn') * 3}\n")
    assert any("autumn" in c.text for c in changed) and any("spring" in c.text for c in changed)
