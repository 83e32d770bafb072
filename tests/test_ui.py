"""The web chat in a real browser: Playwright driving Debian's Chromium against `rag ui` on loopback.

Screenshots land in tests/artifacts/ (git-ignored) for a person to look at.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rag.engine.prompts import CANNOT_ANSWER_PHRASE

from tests.conftest import CORPUS
from tests.test_parse import article_pdf  # noqa: F401  (a fixture: the article printed to PDF by Chromium

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).parent / "artifacts"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (make browser)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LISBON = ("# Lisbon summit\n\nThe ministers met in Lisbon on a rainy Tuesday and agreed a common 5G vendor review"
          " by the end of the year.\n")
MANUAL = """# Harbour depot manual

## How to open the north gate

The north gate opens with the brass key kept in the harbour master's office, after the tide bell rings twice.

## Who keeps the depot?

The depot is kept by Marta Quintela, who has run it since the spring flood of 2009.
"""


def ferry_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.add_heading("Tagus ferries", level=0)
    d.add_heading("Ferry timetable", level=1)
    d.add_paragraph("The ferries to Cacilhas are run by Transtejo, a company owned by the city of Lisbon, from Cais do Sodré.")
    d.add_paragraph("Bicycles travel free outside the morning rush.", style="List Bullet")
    d.save(path)
    return path


def start_ui(corpus: Path, index: Path, registry: Path | None = None, extra=()) -> dict:
    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    if registry is not None:
        env["RAG_COLLECTIONS_FILE"] = str(registry)
    proc = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "rag"), "ui", "--port", str(port), "--corpus", str(corpus),
         "--index", str(index), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: [lines.append(line) for line in proc.stdout], daemon=True).start()
    deadline = time.time() + 240
    while not any("Running on local URL" in line for line in lines):
        assert proc.poll() is None, "".join(lines)
        assert time.time() < deadline, "".join(lines)
        time.sleep(0.5)
    return {"url": f"http://127.0.0.1:{port}", "corpus": corpus, "index": index, "log": lines, "proc": proc}


def stop_ui(server: dict) -> None:
    server["proc"].terminate()
    server["proc"].wait(timeout=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory, shared_index, article_pdf):  # noqa: F811
    """`rag ui` on a copy of the corpus (uploads and removals must not touch the repo's corpus/), with a second
    collection, "manuals": the Huawei article printed to PDF, the same article as a Word file, and a Markdown manual."""
    corpus = tmp_path_factory.mktemp("ui") / "corpus"
    shutil.copytree(CORPUS, corpus)
    index = tmp_path_factory.mktemp("ui-index")
    shutil.copytree(shared_index, index, dirs_exist_ok=True)  # re-use the session's index: no re-embedding
    manuals = tmp_path_factory.mktemp("manuals")
    shutil.copy(article_pdf, manuals / "huawei.pdf")
    ferry_docx(manuals / "ferry.docx")
    (manuals / "depot.md").write_text(MANUAL)
    registry = tmp_path_factory.mktemp("registry") / "collections.json"
    from rag.serve import registry as collections
    from rag.config import Settings

    collections.add(Settings.from_env(collections_file=registry), "manuals", manuals)
    server = start_ui(corpus, index, registry)
    yield {**server, "manuals": manuals, "registry": registry}
    stop_ui(server)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.requests = []
    page.on("request", lambda r: page.requests.append(r.url))
    page.goto(server["url"])
    page.wait_for_selector("#question textarea")
    page.wait_for_selector("body[data-rag-ready]", state="attached")  # this browser's chats are loaded
    yield page
    outside = [u for u in page.requests if not re.match(r"^(https?|wss?)://127\.0\.0\.1:\d+/|^(data|blob):", u)]
    context.close()
    assert not outside, f"the page made outside requests: {outside[:5]}"


def ask(page, question: str, timeout=90_000):
    page.fill("#question textarea", question)
    page.click("#ask")
    page.wait_for_function(
        """([q, phrase]) => {
            const t = document.querySelector('#chat').innerText;
            return t.includes(q) && (t.includes('[1]') || t.includes(phrase) || t.includes('⚠')) && !t.includes('▌') && !t.includes('Searching the ');
        }""",
        arg=[question, CANNOT_ANSWER_PHRASE], timeout=timeout,
    )


FOUNDER_QUOTE = "Ren Zhengfei, the founder of Huawei"


def visible_count(page, text: str) -> int:
    """How many times `text` is on screen (hidden tabs and elements do not count: innerText skips them)."""
    return page.evaluate("t => document.body.innerText.split(t).length - 1", text)


def test_answer_streams_with_citation_and_opens_the_source(page):
    page.evaluate("""() => {
        window.__seen = new Set();
        new MutationObserver(() => window.__seen.add(document.querySelector('#chat').innerText))
            .observe(document.querySelector('#chat'), {subtree: true, childList: true, characterData: true});
    }""")
    ask(page, "Who is the founder of Huawei?")
    chat = page.inner_text("#chat")
    assert "Ren Zhengfei — " in chat and "[1] [1]" not in chat  # short answer, then its sentence, marked once
    assert "[1] 001_2cf39cb89ea2da08.txt · line 35" in chat  # one compact line per source
    seen = page.evaluate("() => Array.from(window.__seen)")
    assert any("Searching the documents" in s for s in seen), "the answer arrived without any intermediate state"
    # the cited sentence is on screen once: in the answer, not again in a list of quotes or in the Sources tab
    assert visible_count(page, FOUNDER_QUOTE) == 1
    assert "001_2cf39cb89ea2da08.txt · line 35" in page.inner_text("#sources")
    page.screenshot(path=str(ARTIFACTS / "answer.png"), full_page=True)

    page.locator("#chat a.cite").first.click()  # the [1] marker in the answer
    page.wait_for_selector("#article mark.cited")
    cited = page.locator("#article mark.cited")
    assert FOUNDER_QUOTE in cited.inner_text()
    assert "001_2cf39cb89ea2da08.txt" in page.inner_text("#article .article-title")
    page.wait_for_timeout(400)
    in_view = page.evaluate("""() => {
        const m = document.querySelector('#article mark.cited').getBoundingClientRect();
        const box = document.querySelector('#article .article').getBoundingClientRect();
        return m.top >= box.top - 1 && m.bottom <= box.bottom + 1;
    }""")
    assert in_view, "the cited passage was not scrolled into view"
    assert page.locator("#article .ln").count() > 100  # the whole article, line-numbered
    page.screenshot(path=str(ARTIFACTS / "source_viewer.png"), full_page=True)


def test_copy_gives_the_answer_and_its_sources_as_text(browser, server):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(server["url"])
    page.wait_for_selector("body[data-rag-ready]", state="attached")
    ask(page, "Who is the founder of Huawei?")
    page.locator("#chat a.copy-answer").last.click()
    page.wait_for_selector("#chat a.copy-answer >> text=Copied")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    context.close()
    assert copied.startswith("Ren Zhengfei — ") and "<" not in copied
    assert "\n\n[1] 001_2cf39cb89ea2da08.txt · line 35" in copied


def test_unanswerable_is_declined_with_closest_passages(page):
    ask(page, "Who won the 2018 FIFA World Cup?")
    assert CANNOT_ANSWER_PHRASE in page.inner_text("#chat")
    sources = page.inner_text("#sources")
    assert "Declined." in sources and "Closest passages" in sources
    page.screenshot(path=str(ARTIFACTS / "declined.png"), full_page=True)


def test_follow_up_uses_the_conversation(page):
    ask(page, "Who is Britain's national security adviser?")
    first = page.inner_text("#chat")
    assert "criminal hackers" not in first.lower()  # the follow-up's answer is not already on screen
    ask(page, "What does he say is the biggest threat?")
    assert "criminal hackers" in page.inner_text("#chat").lower()


def test_empty_question_shows_a_message(page):
    page.fill("#question textarea", "   ")
    page.click("#ask")
    page.wait_for_selector("#notice >> text=the question is empty", timeout=10_000)
    assert "the question is empty" not in page.inner_text("#chat")
    page.fill("#question textarea", "Who is the founder of Huawei?\x07 " + "and more " * 200)
    page.click("#ask")
    page.wait_for_selector("#notice >> text=trimmed", timeout=10_000)


def test_two_tabs_at_once_each_get_their_own_answer(browser, server):
    contexts = [browser.new_context(viewport={"width": 390, "height": 844}) for _ in range(2)]  # phone-width, too
    pages = [c.new_page() for c in contexts]
    for p in pages:
        p.goto(server["url"])
        p.wait_for_selector("#question textarea")
    questions = ["Who is the U.S. ambassador to Germany?", "How many deals had Huawei announced?"]
    for p, q in zip(pages, questions):
        p.fill("#question textarea", q)
    for p in pages:
        p.click("#ask")
    for p, q in zip(pages, questions):
        p.wait_for_function("q => { const t = document.querySelector('#chat').innerText; return t.includes(q) && t.includes('[1]') && !t.includes('▌'); }",
                            arg=q, timeout=120_000)
    a, b = (p.inner_text("#chat") for p in pages)
    assert "Grenell" in a and questions[1] not in a
    assert "91" in b and questions[0] not in b
    pages[1].screenshot(path=str(ARTIFACTS / "phone.png"), full_page=True)
    for c in contexts:
        c.close()


def test_upload_checks_type_and_indexes_new_files(page, server, tmp_path):
    page.click("button[role=tab]:has-text('Corpus')")
    bad = tmp_path / "notes.zip"
    bad.write_bytes(b"PK not really")
    page.set_input_files("#upload input[type=file]", str(bad))
    page.wait_for_selector("text=Invalid file type: notes.zip", timeout=30_000)  # refused in the page
    assert not (server["corpus"] / "notes.zip").exists()
    broken = tmp_path / "notes.pdf"  # a PDF is accepted; one that is not readable is skipped, with the reason
    broken.write_bytes(b"%PDF-1.4 not really")
    page.set_input_files("#upload input[type=file]", str(broken))
    page.wait_for_selector("#corpus-note >> text=not a readable PDF", timeout=120_000)

    good = tmp_path / "lisbon.md"
    good.write_text("# Lisbon summit\n\nThe ministers met in Lisbon on a rainy Tuesday and agreed a common 5G vendor review by the end of the year.\n")
    page.set_input_files("#upload input[type=file]", str(good))
    page.wait_for_selector("#corpus-note >> text=added lisbon.md", timeout=120_000)
    page.wait_for_selector("#corpus-table >> text=lisbon.md", timeout=30_000)
    assert (server["corpus"] / "lisbon.md").exists()
    page.screenshot(path=str(ARTIFACTS / "corpus.png"), full_page=True)

    page.click("button[role=tab]:has-text('Sources')")
    ask(page, "Where did the ministers meet?")
    assert "lisbon.md" in page.inner_text("#chat")


def _upload(page, path: Path, expect: str):
    page.set_input_files("#upload input[type=file]", str(path))
    page.wait_for_selector(f"#corpus-note >> text={expect}", timeout=120_000)
    if expect.startswith(("added", "replaced")):  # the note says so at once; the index is rebuilt after it
        page.wait_for_function("() => /Index:|⚠/.test(document.querySelector('#corpus-note').innerText)", timeout=300_000)


def test_upload_never_writes_through_a_symlink_nor_replaces_silently(page, server, tmp_path):
    corpus = server["corpus"]
    outside = tmp_path / "outside.txt"
    outside.write_text("A file outside the corpus; an upload must never change it.\n")
    link = corpus / "harbour-notes.txt"
    link.symlink_to(outside)
    try:
        page.click("button[role=tab]:has-text('Corpus')")
        first, second = tmp_path / "a", tmp_path / "b"
        first.mkdir(), second.mkdir()
        (first / "harbour-notes.txt").write_text("Uploaded text that must not land outside the corpus folder.\n")
        _upload(page, first / "harbour-notes.txt", "symbolic link")
        assert outside.read_text() == "A file outside the corpus; an upload must never change it.\n"
        assert link.is_symlink() and os.readlink(link) == str(outside)

        (first / "harbour.md").write_text("# Harbour\n\nThe harbour of Tromsø opened a new ferry quay in the spring.\n")
        (second / "harbour.md").write_text("# Harbour\n\nThe harbour of Tromsø closed its old ferry quay in the autumn.\n")
        _upload(page, first / "harbour.md", "added harbour.md")
        _upload(page, second / "harbour.md", "already in the corpus")  # not replaced, and told how to
        assert "opened a new ferry quay" in (corpus / "harbour.md").read_text()
        page.check("#replace input")
        _upload(page, second / "harbour.md", "replaced harbour.md")
        assert "closed its old ferry quay" in (corpus / "harbour.md").read_text()
        assert not [p.name for p in corpus.iterdir() if p.name.startswith(".upload-")]  # no temporary file left
        page.uncheck("#replace input")
    finally:
        link.unlink()


def test_markup_in_a_document_never_becomes_an_element(page, server, tmp_path):
    """Escaped (`&lt;img …&gt;` in HTML, which its parser decodes to `<img …>`) and raw (`<img …>` in a text
    file) markup inside the passage an answer quotes: shown as text in the chat bubble and the sources, and no
    element is made, no script runs, no request leaves the page (the beacon is a loopback server of our own)."""
    import http.server

    hits: list[str] = []

    class Beacon(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    beacon = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Beacon)
    threading.Thread(target=beacon.serve_forever, daemon=True).start()
    at = f"http://127.0.0.1:{beacon.server_address[1]}"
    escaped = (f'&lt;img src="{at}/escaped.png" onerror="window.__pwned=1"&gt; &lt;script&gt;window.__pwned=2&lt;/script&gt; '
               f'&lt;a href="javascript:window.__pwned=3"&gt;the log&lt;/a&gt;')
    (tmp_path / "lighthouse.html").write_text(
        "<html><head><title>Lighthouse log</title></head><body><article><h1>Lighthouse log</h1>"
        f"<p>The keeper of the Svalbard lighthouse wrote {escaped} in the logbook on the night of the storm.</p>"
        "<p>The lighthouse was built in 1911 and its lamp was made electric in 1950, long after the storm.</p>"
        "</article></body></html>")
    raw = f'<img src="{at}/raw.png" onerror="window.__pwned=4"> <script>window.__pwned=5</script> <a href="javascript:window.__pwned=6">the ledger</a>'
    (tmp_path / "ferry.txt").write_text(
        f"The ferry clerk of Longyearbyen wrote {raw} in the ledger on the night of the blizzard.\n\n"
        "The ferry runs twice a week in winter and every day in summer.\n")
    page.click("button[role=tab]:has-text('Corpus')")
    _upload(page, tmp_path / "lighthouse.html", "added lighthouse.html")
    _upload(page, tmp_path / "ferry.txt", "added ferry.txt")
    for question, source, text in (
        ("What did the keeper of the Svalbard lighthouse write in the logbook on the night of the storm?",
         "lighthouse.html", f'<img src="{at}/escaped.png"'),
        ("What did the ferry clerk of Longyearbyen write in the ledger on the night of the blizzard?",
         "ferry.txt", f'<img src="{at}/raw.png"'),
    ):
        page.click("button[role=tab]:has-text('Sources')")
        ask(page, question)
        page.wait_for_timeout(1500)
        chat, sources = page.inner_text("#chat"), page.inner_text("#sources")
        # it reached the page: the passage with the markup is quoted in the bubble, as text, and cited
        assert source in chat and text in chat and "<script>" in chat, chat[-1500:]
        assert source in sources, sources[-1500:]
        # the document viewer, opened at the citation, shows the file's own text, inert too
        page.locator("#chat .rag-answer").last.locator("a.cite").first.click()
        page.wait_for_selector("#article mark.cited")
        page.wait_for_function("s => document.querySelector('#article .article-title').innerText.includes(s)", arg=source)
        page.wait_for_timeout(1000)
        assert text in page.inner_text("#article"), page.inner_text("#article")[-1500:]
        assert page.locator("#article img, #article script, #article a[href^='javascript']").count() == 0
        made = page.evaluate("""() => [...document.querySelectorAll('img, script, a, iframe, object, embed')]
            .map(e => e.outerHTML).filter(h => h.includes('pwned') || h.includes('javascript:') || h.includes('.png'))""")
        assert made == [], made
        assert page.evaluate("() => window.__pwned") is None
    beacon.shutdown()
    assert hits == [] and not [u for u in page.requests if at in u], (hits, page.requests)
    page.screenshot(path=str(ARTIFACTS / "markup.png"), full_page=True)


def test_hostile_text_renders_inert(page, server, tmp_path):
    """A document with script tags, an image beacon and Markdown images: shown as text, nothing runs or loads."""
    from tests.test_robustness import HOSTILE

    doc = tmp_path / "hostile.txt"
    doc.write_text(HOSTILE)
    page.click("button[role=tab]:has-text('Corpus')")
    page.set_input_files("#upload input[type=file]", str(doc))
    page.wait_for_selector("#corpus-note >> text=added hostile.txt", timeout=120_000)
    page.click("button[role=tab]:has-text('Sources')")
    ask(page, "What does the tracking pixel link say in Markdown?")
    page.wait_for_timeout(1000)
    # it reached the page: the hostile file was retrieved, and its markup is shown, as text
    shown = page.inner_text("#chat") + page.inner_text("#sources")
    assert "hostile.txt" in shown and "![tracking pixel](http://203.0.113.9/track.png)" in shown, shown[-800:]
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#chat img, #sources img, #sources script, #chat script").count() == 0
    page.screenshot(path=str(ARTIFACTS / "hostile.png"), full_page=True)
    # the page fixture then checks that no request left 127.0.0.1


def test_files_outside_the_corpus_cannot_be_fetched(server):
    import urllib.error
    import urllib.request

    secret = Path(__file__).resolve().parent.parent / "models.txt"
    for path in (f"/gradio_api/file={secret}", f"/file={secret}", "/gradio_api/file=/etc/passwd"):
        try:
            with urllib.request.urlopen(server["url"] + path, timeout=10) as r:
                body = r.read().decode(errors="replace")
                assert "sha256" not in body and "root:" not in body, path
        except urllib.error.HTTPError as e:
            assert e.code in (403, 404, 405), path


def run_load(pid: int, ask, questions: list[str], clients: int = 8) -> dict:
    """`clients` threads each calling ask(n, question) in a loop for RAG_LOAD_SECONDS (default 20): ask returns
    ("answered", result) after checking the response is a whole answer, or ("refused", status) for a clean
    refusal (a full queue); whatever it raises is a lost request. The server's RSS is sampled every second."""
    from concurrent.futures import ThreadPoolExecutor

    import psutil

    seconds = float(os.environ.get("RAG_LOAD_SECONDS", "20"))
    server_proc = psutil.Process(pid)
    rss_start = server_proc.memory_info().rss

    def client(n):
        sent, results = 0, []
        end = time.time() + seconds
        while time.time() < end:
            q = questions[(n + sent) % len(questions)]
            sent += 1
            t = time.time()
            try:
                kind, result = ask(n, q)
            except Exception as e:  # neither an answer nor a clean refusal: lost
                kind, result = "lost", f"{type(e).__name__}: {e}"
            results.append((kind, result, time.time() - t))
        return sent, results

    samples = []  # (seconds since start, server RSS MB): is memory flat once warm, not only at the end?
    start = time.time()

    def sample():
        while time.time() - start < seconds:
            samples.append((round(time.time() - start, 1), round(server_proc.memory_info().rss / 2**20)))
            time.sleep(1)

    with ThreadPoolExecutor(clients + 1) as pool:
        sampler = pool.submit(sample)
        outcomes = list(pool.map(client, range(clients)))
        sampler.result()
    sent = sum(s for s, _ in outcomes)
    results = [r for _, rs in outcomes for r in rs]
    latencies = sorted(t for _, _, t in results)
    return {"clients": clients, "seconds": seconds, "sent": sent, "results": results, "samples": samples,
            "rss_start": rss_start, "rss_end": server_proc.memory_info().rss,
            "p50_s": latencies[len(latencies) // 2], "p95_s": latencies[max(0, int(len(latencies) * 0.95) - 1)]}


def check_load(run: dict, artifact: str) -> list:
    """None lost, something answered, memory flat; the figures go to tests/artifacts/<artifact>. The answers."""
    import json
    from collections import Counter

    kinds = Counter(kind for kind, _, _ in run["results"])
    answered = [r for kind, r, _ in run["results"] if kind == "answered"]
    lost = [r for kind, r, _ in run["results"] if kind not in ("answered", "refused")]
    samples = run["samples"]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / artifact).write_text(json.dumps({
        "clients": run["clients"], "seconds": run["seconds"], "requests": run["sent"], "answered": len(answered),
        "refused": kinds["refused"], "lost": len(lost), "p50_s": run["p50_s"], "p95_s": run["p95_s"],
        "rss_start_mb": run["rss_start"] / 2**20, "rss_end_mb": run["rss_end"] / 2**20, "rss_samples": samples,
    }, indent=1))
    assert not lost, f"{len(lost)} of {run['sent']} requests lost: {lost[:3]}"
    assert kinds["answered"] + kinds["refused"] == run["sent"] == len(run["results"])
    assert answered, "nothing was answered"
    assert run["rss_end"] - run["rss_start"] < 300 * 2**20, "memory grew under load"
    # after the first half (caches warm), the second half may not keep growing
    half = [mb for t, mb in samples if t >= run["seconds"] / 2]
    assert max(half) - half[0] < 60, f"memory kept growing: {half[0]} -> {max(half)} MB"
    return answered


LOAD_QUESTIONS = ["Who is the founder of Huawei?", "Who won the 2018 FIFA World Cup?",
                  "Which country banned Huawei from its 5G networks last year?"]


def test_load_eight_clients_all_answered(server):
    """8 concurrent clients of the Gradio JSON endpoint for a bounded time (RAG_LOAD_SECONDS, default 20): every
    request answered or cleanly rejected, none lost; p95 and memory go to tests/artifacts/load.json."""
    import psutil
    from gradio_client import Client

    pid = next(p.pid for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] and server["url"].rsplit(":", 1)[1] in " ".join(p.info["cmdline"]))
    clients = {}

    def ask(n, q):  # Gradio's queue holds 32, more than 8 clients can fill: every request must be answered
        r = clients.setdefault(n, Client(server["url"], verbose=False)).predict(q, api_name="/ask")
        if not ("answer" in r and isinstance(r["refused"], bool) and (r["refused"] or r["citations"])):
            raise AssertionError(f"not an answer: {r}")
        return "answered", r

    check_load(run_load(pid, ask, LOAD_QUESTIONS), "load.json")


@pytest.fixture(scope="module")
def inproc(pipeline):
    """The page served in this process over the session's pipeline, so that a test can hold the model's lock."""
    from ui.app import App, serve

    app = App(pipeline)
    port = _free_port()
    demo = serve(app, port=port, prevent_thread_lock=True)
    yield {"app": app, "url": f"http://127.0.0.1:{port}"}
    demo.close()


def test_cancel_while_queued_cancels_and_frees_the_queue(browser, inproc):
    """With the model busy (its lock held), a question waits in the queue; Cancel must end it as "Cancelled."
    (never its answer, even once the model is free), and the next question is answered."""
    app = inproc["app"].service
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(inproc["url"])
    page.wait_for_selector("#question textarea")
    app.lock.acquire()
    try:
        page.fill("#question textarea", "What did China's ambassador to Berlin threaten?")
        page.click("#ask")
        deadline = time.time() + 60
        while app.admitted < 1:  # the question is in the queue, waiting for the model
            assert time.time() < deadline, "the question never reached the queue"
            time.sleep(0.05)
        page.click("#cancel")
        page.wait_for_function("() => document.querySelector('#chat').innerText.includes('Cancelled.')", timeout=30_000)
    finally:
        app.lock.release()
    deadline = time.time() + 30
    while app.admitted:  # the cancelled question leaves the queue without an answer
        assert time.time() < deadline, "the cancelled question stayed in the queue"
        time.sleep(0.05)
    page.wait_for_timeout(1000)
    chat = page.inner_text("#chat")
    assert "Cancelled." in chat and "[1]" not in chat and "threaten" in chat
    ask(page, "Who is the founder of Huawei?")
    assert "Ren Zhengfei — " in page.inner_text("#chat")
    context.close()


# ---- issue 18: the document at the cited place, collections, chats that persist, indexing one can follow ----

def choose(page, elem_id: str, option: str):
    """Pick `option` in a Gradio dropdown."""
    page.click(f"#{elem_id} input")
    page.locator("ul[role=listbox] li", has_text=option).first.click()


def choose_collection(page, name: str):
    choose(page, "collection", name)
    page.wait_for_function("n => document.querySelector('#title').innerText.includes(n)", arg=name, timeout=180_000)
    page.wait_for_function("n => document.title.startsWith(n)", arg=name, timeout=10_000)  # set right after the title


def cited_sources(page) -> list[str]:
    """The files the last answer's source lines name."""
    lines = page.locator("#chat .rag-answer").last.locator("a.src-line").all_inner_texts()
    return [line.split("] ", 1)[1].split(" · ")[0] for line in lines]


def test_pdf_citation_opens_the_rendered_page_with_the_passage_highlighted(page, server):
    choose_collection(page, "manuals")
    ask(page, "Who is the founder of Huawei?")
    assert cited_sources(page)[0] == "huawei.pdf"
    assert "huawei.pdf · p. " in page.inner_text("#chat")
    page.locator("#chat a.cite").first.click()
    page.wait_for_selector("#article img.pdf-img")
    page.wait_for_function("() => { const i = document.querySelector('#article img.pdf-img'); return i.complete && i.naturalWidth > 500; }")
    title = page.inner_text("#article .article-title")
    cited_page = int(re.search(r"page (\d+) of (\d+)", title).group(1))
    from rag.index.parse import parse

    doc = parse(server["manuals"] / "huawei.pdf")
    at = doc.text.index(FOUNDER_QUOTE)
    assert cited_page == doc.page_of(doc.text.count("\n", 0, at) + 1)  # the page that holds the quote
    boxes = page.locator("#article .pdf-hl")
    assert boxes.count() >= 1
    image = page.locator("#article img.pdf-img").bounding_box()
    first = boxes.first.bounding_box()
    assert first["width"] > 20 and first["height"] > 5  # a visible mark, inside the page image
    assert image["x"] <= first["x"] and first["y"] + first["height"] <= image["y"] + image["height"]
    # the extracted text of the page, beside it, with the cited lines marked
    assert FOUNDER_QUOTE.split(",")[0] in page.inner_text("#article .pdf-text mark.cited")
    page.locator("#article").screenshot(path=str(ARTIFACTS / "pdf_page.png"))
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "pdf_citation.png"), full_page=True)  # the README's screenshot (docs/screenshot.png)

    # page navigation: another page has no mark; back to the cited page, the mark again
    link = "Next ›" if cited_page < doc.pages else "‹ Previous"
    page.click(f"#article .pdf-nav a:has-text('{link}')")
    other = cited_page + 1 if link == "Next ›" else cited_page - 1
    page.wait_for_selector(f"#article .pdf-view[data-page='{other}']")
    assert page.locator("#article .pdf-hl").count() == 0
    page.click("#article .pdf-nav a:has-text('Back to the cited page')")
    page.wait_for_selector(f"#article .pdf-view[data-page='{cited_page}'] .pdf-hl")


