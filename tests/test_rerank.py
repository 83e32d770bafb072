"""The trained evidence ranker, the answerability score and the question corpus they learn from."""

import json
import shutil

import pytest

from rag.engine import compose
from rag.tools import questions
from rag.engine import decide, rerank
from rag.tools import train
from rag.engine.query import analyze
from rag.engine.select import Sentence, answerable
from rag.types import Chunk

from tests.conftest import run_cli


def _sentence(text: str, kind: str = "text") -> Sentence:
    chunk = Chunk("x#0", "x.txt", "X", text, 1, 1, 0, len(text), "h", "d", kind=kind)
    return Sentence(chunk, text, 0, len(text), 1, 1)


# ---- the question corpus -------------------------------------------------------------------------

def test_every_record_of_the_corpus_passes_its_checker():
    """Every shipped record holds: its quotes are in its file, its short answers in its quotes."""
    assert questions.main([]) == 0


def test_the_checker_rejects_a_quote_or_span_not_in_the_file(tmp_path):
    folder = tmp_path / "folders" / "tiny"
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text("The daemon listens on port 9418 by default.\nIt was written in 2005.\n")
    good = {"id": "t-1", "question": "what port", "kind": "factoid", "answers": ["9418"], "facts": [["9418"]],
            "sources": ["a.txt"], "evidence": ["The daemon listens on port 9418 by default."]}
    assert questions.check(good, folder).errors == []
    assert questions.check(good, folder).record["lines"] == [{"source": "a.txt", "start_line": 1, "end_line": 1}]
    assert questions.check({**good, "evidence": ["The daemon listens on port 80 by default."]}, folder).errors
    assert questions.check({**good, "answers": ["2005"]}, folder).errors  # in the file, not in the quote
    assert questions.check({**good, "sources": ["../../etc/passwd"]}, folder).errors
    assert questions.check({**good, "kind": "unanswerable"}, folder).errors  # unanswerable has no evidence


def test_folders_are_split_before_tuning_and_none_is_held_out_by_others():
    assert set(questions.SPLITS.values()) == {"train", "dev", "test"}
    assert len(questions.folders()) >= 30 and len(questions.folders("test")) >= 6
    assert questions.SPLITS["articles"] == "test"  # the five articles of corpus/ are measured, never trained on
    records = [r for f in questions.folders() for r in questions.load(f)]
    unanswerable = [r for r in records if r["kind"] == "unanswerable"]
    assert len(records) >= 10_000 and len(unanswerable) >= 0.3 * len(records)
    assert sum(bool(r.get("near")) for r in unanswerable) >= 0.6 * len(unanswerable)  # most are near misses
    formats = {p.suffix for f in questions.folders("test") for p in (questions.FOLDERS_DIR / f).iterdir()}
    assert {".txt", ".html", ".pdf", ".docx", ".md"} <= formats
    for f in questions.FOLDERS_DIR.iterdir():
        assert not questions.HELD_OUT_BY_OTHERS.search(f.name)
    for script in questions.QA_DIR.glob("make_*"):
        made_from = script.read_text()
        assert not questions.HELD_OUT_BY_OTHERS.search(made_from.replace("python3.*-doc", "").replace("debian-history)", ")")
                                                        .replace("r-doc-*", "")), script.name


# ---- rules that hold on any folder -----------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "2.7 Aggregate Functions . . . . . . . . . . 14",  # the section titles of our own folders (pg-tutorial,
    "Chapter 3: Advanced Features 23",  # handbook-pdf), laid out as a contents page lays them out
    "6.2.1. Initialization . . . . . . . . 112",
    "2.1 Checkpointing 12",
    "Installing packages ........................ 117",
])
def test_a_table_of_contents_line_is_never_evidence(line):
    assert not answerable(_sentence(line))
    assert not answerable(_sentence(line), code_ok=True)


def test_a_statement_and_for_a_how_to_a_command_are_evidence():
    assert answerable(_sentence("The minimum length is 4."))
    assert not answerable(_sentence("git stash pop", kind="code"))
    assert answerable(_sentence("git stash pop", kind="code"), code_ok=True)


def test_how_many_is_never_answered_by_a_year():
    query = analyze("how many packages did the release have")
    found = [span for span, _ in compose.bound(query, "The release of 1996 had 474 packages in it.")]
    assert "474" in found and "1996" not in found
    assert not compose.bound(query, "The release came out in 1996 with new packages.")


