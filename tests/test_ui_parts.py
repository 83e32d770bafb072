"""The pieces of issue 18 that need no browser: chats kept per browser, example questions, named collections,
and where a quote lies on a PDF page."""

import sqlite3

import pytest

from ui.examples import example_questions, from_heading, from_opening
from rag.types import Chunk
from ui.chats import MAX_CHATS, MAX_TEXT, ChatStore

from tests.conftest import run_cli

ALICE, BOB = "a" * 32, "b" * 32


def test_chats_outlive_the_server_and_stay_with_their_browser(tmp_path):
    store = ChatStore(tmp_path / "chats.sqlite3")
    chat = store.add_turn(ALICE, None, "Who is the founder of Huawei?", "Ren Zhengfei [1]", {"answer": "Ren Zhengfei"}, "corpus")
    assert store.add_turn(ALICE, chat, "And his daughter?", "Meng Wanzhou [1]", {"answer": "Meng Wanzhou"}) == chat
    restarted = ChatStore(tmp_path / "chats.sqlite3")  # a new process opens the same file
    assert restarted.list(ALICE) == [(chat, "Who is the founder of Huawei?", "")]  # the last turn's collection
    assert [q for q, _, _ in restarted.turns(ALICE, chat)] == ["Who is the founder of Huawei?", "And his daughter?"]
    # another browser sees nothing, cannot read, rename, delete or append to it
    assert restarted.list(BOB) == [] and restarted.turns(BOB, chat) == []
    assert not restarted.rename(BOB, chat, "mine now") and not restarted.delete(BOB, chat)
    assert restarted.add_turn(BOB, chat, "q", "a", {}) != chat
    assert restarted.rename(ALICE, chat, "  Huawei's   founder ") and restarted.list(ALICE)[0][1] == "Huawei's founder"
    assert restarted.list("not-an-id") == [] and restarted.add_turn("../x", None, "q", "a", {}) is None
    assert restarted.delete(ALICE, chat) and restarted.list(ALICE) == [] and restarted.turns(ALICE, chat) == []
    other = restarted.add_turn(ALICE, chat, "q", "a", {})
    assert other != chat  # a deleted chat takes no more turns: a new one is made
    # deleted, it can be brought back (by its browser only), whole
    assert not restarted.undelete(BOB, chat) and restarted.undelete(ALICE, chat)
    assert [q for q, _, _ in restarted.turns(ALICE, chat)] == ["Who is the founder of Huawei?", "And his daughter?"]
    # deleting another chat makes the earlier deletion final: its turns go with it
    assert restarted.delete(ALICE, chat) and restarted.delete(ALICE, other) and not restarted.undelete(ALICE, chat)
    with sqlite3.connect(tmp_path / "chats.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM turns WHERE chat = ?", (chat,)).fetchone()[0] == 0
    assert restarted.undelete(ALICE, other)


def test_a_deleted_chat_comes_back_only_for_a_while(tmp_path, monkeypatch):
    import ui.chats

    store = ChatStore(tmp_path / "chats.sqlite3")
    chat = store.add_turn(ALICE, None, "Who is the founder of Huawei?", "Ren Zhengfei [1]", {}, "corpus")
    assert store.delete(ALICE, chat)
    monkeypatch.setattr(ui.chats.time, "time", lambda: 10**10)  # long after: gone for good when the store opens
    assert not ChatStore(tmp_path / "chats.sqlite3").undelete(ALICE, chat)
    with sqlite3.connect(tmp_path / "chats.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM chats").fetchone()[0] == 0


def test_a_plain_text_citation_marks_its_sentence_not_its_paragraph(tmp_path):
    """A .txt file holds a paragraph on one line: the cited sentence is marked, not the whole line (issue 24)."""
    import re

    from ui.render import document_html

    page = tmp_path / "notes.txt"
    page.write_text("Harbour notes\n\nThe ferry left at noon. It carried ninety passengers to the island."
                    " The return trip was cancelled.\nA second paragraph.\n")
    html = document_html(page, "notes.txt", 3, 3, 0, "It carried ninety passengers to the island")
    assert re.findall(r"<mark class='cited'>(.*?)</mark>", html) == ["It carried ninety passengers to the island."]
    assert "The ferry left at noon. <mark" in html
    # a quote not found in the cited lines: the lines are marked whole, as before
    html = document_html(page, "notes.txt", 3, 3, 0, "words from elsewhere entirely")
    assert re.findall(r"<mark class='cited'>(.*?)</mark>", html)[0].startswith("The ferry left at noon.")


