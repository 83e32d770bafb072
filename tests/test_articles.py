"""Web articles: the body of a saved article page, every document's metadata, `rag parse`, bylines as metadata.

The pages are ../shared/web-articles (90 real news and blog pages, each with its hand-marked article body in
ground-truth.json); the tests skip when that folder is not there.
"""

import json
from pathlib import Path

import pytest

from rag.config import ROOT, Settings
from rag.index.build import open_or_build
from rag.index.clean import clean
from rag.index.describe import describe
from rag.index.parse import parse

from tests.conftest import run_cli

WEB = ROOT.parent / "shared" / "web-articles"
PAGES = WEB / "pages"
needs_web = pytest.mark.skipif(not (PAGES.is_dir() and (WEB / "ground-truth.json").is_file()),
                               reason="needs ../shared/web-articles")

# (page key prefix, text of a related-links or comment block of that page): three sites
BODIES = [
    ("5f9c5ed5d6", "USCIS begins accepting H-1B petitions"),  # indiapost.com, "Related Articles"
    ("39d5c43beb", "India plans incentives to woo 324 foreign manufacturers"),  # deccanherald.com, "Related stories"
    ("ac3c035520", "Any update on how the Blattman et al. follow-up paper will affect GiveDirectly"),  # givewell, comments
]
MOREBIKES = "612cd29826"  # a review whose JSON-LD, article:published_time and byline name its author and date


def _flat(text: str) -> str:
    return " ".join(text.split())


def _page(prefix: str) -> Path:
    return next(PAGES.glob(prefix + "*.html"))


@needs_web
def test_every_web_article_page_parses_with_text():
    pages = sorted(PAGES.glob("*.html"))
    assert len(pages) == 90
    empty = [p.name[:10] for p in pages if not describe(p)["text"].strip()]
    assert not empty, empty


@needs_web
@pytest.mark.parametrize("prefix, furniture", BODIES)
def test_article_body_keeps_first_and_last_paragraphs_and_drops_related_or_comments(prefix, furniture):
    truth = json.loads((WEB / "ground-truth.json").read_text(encoding="utf-8"))
    key = _page(prefix).stem
    paragraphs = [_flat(p) for p in truth[key]["articleBody"].split("\n") if p.strip()]
    text = _flat(describe(_page(prefix))["text"])
    assert paragraphs[0] in text and paragraphs[-1] in text
    assert furniture in _flat(parse(_page(prefix)).text)  # it is on the page...
    assert furniture not in text  # ...and not in what is indexed


@needs_web
def test_article_blocks_keep_their_source_lines():
    """A kept paragraph is cited by the lines of the HTML file it stands on."""
    page = _page(BODIES[0][0])
    doc = parse(page)
    source = page.read_text(encoding="utf-8", errors="replace").split("\n")
    cleaned = clean(doc)
    assert cleaned.paragraphs
    for span in cleaned.paragraphs[:5]:
        lines = " ".join(source[span.start_line - 1 : span.end_line])
        words = [w for w in span.text.split() if w.isalpha()]
        assert words and all(w in lines for w in (words[0], words[-1])), (span.start_line, words[:3])


@needs_web
def test_rag_parse_json_gives_author_and_date(tmp_path):
    missing = tmp_path / "gone.html"
    result = run_cli("rag", "parse", "--json", str(_page(MOREBIKES)), str(missing))
    assert result.returncode != 0  # the unreadable file...
    assert result.stderr.count("\n") == 1 and "gone.html" in result.stderr  # ...is one line on stderr
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]  # ...and the other file is still shown
    assert record["author"] == "Tony Carter" and record["published"] == "2014-06-13"
    assert record["format"] == "html" and record["site"] == "MoreBikes" and record["language"] == "en-GB"
    assert record["title"].startswith("Clymer workshop manual review")
    assert "Working on your own bike" in record["text"] and "Tony Carter" not in record["text"]


# the byline and dateline stand under the standfirst, inside the article: no front-matter rule reaches them
NEWS_TXT = """Harbour Bridge Reopens After Repairs

Eleven months of work on the city's oldest crossing ended a fortnight early, and the ferries that carried its commuters meanwhile go back to their summer timetable.

By Jane Holloway jane.holloway@example.com

Published 7:07 PM EST Tuesday, March 5, 2019

The harbour bridge reopened to traffic on Tuesday after eleven months of repairs, the city's transport office said, two weeks ahead of the schedule set last spring.

Engineers replaced the bridge's steel deck and repainted its towers, and the city says the work cost 41 million dollars, slightly less than the sum the council had set aside for it.

Commuters who had taken the ferry during the closure said they were glad to have the shorter crossing back, though some said they would keep the ferry for the view.
"""


