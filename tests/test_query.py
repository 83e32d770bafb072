"""Question analysis (rag/engine/query.py) and answer shapes (rag/engine/compose.py, rag/engine/select.py): pure functions, no models.

The same forms are checked on questions about news articles and about a software manual: no rule may hold
for one genre only.
"""

from dataclasses import replace

import pytest

from rag import text
from rag.engine.compose import candidates, gathered, factoid, yes_no
from rag.engine.prompts import CANNOT_ANSWER_PHRASE, SHORT_SEPARATOR
from rag.engine.query import analyze, form_of, is_followup, names_in
from rag.engine.select import Sentence, answerable, with_context
from rag.types import Chunk

NEWS = [
    "Huawei founder Ren Zhengfei said the company would survive the sanctions.",
    "Germany's economy ministry said it would not exclude any vendor from its 5G network.",
    "The Trump administration started its crackdown in March 2019, when Huawei had announced 91 deals.",
]
MANUAL = [
    "A bare repository is a repository that has no working tree.",
    "The --amend option replaces the tip of the current branch by creating a new commit.",
    "git stash push saves your local modifications away and reverts the working directory to match HEAD.",
]


@pytest.mark.parametrize(
    "question, form",
    [
        # the same forms, asked of news and of a manual
        ("Who founded Huawei?", "factoid"),
        ("what option rewrites the last commit", "factoid"),
        ("How many deals had Huawei announced?", "factoid"),
        ("how many parents does a merge commit have", "factoid"),
        ("who is ren zhengfei", "definition"),
        ("What is a bare repository?", "definition"),
        ("what's 5G", "definition"),
        ("Why are US allies reluctant to ban Huawei?", "explanatory"),
        ("why would I use git rebase --onto", "explanatory"),
        ("How do I undo the last commit but keep the changes?", "explanatory"),
        ("how did germany respond to the pressure", "explanatory"),
        ("Is Huawei a state-owned company?", "yesno"),
        ("can git stash include untracked files", "yesno"),
        ("Does Germany ban Huawei?", "yesno"),
        ("What does the article about Germany argue?", "summary"),
        ("summarize the page on git bisect", "summary"),
        ("Which articles mention Ericsson?", "listing"),
        ("which pages talk about submodules", "listing"),
        # a question about files is not a listing of documents
        ("What files does the installer create?", "factoid"),
        ("What is the default value of core.abbrev?", "factoid"),
        ("Who is the founder of Huawei?", "factoid"),
    ],
)
def test_question_forms_on_both_genres(question, form):
    assert form_of(question)[0] == form


def test_definition_subject_and_listing_topic():
    assert form_of("What is a bare repository?") == ("definition", "bare repository")
    assert form_of("who is ren zhengfei") == ("definition", "ren zhengfei")
    assert form_of("Which articles mention Ericsson?") == ("listing", "Ericsson")


def test_names_in_questions():
    assert names_in("What did Emmanuel Macron say about Huawei?") == ["Emmanuel Macron", "Huawei"]
    assert names_in("What does git log --oneline show?") == ["--oneline"]
    assert names_in("What is the default value of core.abbrev?") == ["core.abbrev"]
    assert names_in("Who is the founder of Huawei?") == ["Huawei"]
    assert names_in("who is ren zhengfei") == []


def test_followup_detection():
    history = [("Who is the founder of Huawei?", "Ren Zhengfei")]
    assert is_followup("What did he say about the sanctions?", history, [])
    assert is_followup("and Ericsson?", history, ["Ericsson"])
    # standalone questions after a first turn are left alone, pronouns or not
    assert not is_followup("Which countries banned Huawei?", history, ["Huawei"])
    assert not is_followup("What did Huawei say about its founder?", history, ["Huawei"])
    assert not is_followup("Is this a question about git stash?", history, [])
    assert not is_followup("What did he say?", [], [])


def test_followup_is_resolved_and_standalone_is_not_rewritten():
    vocab = text.Vocabulary(NEWS)
    history = [("Who is the founder of Huawei?", f"Ren Zhengfei{SHORT_SEPARATOR}Huawei founder Ren Zhengfei said …")]
    q = analyze("What did he say?", history, vocab)
    assert q.followup and q.ask == "What did Ren Zhengfei say?" and "founder" in q.search
    q = analyze("When did the Trump administration start its crackdown?", history, vocab)
    assert not q.followup and q.search == q.ask == q.text
    refused = [("Who is the CEO of Nokia?", CANNOT_ANSWER_PHRASE)]
    q = analyze("What did he say?", refused, vocab)
    assert q.followup and "Ren" not in q.ask


def test_unknown_names_are_reported_and_typos_are_fixed_against_the_corpus():
    vocab = text.Vocabulary(NEWS + MANUAL)
    dictionary = frozenset("what did say about the president who is of".split())
    q = analyze("What did Emmanuel Macron say about Huawei?", (), vocab, dictionary)
    assert q.unknown == ("Emmanuel Macron",)
    q = analyze("who is ren zhengfie", (), vocab, dictionary)
    assert q.unknown == () and "zhengfei" in q.ask and q.notes
    q = analyze("what does git frobnicate do", (), vocab, dictionary)
    assert "frobnicate" in q.unknown
    q = analyze("What does --amend do?", (), vocab, dictionary)
    assert q.unknown == ()


