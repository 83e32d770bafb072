"""Cleaning and chunking on the real articles, plus properties on generated text."""

import re

from hypothesis import given, settings as hsettings, strategies as st

from rag.index.chunk import chunk, sentence_spans
from rag.index.clean import clean
from rag.index.corpus import load_corpus
from rag.index.parse import parse_text

from tests.conftest import CORPUS


def _docs():
    docs, skipped = load_corpus(CORPUS, 64)
    assert not skipped
    return {d.source: d for d in docs}


def _chunks(source):
    doc = _docs()[source]
    return doc, clean(doc), chunk(doc, clean(doc), 400)


def test_related_headlines_at_end_of_000_are_not_indexed():
    doc, cleaned, chunks = _chunks("000_f7ddb58f33c977c6.txt")
    text = " ".join(c.text for c in chunks)
    for headline in ("Ghislaine Maxwell to Testify", "Wall Street Erases All Gains", "Related Articles", "Death Star"):
        assert headline not in text
    assert max(c.end_line for c in chunks) <= 31  # the article ends on line 31; the list starts at 35
    assert any(d.start_line <= 40 <= d.end_line and "end of the article" in d.reason for d in cleaned.dropped)


def test_duplicated_paragraph_is_indexed_once():
    doc, cleaned, chunks = _chunks("003_1d60f627e1bb2734.txt")
    opening = "A coronavirus-induced economic crisis could send Europe bargain-shopping"
    assert doc.text.count(opening) == 2
    assert sum(opening in c.text for c in chunks) == 1
    assert any(d.reason == "duplicate paragraph" and d.start_line == 14 for d in cleaned.dropped)


def test_boilerplate_captions_and_comment_sections_are_dropped():
    all_text = " ".join(c.text for src in _docs() for c in _chunks(src)[2])
    for junk in (
        "Story continues below advertisement",
        "Skip to main content",
        "Welcome to The Globe and Mail",
        "community guidelines",
        "Charlie Kirk",  # "More from GZERO Media" teasers after the article
        "BRICS Currency",
        "Image credit",
    ):
        assert junk not in all_text, junk
    # ... while the article text itself survives
    assert "Ren Zhengfei, the founder of Huawei" in all_text
    assert "Carisa Nietsche is a Research Associate" in all_text


def test_a_fact_after_the_title_of_a_plain_text_note_is_kept():
    """The news-page front-matter rule drops a title and dateline before the first long paragraph, never a
    sentence that states something, whatever kind of text file it is."""
    body = " ".join(["The backup job copies every database to the second disk and checks each copy."] * 3)
    doc = parse_text(f"Server notes\n\nThe database server listens on port 6543.\n\nMarch 2024\n\n{body}\n",
                     "server-notes.txt")
    cleaned = clean(doc)
    kept = " ".join(p.text for p in cleaned.paragraphs)
    assert "listens on port 6543" in kept
    assert not any("6543" in d.text for d in cleaned.dropped)
    assert any(d.text.startswith("March 2024") for d in cleaned.dropped)  # the rule still runs: a dateline goes


def test_titles_are_found_or_derived():
    titles = {src: clean(doc).title for src, doc in _docs().items()}
    assert titles["000_f7ddb58f33c977c6.txt"].startswith("Ex-Diplomat Reveals How Trump Administration")
    assert titles["002_b1afe3b024eb253c.txt"] == "US lobbies for EU to ban Huawei from 5G infrastructure"
    assert titles["003_1d60f627e1bb2734.txt"] == "Washington’s Anti-Huawei Tactics Need a Reboot In Europe"
    assert titles["001_2cf39cb89ea2da08.txt"].startswith("The Trump administration’s aggressive campaign")


def test_chunks_map_back_to_exact_text_and_lines():
    for source, doc in _docs().items():
        lines = doc.text.split("\n")
        for c in _chunks(source)[2]:
            assert doc.text[c.start_char : c.end_char] == c.text
            assert c.text.split("\n")[0] in lines[c.start_line - 1]
            assert len(c.text) <= 400 or len(c.text) <= 800 and "“" in c.text


def test_sentence_split_keeps_abbreviations():
    text = "Mr. Trump met U.S. officials on Jan. 4. He said “no.” Then A. Smith left! Really?"
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Mr. Trump met U.S. officials on Jan. 4.",
        "He said “no.”",
        "Then A. Smith left!",
        "Really?",
    ]


_word = st.text(alphabet="abcdefghij KLMN,\"'’é5-", min_size=1, max_size=12)
_sentence = st.tuples(st.sampled_from("ABCDEMR“"), st.lists(_word, min_size=2, max_size=30), st.sampled_from([".", "!", "?", ".”", ""])).map(
    lambda t: t[0] + " ".join(t[1]) + t[2]
)
_paragraph = st.lists(_sentence, min_size=1, max_size=8).map(" ".join)
_junk = st.lists(st.text(alphabet="abc XYZ:0", min_size=1, max_size=30), min_size=1, max_size=5).map("\n".join)
_article = st.lists(st.one_of(_paragraph, _paragraph, _junk), min_size=1, max_size=10).map("\n\n".join)


@hsettings(max_examples=150, deadline=None)
@given(_article, st.integers(min_value=40, max_value=500))
def test_chunks_cover_cleaned_text_exactly(text, size):
    doc = parse_text(text)
    cleaned = clean(doc)
    stored = chunk(doc, cleaned, size)
    chunks = chunk(doc, cleaned, size, dedupe=False)  # what is stored is these, less the repeats of earlier ones
    assert {(c.start_char, c.end_char) for c in stored} <= {(c.start_char, c.end_char) for c in chunks}
    assert all(len(c.text) <= size or ("“" in c.text and len(c.text) <= 2 * size) for c in chunks)
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    for c in chunks:
        assert text[c.start_char : c.end_char] == c.text
        assert line_starts[c.start_line - 1] <= c.start_char
        assert c.end_line == c.start_line + text.count("\n", c.start_char, c.end_char)
    # nothing of the kept text is lost between chunks: only whitespace lies outside them
    for para in cleaned.paragraphs:
        inside = [c for c in chunks if para.start_char <= c.start_char < para.end_char]
        covered = "".join(c.text for c in inside)
        assert re.sub(r"\s", "", covered) == re.sub(r"\s", "", para.text)


def test_choice_passage_is_clipped_around_the_options():
    from rag.engine.compose import clip_around

    text = "In March 2019, after months of talks, the company said that its founder, Ren Zhengfei, would step back from daily work at Huawei."
    clipped = clip_around(text, ["Ren Zhengfei", "Huawei"], 2)
    assert clipped == "its founder, Ren Zhengfei, would step back from daily work at Huawei."
    assert clipped in text  # an exact substring: the model reads the article's own words
    assert clip_around(text, ["Ren Zhengfei"], 0) == text
    assert clip_around(text, ["not in the text"], 3) == text