def test_markdown_and_word_open_as_formatted_text(page):
    choose_collection(page, "manuals")
    ask(page, "Who keeps the depot?")
    assert cited_sources(page)[0] == "depot.md"
    page.locator("#chat .rag-answer").last.locator("a.src-line").first.click()  # the source line opens it too
    page.wait_for_selector("#article .formatted mark.cited")
    assert "Marta Quintela" in page.inner_text("#article mark.cited")
    viewer = page.inner_text("#article .formatted")
    assert "Who keeps the depot?" in viewer and "#" not in viewer  # headings as headings, not Markdown source
    assert page.locator("#article .formatted h3, #article .formatted h4").count() >= 2
    ask(page, "Who runs the ferries to Cacilhas?")
    assert cited_sources(page)[0] == "ferry.docx"
    page.locator("#chat .rag-answer").last.locator("a.cite").first.click()
    page.wait_for_function("() => document.querySelector('#article .article-title').innerText.includes('ferry.docx')")
    assert "Transtejo" in page.inner_text("#article mark.cited")
    headings = page.locator("#article .formatted h3, #article .formatted h4").all_inner_texts()
    assert headings == ["Tagus ferries", "Ferry timetable"]
    assert "• Bicycles travel free" in page.inner_text("#article .formatted")  # a list item, as one
    page.locator("#article").screenshot(path=str(ARTIFACTS / "formatted.png"))