def test_chats_are_bounded_and_a_failed_write_changes_nothing(tmp_path):
    store = ChatStore(tmp_path / "chats.sqlite3")
    for n in range(MAX_CHATS + 5):
        store.add_turn(ALICE, None, f"question {n}", "x" * (MAX_TEXT + 100), {})
    chats = store.list(ALICE)
    assert len(chats) == MAX_CHATS and chats[0][1] == f"question {MAX_CHATS + 4}"
    assert len(store.turns(ALICE, chats[0][0])[0][1]) == MAX_TEXT
    assert len(store.add_turn(ALICE, None, "w " * 200, "a", {}) and store.list(ALICE)[0][1]) <= 80
    # a write that fails half-way (fault injected: the chat's update fails after its turn was inserted)
    # leaves the chat as it was: the turn is rolled back with it
    chat = chats[0][0]
    before = store.turns(ALICE, chat)
    with sqlite3.connect(tmp_path / "chats.sqlite3") as db:
        db.execute("CREATE TRIGGER fail BEFORE UPDATE ON chats BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
    with pytest.raises(sqlite3.DatabaseError):
        store.add_turn(ALICE, chat, "q", "a", {})
    assert store.turns(ALICE, chat) == before


def _chunk(source, text, heading="", paragraph=0):
    return Chunk(f"{source}#0", source, "T", text, 1, 1, 0, len(text), "h", "d", paragraph=paragraph, heading=heading)


def test_example_questions_are_the_documents_own_or_none():
    assert from_heading("2.1 How to open the north gate") == "How do I open the north gate?"
    assert from_heading("Who keeps the depot?") == "Who keeps the depot?"
    assert from_heading("Huawei's global campaign") is None  # a title is not pasted into a template
    assert from_heading("Why " + "very " * 20 + "long?") is None  # too long: left out, never cut
    assert from_opening("Is the harbour open in winter? It is, on weekdays.") == ["Is the harbour open in winter?"]
    chunks = [_chunk("a.md", "Text.", "Manual › Who keeps the depot?"), _chunk("b.txt", "The article's news.", "")]
    assert example_questions(chunks) == ["Who keeps the depot?"]
    assert example_questions([_chunk("b.txt", "The Huawei campaign went on.")]) == []


def test_collections_cli_adds_lists_and_removes(tmp_path):
    env = {"RAG_COLLECTIONS_FILE": str(tmp_path / "collections.json")}
    folder = tmp_path / "manuals"
    folder.mkdir()
    out = run_cli("rag", "collections", "add", "manuals", str(folder), env=env)
    assert out.returncode == 0, out.stderr
    assert run_cli("rag", "collections", "add", "manuals", str(folder), env=env).returncode == 2  # taken
    assert run_cli("rag", "collections", "add", "../x", str(folder), env=env).returncode == 2
    assert run_cli("rag", "collections", "add", "gone", str(tmp_path / "nope"), env=env).returncode == 2
    listed = run_cli("rag", "collections", "list", env=env).stdout
    assert listed.startswith(f"manuals\t{folder}\t{tmp_path / 'collections' / 'manuals'}")
    assert run_cli("rag", "collections", "remove", "manuals", env=env).returncode == 0
    assert "no collections" in run_cli("rag", "collections", "list", env=env).stdout
    assert folder.is_dir()  # the folder itself is left alone


def test_a_quote_is_found_on_its_page_across_line_breaks_and_hyphens():
    from ui.pdfview import find_passage

    text = "Title line\r\nRen Zhengfei, the found-\r\ner of Huawei, said\r\nthat the company\r\n\r\nNext paragraph"
    lo, hi, found = find_passage(text, 2, 3, "Ren Zhengfei, the founder of Huawei, said that")
    assert found and text[lo:hi].startswith("Ren Zhengfei") and text[lo:hi].endswith("that")
    lo, hi, found = find_passage(text, 6, 6, "a sentence that is not there")
    assert not found and text[lo:hi] == "Next paragraph"  # the cited line, whole
    assert find_passage(text, 40, 41, "x") == (0, 0, False)


def test_a_web_page_opens_as_formatted_text_with_nothing_of_it_as_markup(tmp_path):
    from ui.render import document_html

    page = tmp_path / "page.html"
    page.write_text("<html><head><title>Depot</title></head><body><nav><a href='/'>Home</a> <a href='/x'>News</a></nav>"
                    "<h1>Depot guide</h1><p>The depot is kept by Marta Quintela &lt;script&gt;alert(1)&lt;/script&gt;"
                    " since 2009.</p><ul><li>Open daily</li></ul></body></html>")
    doc = document_html(page, "page.html", 1, 1, 0, "The depot is kept by Marta Quintela <script>alert(1)</script> since 2009.")
    assert "<h3>Depot guide</h3>" in doc and "• Open daily" in doc
    assert "<mark class='cited'>The depot is kept by Marta Quintela &lt;script&gt;alert(1)&lt;/script&gt; since 2009.</mark>" in doc
    assert "<script" not in doc and "Home" not in doc  # escaped; the navigation left out
