"""The reader (rag/engine/reader.py): question and sentence read together; it orders the best candidates and decides."""

import json
import random
import shutil

import numpy as np
import pytest

from rag.config import Settings
from rag.engine import decide, reader, rerank
from rag.engine.pipeline import Pipeline
from rag.tools import questions, train_reader
from rag.tools.train import folder_settings, record_query

from tests.conftest import run_cli

ROW = len(reader.feature_row({n: 0.0 for n in rerank.MIX_FEATURES}, 0.0, {n: 0.0 for n in decide.FEATURES}))


def _example(question: str, good: str, bad: list[str]) -> train_reader.Example:
    rows = [[0.0] * ROW] * (1 + len(bad))  # nothing known besides the text: the reader must read
    return train_reader.Example(question, [good, *bad], rows, [1.0] + [0.0] * len(bad), good.split()[0])


def test_the_training_loop_overfits_200_pairs(embedder):
    """25 questions, each with its answer and 7 same-folder sentences that do not answer: 200 pairs, learnt by heart."""
    recs = [r for r in questions.load("git-man") if r["kind"] == "factoid" and r["evidence"]][:25]
    pool = [r["evidence"][0] for r in recs]
    rng = random.Random(3)
    exs = [_example(r["question"], r["evidence"][0], rng.sample([s for s in pool if s != r["evidence"][0]], 7)) for r in recs]
    assert sum(len(e.sentences) for e in exs) == 200
    states = train_reader.token_states(exs, embedder, echo=lambda m: None)
    cfg = train_reader.ReaderConfig(epochs=60, groups_per_step=8, learning_rate=2e-3, dropout=0.0, warmup_ratio=0.02)
    model, losses = train_reader.train(exs, states, cfg, echo=lambda m: None, device="cpu")
    assert np.mean(losses[-10:]) < 0.25 * np.mean(losses[:10])
    logits = train_reader.scores(model, exs, states)
    assert train_reader.quality(exs, logits)["p@1"] == 1.0


def test_rag_train_reader_on_a_tiny_folder_makes_a_reader_that_loads_and_ranks_its_gold_first(tmp_path, embedder):
    qa = tmp_path / "qa"
    (qa / "folders" / "tiny").mkdir(parents=True)
    for name in ("git-stash.html", "git-tag.html"):
        shutil.copy(questions.FOLDERS_DIR / "git-man" / name, qa / "folders" / "tiny" / name)
    records = [r for r in questions.load("git-man") if r["sources"][:1] in ([], ["git-stash.html"], ["git-tag.html"])]
    records = [r for r in records if r["kind"] == "unanswerable"][:10] + [r for r in records if r["kind"] == "factoid"][:30]
    (qa / "tiny.jsonl").write_text("".join(json.dumps({k: v for k, v in r.items() if k not in ("lines", "folder", "split")}) + "\n"
                                           for r in records))
    out = tmp_path / "weights"
    result = run_cli("rag", "train", "--reader", "--qa-dir", str(qa), "--out", str(out), "--epochs", "12",
                     "--train-folder", "tiny", "--dev-folder", "tiny", timeout=1200)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["train_questions"] == len(records) and 0.0 <= report["threshold"] <= 1.0
    model = reader.Reader(out)
    gold = next(r for r in records if r["kind"] == "factoid")
    other = [r["evidence"][0] for r in records if r["kind"] == "factoid" and r["evidence"][0] != gold["evidence"][0]][:5]
    _, states = embedder.encode_with_states([gold["question"], gold["evidence"][0], *other])
    readings = model.read(states[0], states[1:], [[0.0] * ROW] * (1 + len(other)))
    assert int(np.argmax([r.logit for r in readings])) == 0


# ---- the shipped reader, in the engine ------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    if not (reader_dir := Settings().ranker_dir / reader.READER_FILE).is_file():
        pytest.fail(f"no shipped reader at {reader_dir}")
    return reader.load_reader(Settings().ranker_dir)


def test_the_shipped_reader_is_small_listed_and_calibrated(shipped):
    path = Settings().ranker_dir / reader.READER_FILE
    assert path.stat().st_size < 30 * 1024 * 1024
    assert reader.READER_FILE in (Settings().models_file).read_text()
    assert 0.0 < shipped.settings["threshold"] < 1.0 and shipped.temperature > 0


GENRES = ("news-a-html", "memo-docx", "changes-txt")  # saved news pages, Word memos, changelogs: three train folders


@pytest.fixture(scope="module")
def folder_pipelines(tmp_path_factory, embedder):
    """The shipped engine over three train folders (held in: the reader learned from them), each its own index."""
    return {f: Pipeline(folder_settings(f, index_dir=tmp_path_factory.mktemp(f"index-{f}")), embedder=embedder) for f in GENRES}


@pytest.mark.parametrize("folder", GENRES)
def test_the_reader_puts_an_answering_sentence_above_a_same_topic_near_miss(folder, folder_pipelines):
    """On held-in questions, among the candidates the reader reads: a sentence the teacher graded as answering
    against one it graded as on the topic only (the same-topic sentence a bi-encoder mistakes for an answer)."""
    pipeline = folder_pipelines[folder]
    graded = train_reader.grades(folder)
    pairs = right = 0
    for rec in [r for r in questions.load(folder) if r["kind"] != "unanswerable" and not r.get("history")][:40]:
        found = pipeline.evidence.gather(record_query(pipeline, rec))
        teacher = graded.get(rec["id"], {})
        read = [x for x in found.ranked if x.answer_p >= 0]
        good = [x.answer_p for x in read if teacher.get(questions.fold(x.text)) == "answers"]
        near = [x.answer_p for x in read if teacher.get(questions.fold(x.text)) == "topic"]
        if good and near:
            pairs += 1
            right += max(good) > max(near)
    # measured: 21 of 27, 28 of 37, 28 of 37 (the ranker's order alone: 16, 29 and 24)
    assert pairs >= 20, pairs
    assert right / pairs >= 0.7, (right, pairs)


def test_a_near_miss_is_declined_while_its_answerable_twin_is_answered(folder_pipelines):
    """A near miss written against a passage (same entity, an attribute the passage does not give; a sibling; a
    false premise) and the question that passage does answer: the first declined, the second answered from it."""
    both = total = 0
    for folder, pipeline in folder_pipelines.items():
        recs = questions.load(folder)
        stated = {e: r for r in recs if r["kind"] != "unanswerable" and not r.get("history") for e in r["evidence"]}
        twins = [(r, stated[r["near"]]) for r in recs if r["kind"] == "unanswerable" and r.get("near") in stated][:15]
        for near, twin in twins:
            a, b = pipeline.answer(near["question"], use_llm=False), pipeline.answer(twin["question"], use_llm=False)
            total += 1
            both += a.refused and not b.refused and any(c.source in twin["sources"] for c in b.citations)
    # measured: 6 of 45 pairs (5 without the reader, whose decline is the ten-feature model's). Few: on these
    # train folders most near misses are still answered with the passage they were written against
    assert total == 45
    assert both >= 6, (both, total)


def test_the_token_vector_cache_forgets_without_losing_what_a_question_asks_for(pipeline):
    evidence = pipeline.evidence
    evidence._states.clear()
    evidence.STATES_MAX = 3  # on this instance only
    try:
        evidence.token_states(["first sentence", "second sentence"])
        states = evidence.token_states(["first sentence", "third sentence", "fourth sentence"])  # over the bound: forgets
        assert [len(s.ids) for s in states] and len(evidence._states) == 3
    finally:
        del evidence.STATES_MAX
        evidence._states.clear()