def test_two_collections_answer_from_their_own_folders(page, server):
    import json
    import urllib.request

    ask(page, "Who is the founder of Huawei?")
    assert cited_sources(page)[0] == "001_2cf39cb89ea2da08.txt"
    assert "Ask about the documents" in page.get_attribute("#question textarea", "placeholder")
    choose_collection(page, "manuals")
    assert page.title().startswith("manuals")
    assert "Ren Zhengfei" not in page.inner_text("#chat")  # a new chat for the other folder
    ask(page, "Who is the founder of Huawei?")
    assert cited_sources(page)[0] == "huawei.pdf"
    # the two chats are told apart in the list by their collections
    page.click("#chats input")
    listed = page.locator("ul[role=listbox] li").all_inner_texts()
    assert any(t.endswith(" · manuals") for t in listed) and any(not t.endswith(" · manuals") and " · " in t for t in listed)
    page.keyboard.press("Escape")
    # the corpus tab lists the chosen collection's files
    page.click("button[role=tab]:has-text('Corpus')")
    table = page.inner_text("#corpus-table")
    assert "depot.md" in table and "001_2cf39cb89ea2da08.txt" not in table

    # the API: each collection is a model
    with urllib.request.urlopen(server["url"] + "/v1/models", timeout=30) as r:
        assert [m["id"] for m in json.load(r)["data"]] == ["rag-documents", "manuals"]

    def api(model):
        body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Who keeps the depot?"}]}).encode()
        req = urllib.request.Request(server["url"] + "/v1/chat/completions", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=180) as r:
            return json.load(r)

    assert api("manuals")["citations"][0]["source"] == "depot.md"
    other = api("rag-documents")
    assert all(c["source"] != "depot.md" for c in other["citations"])


