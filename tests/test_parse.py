"""Every format read from real files made here: a PDF printed by Chromium, a Word file written by python-docx,
Git's own HTML documentation; bad files skipped with a reason; chunks mapping back to lines and pages."""

import io
import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from rag.index.chunk import chunk
from rag.index.clean import clean, normal, repeated_blocks
from rag.config import Settings
from rag.index.corpus import load_corpus
from rag.index.build import open_or_build
from rag.index.parse import ParsedDoc, parse, parse_text

from tests.conftest import CORPUS, run_cli

CHROMIUM = "/usr/bin/chromium"
GIT_DOC = Path("/usr/share/doc/git-doc")
ARTICLE = "001_2cf39cb89ea2da08.txt"  # the article naming Ren Zhengfei as Huawei's founder
QUESTION = "Who is the founder of Huawei?"
GIT_SAMPLE = ["git-commit.html", "git-log.html", "gittutorial.html", "git-add.html", "git-rebase.html",
              "git-init.html", "gitglossary.html", "git-status.html", "howto/revert-a-faulty-merge.html"]

needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (make browser)")
needs_git_doc = pytest.mark.skipif(not GIT_DOC.is_dir(), reason="needs Debian's git-doc (make browser)")


def _norm(text: str) -> str:
    return " ".join(text.split())


def _article() -> tuple[str, list[str]]:
    """Title and paragraphs of the Huawei article, as the cleaner keeps them from the shipped text file."""
    cleaned = clean(parse(CORPUS / ARTICLE))
    return cleaned.title, [p.text for p in cleaned.paragraphs]


@pytest.fixture(scope="module")
def article_pdf(tmp_path_factory) -> Path:
    """The article rendered as HTML and printed to PDF by Chromium, as a person would save a web page."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("needs Debian's chromium (make browser)")
    import html

    work = tmp_path_factory.mktemp("print")
    title, paragraphs = _article()
    page = work / "article.html"
    page.write_text("<!doctype html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title></head>"
                    "<body style='font: 12pt Georgia, serif; max-width: 40em'><h1>" + html.escape(title) + "</h1>"
                    + "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs) + "</body></html>", encoding="utf-8")
    out = work / "huawei.pdf"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={work / 'profile'}",
         f"--print-to-pdf={out}", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    assert out.stat().st_size > 1000
    return out


def _article_docx(path: Path) -> Path:
    import docx

    title, paragraphs = _article()
    d = docx.Document()
    d.add_heading(title, level=0)
    d.add_heading("The campaign", level=1)
    for p in paragraphs[: len(paragraphs) // 2]:
        d.add_paragraph(p)
    d.add_heading("Where it stands", level=1)
    d.add_paragraph("Countries that have not banned Huawei", style="List Bullet")
    d.add_paragraph("Britain, Germany, India and the United Arab Emirates", style="List Bullet")
    for p in paragraphs[len(paragraphs) // 2 :]:
        d.add_paragraph(p)
    d.save(path)
    return path


def _page_of(pdf: Path, phrase: str) -> int:
    """The page a phrase is on, read independently of rag/parse (whitespace and line breaks aside)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        pages = [_norm(page.get_textpage().get_text_range()) for page in doc]
    finally:
        doc.close()
    found = [n for n, text in enumerate(pages, 1) if phrase in text]
    assert len(found) == 1, found
    return found[0]


