"""The question set, the scoring helpers, and a quality guard that fails CI when answers get worse."""

import json
from collections import Counter
from pathlib import Path

import pytest

from rag.tools.eval import DEFAULT_QUESTIONS, aggregate, contains_alias, load_questions, normalize, run, token_f1
from rag.errors import InputError

from tests.conftest import CORPUS, run_cli


def test_question_set_is_complete_and_its_gold_is_in_the_articles():
    questions = load_questions(DEFAULT_QUESTIONS)
    kinds = Counter(q.kind for q in questions)
    assert len(questions) >= 60 and len({q.id for q in questions}) == len(questions)
    assert kinds["unanswerable"] >= 12 and all(kinds[k] >= 8 for k in ("fact", "paraphrase", "quote", "multi", "followup"))
    assert Counter(q.split for q in questions)["test"] >= 20  # "heldout" in the file, read as test
    for q in questions:
        if not q.answerable:
            assert not q.answers and not q.sources
            continue
        assert q.answers and q.sources and q.lines
        gold_text = " ".join(
            " ".join((CORPUS / ref["source"]).read_text().split("\n")[ref["start_line"] - 1 : ref["end_line"]])
            for ref in q.lines
        )
        assert contains_alias(gold_text, q.answers), q.id
        assert {ref["source"] for ref in q.lines} == set(q.sources)
    assert all(q.history for q in questions if q.kind == "followup")


NATURAL = DEFAULT_QUESTIONS.parent / "natural.jsonl"
GITDOC = DEFAULT_QUESTIONS.parent / "gitdoc.jsonl"
GIT_DOC_DIR = Path("/usr/share/doc/git-doc")


def _visible_text(path: Path) -> str:
    """A document's words as a reader sees them (HTML tags dropped), for checking the gold against it."""
    if path.suffix == ".html":
        from lxml import html as lxml_html

        tree = lxml_html.fromstring(path.read_bytes())  # bytes: the pages declare their encoding
        for bad in tree.xpath("//script|//style"):
            bad.drop_tree()
        return " ".join(tree.itertext())
    return path.read_text(encoding="utf-8", errors="replace")


@pytest.mark.parametrize("path, root", [(NATURAL, CORPUS), (GITDOC, GIT_DOC_DIR)], ids=["natural", "gitdoc"])
def test_second_question_sets_are_split_and_their_gold_is_in_the_documents(path, root):
    if not root.is_dir():
        pytest.skip(f"{root} is not installed (make test installs Debian's git-doc)")
    questions = load_questions(path)
    kinds = Counter(q.kind for q in questions)
    assert len(questions) >= 50 and kinds["unanswerable"] >= 10
    assert len({q.id for q in questions}) == len(questions)
    splits = Counter(q.split for q in questions)
    assert set(splits) == {"dev", "test"} and min(splits.values()) >= 0.4 * len(questions)
    texts = {}
    for q in questions:
        if not q.answerable:
            assert not q.facts and not q.sources
            continue
        assert q.sources and q.must_have, q.id
        docs = [texts.setdefault(s, _visible_text(root / s)) for s in q.sources]
        for aliases in q.must_have:
            assert any(contains_alias(d, aliases) for d in docs), (q.id, aliases)


def test_normalize_and_alias_matching():
    assert normalize("The “Five Eyes” Community!") == "five eyes community"
    assert contains_alias("It was Ren Zhengfei.", ["Ren Zhengfei"])
    assert contains_alias("risks are manageable", ["manag"])
    assert not contains_alias("in 1991 they", ["91"])
    assert not contains_alias("The articles do not say", ["Ren Zhengfei"])


def test_token_f1():
    assert token_f1("Ren Zhengfei", "Ren Zhengfei") == 1.0
    assert token_f1("the founder Ren Zhengfei", "Ren Zhengfei") == pytest.approx(0.8)
    assert token_f1("Huawei", "Ren Zhengfei") == 0.0


def test_bad_question_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"id": "a", "question": "ok?"}\nnot json\n')
    with pytest.raises(InputError, match="q.jsonl:2: not a question record"):
        load_questions(bad)


def test_quality_does_not_regress(pipeline):
    """The whole question set through the real pipeline; thresholds sit a little below the measured figures
    (README, "Quality"), so a change that breaks retrieval, selection or refusal fails here."""
    questions = load_questions(DEFAULT_QUESTIONS)
    m = aggregate(questions, run(pipeline, questions), pipeline.settings.k)
    assert m["core"]["right"] >= 0.84
    assert m["multi"]["right"] >= 0.55
    assert m["followup"]["right"] >= 0.80
    assert m["unanswerable"]["declined"] >= 0.55
    assert m["all"]["wrongly_declined"] <= 0.12
    assert m["all"]["citation_precision"] >= 0.90
    assert m["all"]["support"] >= 0.80
    assert m["split:test"]["right"] >= 0.75


def test_natural_questions_quality_does_not_regress(pipeline):
    """Questions typed the way people type them (tests/eval/natural.jsonl), same guard."""
    questions = load_questions(NATURAL)
    m = aggregate(questions, run(pipeline, questions), pipeline.settings.k)
    assert m["all"]["right"] >= 0.55
    assert m["factoid"]["right"] >= 0.80 and m["definition"]["right"] >= 0.70
    assert m["unanswerable"]["declined"] >= 0.50
    assert m["all"]["wrongly_declined"] <= 0.10
    assert m["all"]["citation_precision"] >= 0.85


def test_eval_cli_answers_a_file_without_gold(tmp_path, shared_index):
    qfile = tmp_path / "mine.jsonl"
    qfile.write_text(json.dumps({"id": "x1", "question": "Who is the founder of Huawei?"}) + "\n"
                     + json.dumps({"id": "x2", "question": "Who won the 2018 FIFA World Cup?"}) + "\n")
    out = tmp_path / "out.jsonl"
    res = run_cli("rag", "eval", "--questions", str(qfile), "--out", str(out), "--reports", str(tmp_path / "r"),
                  "--index", str(shared_index))
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["x1", "x2"]
    assert set(rows[0]) == {"id", "question", "answer", "refused", "citations", "timings_ms"}
    assert "Ren Zhengfei" in rows[0]["answer"] and rows[1]["refused"] is True
    for name in ("eval.json", "eval.md", "eval.png"):
        assert (tmp_path / "r" / name).stat().st_size > 100