def _sentence(text_: str, kind: str = "text", start: int = 0, paragraph: int = 0, source: str = "a.txt") -> Sentence:
    chunk = Chunk(f"{source}#{start}", source, "T", text_, 1, 1, start, start + len(text_), "h", "d", paragraph, kind)
    return Sentence(chunk, text_, start, start + len(text_), 1, 1, score=1.0)


def test_questions_code_and_headings_are_never_answers():
    assert not answerable(_sentence("So, why are US allies reluctant to ban Huawei?"))
    assert not answerable(_sentence("$ git log --oneline", kind="code"))
    assert not answerable(_sentence("Found an even number 4", kind="code"))
    assert not answerable(_sentence("OPTIONS"))
    assert not answerable(_sentence("Related articles"))
    assert answerable(_sentence("Huawei denies the claims."))


def test_factoid_short_answer_then_its_sentence():
    vocab = text.Vocabulary(NEWS)
    best = _sentence(NEWS[2])
    q = analyze("How many deals had Huawei announced?", (), vocab)
    out = factoid(q, best, None, 3, 8, vocab)
    assert out.short == "91" and out.answer.startswith("91" + SHORT_SEPARATOR) and NEWS[2] in out.answer
    # a number far from the question's own words is not an answer to "how many": the sentence speaks instead
    far = _sentence("Ericsson, which was founded in Stockholm by Lars Magnus Ericsson and today sells radio gear in many "
                    "markets around the world to operators of every size, has three main rivals.")
    q = analyze("How many people work for Ericsson?", (), vocab)
    out = factoid(q, far, None, 3, 8, vocab)
    assert out.short == "" and out.answer == far.text + " [1]"


def test_factoid_without_a_typed_answer_is_the_sentence():
    vocab = text.Vocabulary(NEWS)
    best = _sentence("The ambassador threatened to torpedo German car sales in China.")
    q = analyze("What did China's ambassador to Berlin threaten to do in December?", (), vocab)
    out = factoid(q, best, None, 3, 8, vocab)
    assert out.short == "" and out.answer.startswith("The ambassador threatened")


def test_candidates_are_bound_to_cue_words():
    found = candidates("In 2010 the firm was small; by March 2019 it had 91 deals.", "number", "How many deals?")
    assert found[0][0] == "91"


def test_yes_no_opens_with_yes_or_no_only_when_the_sentence_settles_it():
    vocab = text.Vocabulary(NEWS + MANUAL)
    q = analyze("Does Germany exclude any vendor from its 5G network?", (), vocab)
    out = yes_no(q, _sentence(NEWS[1]), vocab, 0.9)
    assert out.short == "No" and out.answer.startswith("No" + SHORT_SEPARATOR)
    q = analyze("Can git stash save local modifications?", (), vocab)
    out = yes_no(q, _sentence(MANUAL[2]), vocab, 0.9)
    assert out.short == "Yes"
    q = analyze("Does Germany plan to build its own chips?", (), vocab)
    out = yes_no(q, _sentence(NEWS[1]), vocab, 0.9)
    assert out.short == "" and out.answer == NEWS[1] + " [1]"


def test_an_explanation_gathers_the_ranked_reasons_in_reading_order():
    texts = [
        "So, why are US allies reluctant to ban Huawei?",
        "First, Huawei equipment is cheaper than that of its rivals, often by a third.",
        "Second, replacing equipment already installed would delay 5G networks by years.",
        "Third, allies doubt that the security risks cannot be managed by testing.",
        "Elsewhere, the company reported higher sales.",
    ]
    order, pos = [], 0
    for t in texts:
        order.append(_sentence(t, start=pos))
        pos += len(t) + 1
    scores = {1: 9.0, 3: 8.5, 2: 8.0, 4: 3.0}  # the ranker's: the reasons near the top, in any order
    ranked = [replace(order[i], score=v) for i, v in sorted(scores.items(), key=lambda kv: -kv[1])]
    out = gathered(ranked, 2.0, order)
    assert "why are US allies" not in out.answer and "Elsewhere" not in out.answer
    assert out.answer.startswith("First, Huawei equipment is cheaper")  # reading order, not rank order
    assert out.answer.index("Second,") < out.answer.index("Third,") and len(out.citations) == 3
    # one sentence far ahead of the rest: the sentences after it in its section carry on, up to a code block
    alone = [replace(order[1], score=9.0), replace(order[4], score=1.0)]
    assert gathered(alone, 2.0, order).answer.startswith("First,") and len(gathered(alone, 2.0, order).citations) >= 2
    code = [order[1], _sentence("$ git reset --soft HEAD~1", kind="table", start=999), order[2]]
    assert len(gathered([replace(order[1], score=9.0)], 2.0, code).citations) == 1


def test_with_context_borrows_the_speaker():
    a = _sentence("The company denied it.", start=0)
    b = _sentence("“We have never shared data,” he said.", start=30)
    assert with_context(b, [a, b]).text.startswith("The company denied it.")