def _ask(corpus: Path, index: Path) -> dict:
    out = run_cli("ask", "--json", "--corpus", str(corpus), "--index", str(index), QUESTION, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


@needs_chromium
def test_pdf_of_the_article_answers_with_its_page(article_pdf, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(article_pdf, corpus / "huawei.pdf")
    result = _ask(corpus, tmp_path / "index")
    assert "Ren Zhengfei" in result["answer"] and not result["refused"]
    cited = result["citations"][0]
    assert cited["source"] == "huawei.pdf"
    assert cited["page"] == _page_of(article_pdf, "Ren Zhengfei, the founder of Huawei")
    assert "Ren Zhengfei" in _norm(cited["quote"])
    # the cited lines are that page's lines holding the quote
    doc = parse(corpus / "huawei.pdf")
    page_lines = [line for i, line in enumerate(doc.text.split("\n"), 1) if doc.page_of(i) == cited["page"]]
    assert _norm(cited["quote"])[:30] in _norm(" ".join(page_lines[cited["start_line"] - 1 : cited["end_line"]]))
    out = run_cli("ask", "--corpus", str(corpus), "--index", str(tmp_path / "index"), QUESTION)
    assert f"huawei.pdf · p. {cited['page']}" in out.stdout  # the label a person reads


def test_docx_of_the_article_answers_citing_it(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _article_docx(corpus / "huawei.docx")
    doc = parse(corpus / "huawei.docx")
    kinds = [b.kind for b in doc.blocks]
    assert kinds.count("heading") == 3 and kinds.count("list_item") == 2
    result = _ask(corpus, tmp_path / "index")
    assert "Ren Zhengfei" in result["answer"] and not result["refused"]
    cited = result["citations"][0]
    assert cited["source"] == "huawei.docx" and "page" not in cited
    assert "Ren Zhengfei" in cited["quote"]
    assert cited["heading"].endswith("The campaign") or cited["heading"].endswith("Where it stands")
    assert cited["quote"] in doc.text.split("\n")[cited["start_line"] - 1]


def _encrypted(pdf: Path, out: Path) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(pdf))
    writer.encrypt("a secret password")
    writer.write(out)
    return out


def _scanned(out: Path) -> Path:
    """A page of text as pixels only: what a scanner gives."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (850, 1100), "white")
    ImageDraw.Draw(img).text((60, 60), "Ren Zhengfei is the founder of Huawei.", fill="black")
    img.save(out)
    return out


@needs_chromium
def test_bad_documents_are_skipped_with_a_reason_and_the_rest_indexed(article_pdf, tmp_path, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _encrypted(article_pdf, corpus / "locked.pdf")
    _scanned(corpus / "scanned.pdf")
    good = _article_docx(tmp_path / "good.docx").read_bytes()
    (corpus / "truncated.docx").write_bytes(good[: len(good) // 2])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "a zip file, not a Word document")
    (corpus / "renamed-zip.docx").write_bytes(buf.getvalue())
    (corpus / "not-a-pdf.pdf").write_text("just text with a .pdf name")
    shutil.copy(CORPUS / "002_b1afe3b024eb253c.txt", corpus / "good.txt")
    shutil.copy(article_pdf, corpus / "good.pdf")
    data, report = open_or_build(Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index"), embedder)
    reasons = dict(report.skipped)
    assert reasons["locked.pdf"] == "encrypted PDF (it needs a password)"
    assert reasons["scanned.pdf"].startswith("PDF without a text layer")
    assert reasons["truncated.docx"].startswith("not a readable Word document")
    assert reasons["renamed-zip.docx"].startswith("not a readable Word document")
    assert reasons["not-a-pdf.pdf"].startswith("not a readable PDF")
    assert {c.source for c in data.chunks} == {"good.txt", "good.pdf"}
    assert all(c.page >= 1 for c in data.chunks if c.source == "good.pdf")
    # one line each in `rag index`, the rest indexed
    out = run_cli("rag", "index", "--corpus", str(corpus), "--index", str(tmp_path / "index"))
    assert out.returncode == 0
    assert "skipped locked.pdf: encrypted PDF (it needs a password)" in out.stderr.splitlines()


@needs_chromium
def test_pdf_chunks_map_back_to_their_page_and_lines(article_pdf):
    doc = parse(article_pdf, "huawei.pdf")
    assert doc.pages >= 2
    cleaned = clean(doc)
    chunks = chunk(doc, cleaned, 400)
    pages: dict[int, list[str]] = {}
    for i, line in enumerate(doc.text.split("\n"), 1):
        pages.setdefault(doc.page_of(i), []).append(line)
    _, paragraphs = _article()
    for c in chunks:
        assert doc.text[c.start_char : c.end_char] == c.text
        lines = pages[c.page][c.start_line - 1 : c.end_line]
        assert c.text.split("\n")[0] in lines[0] and c.text.split("\n")[-1] in lines[-1]
    # every word of the article is in the PDF's chunks (the title is the heading trail)
    indexed = _norm(" ".join(c.text for c in chunks))
    for p in paragraphs:
        assert _norm(p)[:60] in indexed
    assert any(c.heading for c in chunks)


def test_markdown_blocks_keep_headings_lists_and_code():
    text = ("# Guide\n\nIntro paragraph that explains the tool in a sentence or two.\n\n## Install\n\n"
            "- first item\n- second item\n\n```sh\npip install thing\nthing --help\n```\n\n"
            "| a | b |\n|---|---|\n| 1 | 2 |\n")
    from rag.index.parse.markdown import markdown_blocks

    blocks, title = markdown_blocks(text)
    assert title == "Guide"
    assert [b.kind for b in blocks] == ["heading", "paragraph", "heading", "list_item", "list_item", "code", "table"]
    code = next(b for b in blocks if b.kind == "code")
    assert text[code.start_char : code.end_char] == "pip install thing\nthing --help" and code.start_line == 11
    doc = ParsedDoc("g.md", Path("g.md"), "0" * 64, text, "markdown", title, tuple(blocks))
    chunks = chunk(doc, clean(doc), 400)
    assert [(c.kind, c.heading) for c in chunks] == [("text", "Guide"), ("text", "Guide › Install"),
                                                     ("code", "Guide › Install"), ("table", "Guide › Install")]


def test_plain_text_indented_prose_is_text_and_indented_code_stays_code():
    """Man pages, licences and Debian NEWS files indent whole paragraphs: read as code, such a paragraph was never
    a statement (no answer, no summary point). Code keeps its marks: a prompt, braces, a comment."""
    text = ("DESCRIPTION\n"
            "       scp copies files between hosts on a network. It uses the SFTP protocol over a ssh(1)\n"
            "       connection for data transfer (such as RSA or Ed25519).\n\n"
            "     $ scp host:file.txt /tmp/\n\n"
            "     if (x < foo (y, z)) {\n       haha = bar[4] + 5;\n     }\n\n"
            "       Host old-host\n           HostkeyAlgorithms +ssh-rsa\n")
    doc = parse_text(text, "scp.txt")
    kinds = {text[b.start_char:b.end_char].split()[0]: b.kind for b in doc.blocks}
    assert kinds == {"DESCRIPTION": "heading", "scp": "paragraph", "$": "code", "if": "code", "Host": "code"}


def test_plain_text_underlined_lines_are_headings_at_their_underline_s_level():
    """makeinfo's plain text (the GNU manuals), reStructuredText and setext underline their headings: read as a
    paragraph "12.5 Test Releases ==================", a section had no heading to be found by."""
    text = ("12 Distributing Software Releases\n*********************************\n\n"
            "Releases are made from a clean checkout, and never from a developer's own tree.\n\n"
            "12.5 Test Releases\n==================\n\n"
            "Pretest releases go to the alpha server before each real release.\n\n"
            "A sentence\n---\n")  # a short rule under a long line underlines nothing
    doc = parse_text(text, "maintain.txt")
    headings = [(b.level, text[b.start_char:b.end_char]) for b in doc.blocks if b.kind == "heading"]
    assert headings == [(1, "12 Distributing Software Releases"), (2, "12.5 Test Releases")]
    trails = {c.text.split()[0]: c.heading for c in chunk(doc, clean(doc), 400)}
    assert trails["Pretest"] == "12 Distributing Software Releases › 12.5 Test Releases"


@pytest.mark.parametrize("opening, title", [
    # a licence's title block, its date making it look like a news page; the URL under it is no part of the name
    ("                    GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007\n"
     "                  http://www.gnu.org/licenses/\n\n", "GNU GENERAL PUBLIC LICENSE Version 3, 29 June 2007"),
    # a chapter of a manual, underlined; Emacs's mode line is not part of a NEWS file's name
    ("4 Program Behavior for All Programs\n***********************************\n\n", "4 Program Behavior for All Programs"),
    ("GNU gzip NEWS                                    -*- outline -*-\n\n", "GNU gzip NEWS"),
    # a rendered man page: the header line repeats the page's name; its NAME line says what it is
    ("CHMOD(1)                         User Commands                        CHMOD(1)\n\nNAME\n"
     "       chmod - change file mode bits\n\nSYNOPSIS\n       chmod [OPTION]... MODE[,MODE]... FILE...\n\n",
     "chmod - change file mode bits"),
])
def test_a_plain_text_is_titled_by_the_title_block_it_opens_with(opening, title):
    """A plain text's title was its first heading ("Preamble", "NAME") or its first sentence: no document question
    found "the GPL" or "the chmod man page" by its title."""
    body = "\n".join(["  The licenses for most software and other practical works are designed to take away your",
                      "  freedom to share and change the works, and this paragraph is the body of the text."] * 3)
    doc = parse_text(opening + "Preamble\n\n" + body + "\n", "doc.txt")
    assert clean(doc).title == title


def test_a_man_page_s_header_and_footer_lines_are_dropped_and_reported():
    """"TIMEOUT(1)  User Commands  TIMEOUT(1)" came back as the answer to "who wrote the timeout utility"."""
    text = ("TIMEOUT(1)                       User Commands                      TIMEOUT(1)\n\nNAME\n"
            "       timeout - run a command with a time limit\n\nAUTHOR\n       Written by Padraig Brady.\n\n"
            "GNU coreutils 9.1               September 2022                     TIMEOUT(1)\n")
    cleaned = clean(parse_text(text, "timeout.txt"))
    kept = " ".join(p.text for p in cleaned.paragraphs)
    assert "User Commands" not in kept and "September 2022" not in kept and "Written by Padraig Brady." in kept
    assert [d.reason for d in cleaned.dropped] == ["man page header or footer line"] * 2


@pytest.mark.parametrize("opening", [
    "Copyright (c) The Regents of the University of California.\nAll rights reserved.\n\n",  # a credit
    "tmux (3.3a-3) unstable; urgency=medium\n\n",  # a changelog entry heads the entry, not the file
    "We wrote this document for the people who run the servers.\n\n",  # a sentence
])
def test_a_plain_text_opening_with_no_title_block_is_not_titled_by_its_first_line(opening):
    doc = parse_text(opening + "Preamble\n\nThe text itself says what it has to say in a sentence or two here.\n", "doc.txt")
    assert clean(doc).title != " ".join(opening.split())


def test_plain_text_keeps_lists_short_lines_and_code_of_non_news_text():
    """What the news-page cleaner used to lose: bullets as "headlines", short lines as fragments, text before the
    first long paragraph as front matter, everything after a "Comments" line."""
    text = ("Setup notes\n\nInstall it first.\n\n- run the installer\n- reboot\n- log in again\n\n"
            "Comments\n\nThe second part of these notes is longer than the first and must not be cut off by the word above.\n\n"
            "    $ thing --version\n    thing 1.2\n\nDone.\n")
    doc = parse_text(text, "notes.txt")
    cleaned = clean(doc)
    kept = " ".join(p.text for p in cleaned.paragraphs)
    for words in ("Install it first.", "run the installer", "log in again", "The second part", "$ thing --version", "Done."):
        assert words in kept, words
    assert not cleaned.dropped and not cleaned.dropped_majority
    kinds = {p.text.split("\n")[0].strip(): p.kind for p in cleaned.paragraphs}
    assert kinds["$ thing --version"] == "code"
    chunks = chunk(doc, cleaned, 400)
    code = [c for c in chunks if c.kind == "code"]
    assert len(code) == 1 and "The second part" not in code[0].text  # never joined with prose
    # "Comments", a lone Title Case line, heads what follows it; "Setup notes" is not Title Case, so it is text
    assert [(c.heading, c.text.split()[0]) for c in chunks] == [
        ("", "Setup"), ("", "Install"), ("", "-"), ("Comments", "The"), ("Comments", "$"), ("Comments", "Done.")]


def test_cleaning_off_keeps_everything_and_nothing_is_lost_silently():
    doc = parse(CORPUS / "000_f7ddb58f33c977c6.txt")
    on, off = clean(doc), clean(doc, enabled=False)
    assert on.dropped and not off.dropped
    assert "Ghislaine Maxwell" in " ".join(p.text for p in off.paragraphs)
    # a page that is nothing but furniture is kept whole, with a note, rather than lost
    junk = parse_text("Skip to main content\n\nMenu\n\nSubscribe now\n", "junk.txt")
    cleaned = clean(junk)
    assert cleaned.paragraphs and cleaned.note.startswith("cleaning would have dropped all of it")


def _main_text(page: Path) -> list[tuple[str, str]]:
    """(tag, text) of every <p>, <li> and <pre> inside the page's main content, read with lxml on its own."""
    from lxml import html as lhtml

    raw = re.sub(r"^\s*<\?xml[^>]*\?>", "", page.read_text(encoding="utf-8"))
    root = lhtml.document_fromstring(raw)
    content = root.get_element_by_id("content", None)
    content = content if content is not None else root.body
    out = []
    for el in content.iter("p", "li", "pre"):
        if el.tag == "li" and el.find(".//p") is not None:
            continue  # its text is its <p>s
        text = el.text_content() if el.tag != "li" else "".join(el.itertext())
        if el.tag == "li":  # an <li>'s own text, without its nested lists
            text = "".join(t for t in [el.text or ""] + [
                (x.text_content() if x.tag not in ("ul", "ol", "dl", "pre", "div") else "") + (x.tail or "") for x in el])
        if text.strip():
            out.append((el.tag, text))
    return out


@needs_git_doc
def test_git_documentation_pages_reach_the_index_whole(tmp_path, embedder):
    corpus = copy_git_doc(tmp_path / "git-doc", GIT_SAMPLE)
    data, report = open_or_build(Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index"), embedder)
    assert not report.skipped and sorted(data.manifest["files"]) == sorted(GIT_SAMPLE)
    assert data.manifest["dropped_majority"] == 0
    for name in GIT_SAMPLE:
        meta = data.manifest["files"][name]
        chunks = [c for c in data.chunks if c.source == name]
        indexed = normal(" ".join(c.text for c in chunks))  # words only: punctuation and spacing aside
        # furniture shared by every page ("Part of the git(1) suite", "Last updated …") is dropped with its reason
        shared = [normal(d[3]) for d in meta["dropped"] if d[2].startswith("repeated in")]
        missing = [(tag, _norm(t)[:80]) for tag, t in _main_text(GIT_DOC / name)
                   if normal(t) not in indexed and normal(t)[:40] not in " ".join(shared)]
        assert not missing, (name, missing[:5])
        # <pre> blocks arrive as code chunks, with the heading they sit under
        pres = [_norm(t) for tag, t in _main_text(GIT_DOC / name) if tag == "pre"]
        code = _norm(" ".join(c.text for c in chunks if c.kind == "code"))
        assert all(p in code for p in pres), name
        # citations point into the HTML source: a chunk's first and last words are on its start and end lines there
        source = (GIT_DOC / name).read_text(encoding="utf-8").split("\n")
        for c in chunks:
            assert c.text.split()[0] in _unescape(source[c.start_line - 1]), (name, c.start_line, c.text[:60])
            assert c.text.split()[-1] in _unescape(source[c.end_line - 1]), (name, c.end_line, c.text[-60:])
    commit = [c for c in data.chunks if c.source == "git-commit.html"]
    assert any(c.heading.endswith("OPTIONS › -a, --all") and "automatically stage files" in c.text for c in commit)
    assert any(c.kind == "code" and "git reset --soft HEAD^" in c.text for c in commit)


def _unescape(line: str) -> str:
    """An HTML source line's text: tags removed, entities decoded."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", line))


def copy_git_doc(dst: Path, names=None) -> Path:
    """The Git documentation's HTML pages (all of them, or `names`) copied into a folder of their own."""
    for page in names or [p.relative_to(GIT_DOC).as_posix() for p in GIT_DOC.rglob("*.html")]:
        (dst / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(GIT_DOC / page, dst / page)
    return dst


@needs_git_doc
def test_whole_git_documentation_loses_no_page(tmp_path):
    """All 242 pages, parsed and cleaned as `rag index` does (without embedding, the slow part: the full
    `rag index` is measured in the README): every page keeps its text and none loses most of it."""
    corpus = copy_git_doc(tmp_path / "git-doc")
    docs, skipped = load_corpus(corpus, 64)
    assert len(docs) + len(skipped) == len(list(GIT_DOC.rglob("*.html"))) >= 200
    # index.html is git.html under another name: indexed once, under the first name
    assert all(s.reason.startswith("same content as ") for s in skipped), skipped
    repeated = repeated_blocks(docs)
    for doc in docs:
        cleaned = clean(doc, repeated)
        assert cleaned.paragraphs and not cleaned.dropped_majority and not cleaned.note, doc.source


def test_index_report_lists_what_was_dropped_and_no_clean_keeps_it(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / "000_f7ddb58f33c977c6.txt", corpus)
    (corpus / "notes.md").write_text("# Notes\n\n- buy milk\n- call Bob\n\n```\nmake test\n```\n", encoding="utf-8")
    index = tmp_path / "index"
    out = run_cli("rag", "index", "--report", "--corpus", str(corpus), "--index", str(index))
    assert out.returncode == 0, out.stderr
    # the related-headlines list: its lines, its reason, its first words
    assert "L37-L90  after the end of the article: “0:00 0:00 Close China and UK Signal" in out.stdout
    assert "notes.md: 2 chunks, 0 dropped" in out.stdout
    # most of 000 is that list: said on every run, and in the manifest
    assert "warning: 000_f7ddb58f33c977c6.txt: cleaning dropped 649 of its 1250 words" in out.stderr
    manifest = json.loads((index / (index / "CURRENT").read_text().strip() / "manifest.json").read_text())
    assert manifest["dropped_majority"] == 1 and manifest["files"]["000_f7ddb58f33c977c6.txt"]["dropped_majority"]
    out = run_cli("rag", "index", "--no-clean", "--corpus", str(corpus), "--index", str(index))
    assert out.returncode == 0 and "rebuilt: chunking settings changed" in out.stderr
    manifest = json.loads((index / (index / "CURRENT").read_text().strip() / "manifest.json").read_text())
    assert manifest["dropped_majority"] == 0 and manifest["files"]["000_f7ddb58f33c977c6.txt"]["dropped"] == []
    out = run_cli("rag", "index", "--corpus", str(corpus), "--index", str(index), env={"RAG_CLEAN": "0"})
    assert "up to date" in out.stdout  # RAG_CLEAN=0 is the same setting


@needs_chromium
def test_article_viewer_shows_the_pdf_page_by_page_with_the_passage_marked(article_pdf):
    from ui.render import article_html

    doc = parse(article_pdf, "huawei.pdf")
    at = doc.text.index("Ren Zhengfei, the founder")
    line = doc.text.count("\n", 0, at) + 1
    page, start = doc.page_of(line), doc.file_line(line)
    html = article_html(article_pdf, "huawei.pdf", start, start, page)
    assert html.count("class='page-head'") == doc.pages
    marked = re.findall(r"<mark class='cited'>(.*?)</mark>", html)
    assert len(marked) == 1 and marked[0].startswith("Ren Zhengfei, the founder")
    assert html.index(f"data-page='{page}'") < html.index("<mark") < (html.index(f"data-page='{page + 1}'") if page < doc.pages else len(html))


NEWS_PAGE = """<!doctype html><html><head><title>Big news today</title></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/a">World</a></li><li><a href="/b">Business</a></li></ul></nav>
<header><h1>Big news today</h1><p>By Jane Doe</p></header>
<main><article>
<p>The first paragraph of the article is long enough to be an article paragraph, with several words in it.</p>
<figure><img src="x.png"><figcaption>A photo of something, REUTERS/Someone</figcaption></figure>
<h2>Details</h2>
<p>The second paragraph explains the details of the story, and it is also long enough to count as text.</p>
<pre><code>$ some --command
output line</code></pre>
<table><tr><th>Year</th><th>Deals</th></tr><tr><td>2019</td><td>91</td></tr></table>
</article>
<aside><h3>Related</h3><ul><li><a href="/1">Other story one</a></li><li><a href="/2">Other story two</a></li></ul></aside>
</main>
<footer><p>Copyright 2026 The Paper. All rights reserved.</p></footer>
</body></html>
"""


def test_html_page_furniture_is_dropped_by_structure_and_the_article_kept(tmp_path):
    page = tmp_path / "news.html"
    page.write_text(NEWS_PAGE)
    doc = parse(page)
    assert len(doc.text.split("\n")) == len(NEWS_PAGE.split("\n"))  # the text sits on the source's own lines
    cleaned = clean(doc)
    assert {d.reason for d in cleaned.dropped} == {"navigation", "page header", "image caption or credit",
                                                    "sidebar (aside)", "page footer"}
    chunks = chunk(doc, cleaned, 400)
    assert [(c.kind, c.start_line, c.heading) for c in chunks] == [
        ("text", 5, "Big news today"), ("text", 8, "Big news today › Details"),
        ("code", 9, "Big news today › Details"), ("table", 11, "Big news today › Details")]
    assert chunks[2].text == "$ some --command\noutput line" and chunks[3].text == "Year | Deals | 2019 | 91"
    assert cleaned.title == "Big news today" and not cleaned.dropped_majority


_words = st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta", "Omega", "x1", "B2B", "said.", "it,"]), min_size=1, max_size=12)
_inline = _words.map(" ".join)
_html_block = st.one_of(
    st.tuples(st.just("p"), st.lists(_inline, min_size=1, max_size=4)),
    st.tuples(st.just("li"), st.lists(_inline, min_size=1, max_size=2)),
    st.tuples(st.just("pre"), st.lists(_inline, min_size=1, max_size=3)),
    st.tuples(st.sampled_from(["h1", "h2", "h3"]), st.lists(_inline, min_size=1, max_size=1)),
)


def _render(blocks, breaks) -> str:
    out = ["<html><head><title>t</title></head><body>"]
    for (tag, parts), brk in zip(blocks, breaks):
        sep = "\n" if brk else " "
        inner = sep.join(f"<em>{p}</em>" if i % 2 else p for i, p in enumerate(parts)) if tag != "pre" else "\n".join(parts)
        out.append(f"<ul><li>{inner}</li></ul>" if tag == "li" else f"<{tag}>{inner}</{tag}>")
    return "\n".join(out + ["</body></html>"])


@hsettings(max_examples=60, deadline=None)
@given(st.lists(_html_block, min_size=1, max_size=12), st.lists(st.booleans(), min_size=12, max_size=12),
       st.integers(min_value=40, max_value=300))
def test_html_chunks_map_back_to_their_source_lines(blocks, breaks, size):
    page = _render(blocks, breaks)
    doc = ParsedDoc("p.html", Path("p.html"), "0" * 64, *_html(page))
    source = page.split("\n")
    assert len(doc.text.split("\n")) == len(source)
    for c in chunk(doc, clean(doc, enabled=False), size):
        assert doc.text[c.start_char : c.end_char] == c.text
        assert c.text.split()[0] in _unescape(source[c.start_line - 1])
        assert c.text.split()[-1] in _unescape(source[c.end_line - 1])
        assert c.end_line - c.start_line == c.text.count("\n")


def _html(page: str):
    from rag.index.parse.html import parse_html

    text, blocks, title, *_ = parse_html(page)
    return text, "html", title, tuple(blocks)