def test_a_short_answer_needs_a_confident_ranker():
    query = analyze("how many packages did the release have")
    best = _sentence("The release had 474 packages.")
    assert compose.factoid(query, best, None, 3, 8, None, sure=True).short == "474"
    unsure = compose.factoid(query, best, None, 3, 8, None, sure=False)
    assert unsure.short == "" and unsure.answer.startswith("The release had 474 packages.")


# ---- the trained models, through the real pipeline -------------------------------------------------

def test_the_shipped_models_match_models_txt():
    from rag.config import Settings
    from rag.models import locate, read_models, verify

    specs = [s for s in read_models(Settings().models_file) if s.role == "rerank"]
    assert len(specs) == 4 and all(s.sha256 for s in specs)
    for spec in specs:
        verify(spec, locate(spec, Settings().models_file))
    assert (rerank.WEIGHTS_DIR / rerank.RANKER_FILE).stat().st_size < 30 * 1024 * 1024


# Held-in examples (questions of train folders): the sentence that gives the reason, against one that restates
# the question's topic (the first stage's choice for both).
PREFERENCES = [
    ("articles", "why does the US think huawei is a security threat",
     "The warnings stem from the United States’ concern",
     "The United States has highlighted the risks that Huawei poses to national security"),
    ("git-man", "why cant git revert a merge comit without -m",
     "Usually you cannot revert a merge because you do not know which side",
     "Reverting a merge commit declares that you will never want the tree changes"),
]


@pytest.mark.parametrize("folder,question,gold,restating", PREFERENCES)
def test_the_ranker_prefers_the_gold_sentence_over_a_restating_one(folder, question, gold, restating, embedder, tmp_path):
    from rag.engine.pipeline import Pipeline

    settings = train.folder_settings(folder).replace(index_dir=tmp_path / "index")
    pipeline = Pipeline(settings, embedder=embedder)
    found = pipeline.evidence.gather(analyze(question, (), pipeline.vocabulary, embedder.dictionary()))
    where = lambda ranked, start: next(i for i, x in enumerate(ranked) if " ".join(x.text.split()).startswith(start))  # noqa: E731
    assert where(found.first, restating) < where(found.first, gold)  # the first stage alone is fooled
    assert where(found.ranked, gold) < where(found.ranked, restating)  # the trained ranking is not
    assert where(found.ranked, gold) == 0


def test_a_paraphrased_word_is_not_declined_as_unknown(pipeline):
    """"boss" is nowhere in the articles (they say "founder" and "chief"), but the question is answerable."""
    a = pipeline.answer("who is the boss who founded huawei", use_llm=False)
    assert not a.refused, a.notes
    assert "Ren Zhengfei" in a.answer


def test_an_unknown_name_is_declined_and_named(pipeline):
    a = pipeline.answer("What did Zorblatt Quineloff say about Huawei's 5G equipment?", use_llm=False)
    assert a.refused and "Zorblatt" in a.answer


def test_rag_train_on_a_tiny_folder_makes_a_model_that_loads_and_ranks(tmp_path):
    qa = tmp_path / "qa"
    (qa / "folders" / "tiny").mkdir(parents=True)
    for name in ("000_f7ddb58f33c977c6.txt", "003_1d60f627e1bb2734.txt"):
        shutil.copy(questions.FOLDERS_DIR / "articles" / name, qa / "folders" / "tiny" / name)
    records = [r for r in questions.load("articles") if r["sources"][:1] in ([], ["000_f7ddb58f33c977c6.txt"],
                                                                              ["003_1d60f627e1bb2734.txt"])]
    records = [r for r in records if r["kind"] == "unanswerable"][:6] + [r for r in records if r["kind"] == "factoid"][:14]
    (qa / "tiny.jsonl").write_text("".join(json.dumps({k: v for k, v in r.items() if k not in ("lines", "folder", "split")}) + "\n"
                                           for r in records))
    out = tmp_path / "weights"
    result = run_cli("rag", "train", "--qa-dir", str(qa), "--out", str(out), "--epochs", "0.5",
                     "--train-folder", "tiny", "--dev-folder", "tiny", timeout=1200)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["questions"] == 20 and report["rows"] >= 10
    ranker, model = rerank.Ranker(out), decide.Answerability.load(out / rerank.ANSWERABILITY_FILE)
    scores = ranker.scores("who founded huawei", ["Ren Zhengfei founded Huawei in 1987.", "The weather was mild."])
    assert scores.shape == (2,) and all(abs(s) < 100 for s in scores)
    assert 0.0 <= model.threshold <= 1.0 and len(model.weights) == len(model.names)