def test_byline_of_a_plain_text_news_article_is_metadata_not_evidence(tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "bridge.txt").write_text(NEWS_TXT, encoding="utf-8")
    data, _ = open_or_build(Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index"), embedder)
    indexed = " ".join(c.text for c in data.chunks)
    assert "harbour bridge reopened" in indexed.lower()
    for furniture in ("Holloway", "holloway@example.com", "7:07 PM", "Published"):
        assert furniture not in indexed
    meta = data.manifest["files"]["bridge.txt"]["meta"]
    assert meta["author"] == "Jane Holloway" and meta["published"] == "2019-03-05"


def test_metadata_is_stored_in_the_postgresql_store_too(tmp_path, embedder, pg_url):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "bridge.txt").write_text(NEWS_TXT, encoding="utf-8")
    data, _ = open_or_build(Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index", store=pg_url), embedder)
    assert data.manifest["files"]["bridge.txt"]["meta"]["author"] == "Jane Holloway"
    assert "Holloway" not in " ".join(c.text for c in data.chunks)


def test_a_byline_line_is_dropped_in_markdown_too(tmp_path):
    """News rules by what a page is, not its file type: the same article as Markdown loses its byline."""
    page = tmp_path / "bridge.md"
    page.write_text(NEWS_TXT.replace("Harbour Bridge Reopens After Repairs", "# Harbour Bridge Reopens After Repairs"))
    record = describe(page)
    assert "Holloway" not in record["text"] and "7:07" not in record["text"]
    assert "The harbour bridge reopened" in record["text"]


def test_who_wrote_and_when_published_are_answered_from_the_metadata(tmp_path, corpus_copy):
    from rag.engine.pipeline import Pipeline

    (corpus_copy / "bridge.txt").write_text(NEWS_TXT, encoding="utf-8")
    pipeline = Pipeline(Settings.from_env(corpus_dir=corpus_copy, index_dir=tmp_path / "index"))
    who = pipeline.answer("Who wrote the article about the harbour bridge repairs?", use_llm=False)
    assert not who.refused and who.short == "Jane Holloway" and "Jane Holloway" in who.answer
    assert who.citations[0].source == "bridge.txt"  # cited to the document retrieval found
    when = pipeline.answer("When was the article about the harbour bridge published?", use_llm=False)
    assert not when.refused and when.short == "2019-03-05" and when.citations[0].source == "bridge.txt"
    # a content question's source line names the document's author and date
    fact = pipeline.answer("How much did the bridge repairs cost?", use_llm=False)
    assert fact.citations[0].source == "bridge.txt" and fact.citations[0].byline == "Jane Holloway, 2019-03-05"
    # a document that names no author says so instead of guessing
    other = pipeline.answer("Who wrote the article about Huawei and the EU?", use_llm=False)
    assert other.refused


def test_an_article_page_whose_body_is_not_found_keeps_the_whole_page(tmp_path):
    """Nothing is lost: an article page too short for trafilatura to find a body falls back to the whole-page
    walk (never an exception, never an empty document)."""
    page = tmp_path / "short.html"
    page.write_text("<html><head><meta property='og:type' content='article'><title>Note</title></head><body>"
                    "<article><h1>Note</h1><p>The depot opens at nine on weekdays.</p></article></body></html>")
    doc = parse(page)
    assert not doc.article_body
    assert "The depot opens at nine on weekdays." in describe(page)["text"]


def test_word_and_pdf_metadata_come_from_their_properties(tmp_path):
    import datetime

    import docx
    import pypdfium2 as pdfium
    from pypdf import PdfWriter

    from rag.index.parse.meta import pdf_meta

    word = docx.Document()
    word.core_properties.author = "Jane Holloway"
    word.core_properties.title = "Harbour Bridge Reopens"
    word.core_properties.created = datetime.datetime(2019, 3, 5, 9, 30)
    word.core_properties.language = "en-GB"
    word.add_paragraph("The harbour bridge reopened to traffic on Tuesday after eleven months of repairs.")
    word.save(tmp_path / "bridge.docx")
    record = describe(tmp_path / "bridge.docx")
    assert (record["author"], record["published"], record["title"], record["language"]) == (
        "Jane Holloway", "2019-03-05", "Harbour Bridge Reopens", "en-GB")

    pdf = PdfWriter()
    pdf.add_blank_page(width=200, height=200)
    pdf.add_metadata({"/Author": "Jane Holloway", "/Title": "Harbour Bridge Reopens",
                      "/CreationDate": "D:20190305093000Z"})
    with open(tmp_path / "bridge.pdf", "wb") as f:
        pdf.write(f)
    # (a blank page has no text to index, so the information dictionary is read as parse_pdf reads it)
    info = pdfium.PdfDocument(str(tmp_path / "bridge.pdf")).get_metadata_dict()
    meta = pdf_meta(info, info.get("Title", ""))
    assert (meta.author, meta.published, meta.title) == ("Jane Holloway", "2019-03-05", "Harbour Bridge Reopens")
