"""The `ask` and `rag` commands, end to end with the real models (each call is a fresh process)."""

import json

import pytest

from rag.engine.prompts import CANNOT_ANSWER_PHRASE

from tests.conftest import run_cli


@pytest.fixture(scope="module")
def index_args(shared_index, pipeline):
    # `pipeline` has built the shared index already; every call here re-uses it.
    return ["--index", str(shared_index)]


def test_founder_question_is_answered_with_its_source_line(index_args):
    out = run_cli("ask", "Who is the founder of Huawei?", *index_args)
    assert out.returncode == 0, out.stderr
    answer, _, sources = out.stdout.partition("\n\n")
    assert "Ren Zhengfei" in answer
    assert sources.startswith('Sources:\n[1] 001_2cf39cb89ea2da08.txt · line 35 “Ren Zhengfei, the founder of Huawei')


def test_out_of_corpus_question_is_declined(index_args):
    out = run_cli("ask", "--json", "Who won the 2018 FIFA World Cup?", *index_args)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["refused"] is True and result["answer"].startswith(CANNOT_ANSWER_PHRASE) and result["citations"] == []
    assert "FIFA World Cup" in result["answer"]  # the name no document mentions is said


def _check_contract(obj):
    assert set(obj) >= {"answer", "refused", "citations", "timings_ms"}
    assert isinstance(obj["answer"], str) and obj["answer"]
    assert isinstance(obj["refused"], bool)
    for c in obj["citations"]:
        assert {"source", "start_line", "end_line", "quote"} <= set(c) <= {"source", "start_line", "end_line", "quote", "page", "heading"}
        assert isinstance(c["start_line"], int) and 1 <= c["start_line"] <= c["end_line"]
        assert c["quote"]
    assert {"retrieve", "total"} <= set(obj["timings_ms"])
    assert all(isinstance(v, (int, float)) and v >= 0 for v in obj["timings_ms"].values())
    if not obj["refused"]:
        assert obj["citations"], "an answer without a source"


def test_stdin_gives_one_json_object_per_line(index_args):
    out = run_cli("ask", "--json", *index_args, input="Who warned Berlin?\n\nHow many deals did Huawei announce?\n")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().split("\n")
    assert len(lines) == 2
    objs = [json.loads(line) for line in lines]
    for obj in objs:
        _check_contract(obj)
    assert objs[1]["question"] == "How many deals did Huawei announce?"
    assert "91" in objs[1]["answer"]
    assert objs[1]["citations"][0]["source"] == "000_f7ddb58f33c977c6.txt"
    assert objs[1]["citations"][0]["start_line"] == 19


@pytest.mark.parametrize("question", ["", "   \t  "])
def test_empty_question_is_one_line_error(question, index_args):
    out = run_cli("ask", question, *index_args)
    assert out.returncode == 2
    assert out.stderr.strip() == "error: the question is empty"
    assert out.stdout == ""


def test_huge_question_is_trimmed_with_a_notice(index_args):
    out = run_cli("ask", "--json", "--no-llm", "Who is the founder of Huawei? " + "filler " * 2900, *index_args)
    assert out.returncode == 0, out.stderr
    obj = json.loads(out.stdout)
    _check_contract(obj)
    assert any("trimmed" in n for n in obj["notes"])
    assert "Traceback" not in out.stderr


def test_empty_corpus_folder_is_one_line_error(tmp_path):
    (tmp_path / "c").mkdir()
    out = run_cli("ask", "Who?", "--corpus", str(tmp_path / "c"), "--index", str(tmp_path / "i"))
    assert out.returncode == 2
    assert out.stderr.strip().startswith("error: no indexable .txt/.md/.html/.pdf/.docx files in")
    assert len(out.stderr.strip().splitlines()) == 1


def test_unknown_model_is_one_line_error(index_args):
    out = run_cli("ask", "Who?", "--model", "no-such-model", *index_args)
    assert out.returncode == 2
    assert out.stderr.startswith("error: unknown llm model 'no-such-model'")
    assert "Traceback" not in out.stderr


def test_rag_models_lists_presence():
    out = run_cli("rag", "models")
    assert out.returncode == 0
    rows = [line.split() for line in out.stdout.splitlines()]
    assert ["embed", "sentence-transformers/all-MiniLM-L6-v2", "present"] == rows[0][:3]
    assert ["llm", "SmolLM2-135M-Instruct-Q4_1", "present"] == rows[1][:3]
