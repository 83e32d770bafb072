"""Readers never wait for a writer (issue 16, item 5; issue 17, item 3): opening the live generation takes no
lock and parses nothing when the index is current, and a rebuild builds the next generation while the live one
answers at once."""

from __future__ import annotations

import threading
import time

import pytest

from rag.index import build as indexer
from rag.index import files as store
from rag.index import store as store_interface
from rag.engine.pipeline import Pipeline
from rag.serve.service import AnswerService

QUESTION = "Who is the founder of Huawei?"


def _within(seconds: float, fn):
    """fn() on a thread; fails (rather than hangs) when it has not returned in time, e.g. waiting for a lock."""
    out = {}
    worker = threading.Thread(target=lambda: out.setdefault("value", fn()), daemon=True)
    t = time.monotonic()
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still waiting after {seconds} s"
    assert "value" in out, "failed"
    return out["value"], time.monotonic() - t


@pytest.fixture
def live(corpus_copy, tmp_path, settings, pipeline):
    """A files index of a copy of the corpus, built once, and its settings (extractive answers: fast)."""
    s = settings.replace(corpus_dir=corpus_copy, index_dir=tmp_path / "index", use_llm=False)
    indexer.open_or_build(s, pipeline.embedder)
    return s


def test_a_current_index_opens_without_parsing_or_the_build_lock(live, pipeline, monkeypatch):
    def no_parsing(*a, **k):
        raise AssertionError("the corpus was parsed although the index is current")

    monkeypatch.setattr(indexer, "load_corpus", no_parsing)
    with store.build_lock(live.index_dir, wait=False):  # a writer holds the lock the whole time
        p, _ = _within(10, lambda: Pipeline(live, embedder=pipeline.embedder))
        assert "Ren Zhengfei" in p.answer(QUESTION).answer
    assert not p.build_report.wrote and not p.build_report.stale and len(p.build_report.unchanged) == 5


def test_a_changed_file_is_noticed_by_size_mtime_and_hash(live, pipeline):
    first = Pipeline(live, embedder=pipeline.embedder).data.id
    src = next(live.corpus_dir.glob("*.txt"))
    src.touch()  # a new mtime, the same bytes: hashed, found unchanged, nothing rebuilt
    assert indexer.stale_reason(store.load(live.index_dir).manifest, live) == ""
    src.write_text(src.read_text() + "\n\nThe harbour lamp of Porto Vello was switched to LED light in 2019.\n")
    assert indexer.stale_reason(store.load(live.index_dir).manifest, live) == f"{src.name} changed"
    p = Pipeline(live, embedder=pipeline.embedder)
    assert p.data.id != first and p.build_report.updated == [src.name]


def test_a_stale_index_answers_at_once_while_another_process_builds(live, pipeline):
    (live.corpus_dir / "extra.txt").write_text("The harbour lamp of Porto Vello was switched to LED light in 2019.")
    before = store.current_generation(live.index_dir).name
    with store.build_lock(live.index_dir, wait=False):
        p, _ = _within(10, lambda: Pipeline(live, embedder=pipeline.embedder))
    assert p.data.id == before and "being rebuilt by another process (extra.txt added)" in p.build_report.stale
    assert "Ren Zhengfei" in p.answer(QUESTION).answer


def test_rebuild_in_the_background_while_the_live_generation_answers(live, pipeline, monkeypatch):
    """A rebuild held at its last step (fault injection) before the switch: a question meanwhile is answered
    at once, from the live generation; then the service switches to the new one."""
    service = AnswerService(Pipeline(live, embedder=pipeline.embedder), follow_s=0)
    before = service.pipeline.data.id
    (live.corpus_dir / "extra.txt").write_text(
        "The old lighthouse keeper of Porto Vello, Amadeo Ruas, said the harbour lamp was switched to LED light in 2019.")
    monkeypatch.setattr(store_interface, "CHECKPOINTS", [lambda stage: stage == "commit" and time.sleep(6)])
    done = {}
    builder = threading.Thread(target=lambda: done.setdefault("report", service.rebuild()))
    builder.start()
    deadline = time.monotonic() + 120
    while not list(live.index_dir.glob(".tmp-*/manifest.json")):  # the next generation is on disk, not live
        assert time.monotonic() < deadline and builder.is_alive()
        time.sleep(0.05)
    assert service.rebuilding
    answer, took = _within(3, lambda: service.ask(QUESTION))
    assert "Ren Zhengfei" in answer.answer
    assert service.pipeline.data.id == before  # from the live generation
    builder.join(timeout=120)
    assert done["report"].added == ["extra.txt"] and service.pipeline.data.id != before
    assert "Amadeo Ruas" in service.ask("Who is the lighthouse keeper of Porto Vello?").answer


def test_a_process_follows_the_generation_another_one_made_live(live, pipeline):
    """An answering process (an API worker) switches to what `rag index` elsewhere committed, by itself."""
    service = AnswerService(Pipeline(live, embedder=pipeline.embedder), follow_s=0.01)
    before = service.pipeline.data.id
    (live.corpus_dir / "extra.txt").write_text(
        "The old lighthouse keeper of Porto Vello, Amadeo Ruas, said the harbour lamp was switched to LED light in 2019.")
    indexer.open_or_build(live, pipeline.embedder)  # the writer: another process, as far as the service knows
    time.sleep(0.02)
    answer = service.ask("Who is the lighthouse keeper of Porto Vello?")
    assert service.pipeline.data.id != before and "Amadeo Ruas" in answer.answer