def test_examples_are_the_documents_own_questions(page):
    choose_collection(page, "manuals")
    page.wait_for_selector("#examples")
    examples = page.inner_text("#examples")
    assert "Who keeps the depot?" in examples and "How do I open the north gate?" in examples
    assert "What is “" not in examples  # no titles pasted into a template
    page.locator("#examples label", has_text="Who keeps the depot?").click()
    page.wait_for_function("() => document.querySelector('#question textarea').value === 'Who keeps the depot?'")


def test_chat_survives_a_reload_and_belongs_to_its_browser(browser, server):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(server["url"])
    page.wait_for_selector("body[data-rag-ready]", state="attached")
    ask(page, "Who is the founder of Huawei?")
    before = page.inner_text("#chat")
    page.reload()
    page.wait_for_selector("body[data-rag-ready]", state="attached")
    page.wait_for_function("() => document.querySelector('#chat').innerText.includes('Ren Zhengfei')", timeout=30_000)
    assert "Who is the founder of Huawei?" in page.inner_text("#chat")
    folder = page.input_value("#collection input")  # the server has two collections: each chat names its own
    assert page.input_value("#chats input") == f"Who is the founder of Huawei? · {folder}"
    page.screenshot(path=str(ARTIFACTS / "chat_after_reload.png"), full_page=True)
    # its citations still open the document
    page.locator("#chat a.cite").first.click()
    page.wait_for_selector("#article mark.cited")

    # a follow-up goes on in the same chat, which keeps its place in the list
    ask(page, "What does he say is the biggest threat?")
    page.click("text=Rename or delete this chat")
    page.fill("#chat-title input, #chat-title textarea", "Huawei's founder")
    page.click("#rename-chat")
    page.wait_for_function("v => document.querySelector('#chats input').value === v", arg=f"Huawei's founder · {folder}")

    # another browser sees none of it
    other = browser.new_context(viewport={"width": 1366, "height": 900})
    stranger = other.new_page()
    stranger.goto(server["url"])
    stranger.wait_for_selector("body[data-rag-ready]", state="attached")
    stranger.wait_for_timeout(500)
    assert "Ren Zhengfei" not in stranger.inner_text("#chat")
    stranger.click("#chats input")
    assert stranger.locator("ul[role=listbox] li", has_text="Huawei's founder").count() == 0
    other.close()

    # deleted, it can be brought back once
    page.click("#delete-chat")
    page.wait_for_function("() => !document.querySelector('#chat').innerText.includes('Ren Zhengfei')")
    assert "Huawei's founder" in page.inner_text("#undo-delete")
    page.click("#undo-delete")
    page.wait_for_function("() => document.querySelector('#chat').innerText.includes('Ren Zhengfei')", timeout=30_000)
    page.wait_for_function("v => document.querySelector('#chats input').value === v", arg=f"Huawei's founder · {folder}")
    page.wait_for_selector("#undo-delete", state="hidden")
    # deleted again and not brought back, it is gone after a reload too
    page.click("#delete-chat")
    page.wait_for_function("() => !document.querySelector('#chat').innerText.includes('Ren Zhengfei')")
    page.reload()
    page.wait_for_selector("body[data-rag-ready]", state="attached")
    page.wait_for_timeout(500)
    assert "Ren Zhengfei" not in page.inner_text("#chat") and before
    context.close()


def big_document(path: Path, mb: float = 10.5) -> Path:
    """A Markdown file over the old 10 MB limit: a few hundred distinct paragraphs to embed, and the rest of its
    size a run of spaces (padding, as a scanned report's images pad a PDF), which parsing skips."""
    paragraphs = [f"Shelf {i} of the harbour archive holds {i * 7 % 97 + 3} boxes of tide tables from the year {1800 + i},"
                  f" catalogued by clerk number {i * 13 % 89 + 10}." for i in range(400)]
    text = "# Harbour archive inventory\n\n" + "\n\n".join(paragraphs) + "\n\n"
    pad = int(mb * 2**20) - len(text.encode())
    path.write_text(text + " " * pad + "\n\nThe archive closes at dusk.\n")
    return path


def test_upload_over_ten_megabytes_is_indexed_with_visible_progress(page, server, tmp_path):
    big = big_document(tmp_path / "archive.md")
    assert big.stat().st_size > 10 * 2**20
    page.click("button[role=tab]:has-text('Corpus')")
    assert "up to 100 MB each" in page.inner_text("#upload")
    page.evaluate("""() => {
        window.__progress = [];
        new MutationObserver(() => window.__progress.push(document.querySelector('#index-progress').innerText))
            .observe(document.querySelector('#index-progress'), {subtree: true, childList: true, characterData: true});
    }""")
    page.set_input_files("#upload input[type=file]", str(big))
    page.wait_for_selector("#corpus-note >> text=added archive.md", timeout=300_000)
    page.wait_for_function("() => document.querySelector('#corpus-note').innerText.includes('Index:')", timeout=300_000)
    seen = page.evaluate("() => window.__progress")
    during = [s for s in seen if s.startswith("Indexing")]
    assert any("Files read:" in s for s in during), seen
    assert any("Chunks embedded:" in s and "chunks/s" in s for s in during + seen[-1:]), seen
    final = page.inner_text("#index-progress")
    assert final.startswith("Done") and re.search(r"Chunks embedded: 4\d\d of 4\d\d · \d+ chunks/s", final), final
    assert "archive.md" in page.inner_text("#corpus-table")
    page.screenshot(path=str(ARTIFACTS / "upload_progress.png"), full_page=True)
    (server["corpus"] / "archive.md").unlink()  # the other tests' corpus as it was


def test_corpus_table_fits_and_cleaning_report_opens(page):
    page.click("button[role=tab]:has-text('Corpus')")
    page.wait_for_selector("#corpus-table table")
    overflow = page.evaluate("""() => {
        const panel = document.querySelector('#corpus-table').getBoundingClientRect();
        const cut = [];
        for (const cell of document.querySelectorAll('#corpus-table th, #corpus-table td')) {
            const r = cell.getBoundingClientRect();
            if (r.right > panel.right + 1) cut.push('outside: ' + cell.innerText);
            for (const e of [cell, ...cell.querySelectorAll('*')]) {  // text clipped by any box inside the cell
                if (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible') cut.push('clipped: ' + e.innerText);
            }
        }
        return cut;
    }""")
    headers = page.locator("#corpus-table th").all_inner_texts()
    assert [h.strip() for h in headers[:5]] == ["file", "title", "chunks", "dropped", "indexed"], headers
    assert not overflow, f"cut off or outside the panel: {overflow[:5]}"
    page.click("text=Cleaning report")
    choose(page, "report-file", "000_f7ddb58f33c977c6.txt")
    page.wait_for_selector("#cleaning-report pre")
    report = page.inner_text("#cleaning-report")
    assert "000_f7ddb58f33c977c6.txt:" in report and "dropped" in report
    page.screenshot(path=str(ARTIFACTS / "corpus_report.png"), full_page=True)
