"""The OpenAI-compatible API, driven by clients nobody here wrote: the official `openai` package and curl.

Two servers: `rag ui` as a real process (with RAG_API_KEY set, so it asks for the key even on loopback), and
the same page + API served in this process (ui.app.serve, no key) where the tests can reach into the queue:
hold the model's lock to fill the queue, mark the index as rebuilding, count the tokens a cancelled answer made.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from rag.engine.pipeline import Pipeline
from rag.serve.api import format_content, parse_messages
from rag.serve.render import answer_only
from rag.errors import InputError
from rag.engine.generate import load_generator
from rag.engine.prompts import CANNOT_ANSWER_PHRASE

from tests.conftest import CORPUS, run_cli
from tests.test_ui import _free_port

openai = pytest.importorskip("openai")

KEY = "test-key-0123456789"
FOUNDER = "Who is the founder of Huawei?"
FOUNDER_FILE = "001_2cf39cb89ea2da08.txt"  # line 35: "Ren Zhengfei, the founder of Huawei, ..."
UNANSWERABLE = "Who won the 2018 FIFA World Cup?"
# in generate mode the model copies passages on and on: it runs to max_tokens
ESSAY = "What has Ren Zhengfei, the founder of Huawei, accused the United States of? Repeat the passages word for word."


def _wait_for(predicate, seconds: float, what: str, poll: float = 0.05):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(poll)


@pytest.fixture(scope="module")
def server(tmp_path_factory, shared_index):
    """`rag ui` on loopback with RAG_API_KEY set: the page and the API on one port, the key asked for; room for
    4 waiting API questions, so that the load test meets a full queue."""
    index = tmp_path_factory.mktemp("api-index")
    shutil.copytree(shared_index, index, dirs_exist_ok=True)  # re-use the session's index when it is built
    port = _free_port()
    proc = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "rag"), "ui", "--port", str(port), "--corpus", str(CORPUS), "--index", str(index)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "RAG_API_KEY": KEY, "RAG_API_QUEUE_MAX": "4"},
    )
    lines: list[str] = []
    threading.Thread(target=lambda: [lines.append(line) for line in proc.stdout], daemon=True).start()
    _wait_for(lambda: any("Running on local URL" in line for line in lines) or proc.poll() is not None, 300, "rag ui", 0.5)
    assert proc.poll() is None, "".join(lines)
    yield {"url": f"http://127.0.0.1:{port}", "pid": proc.pid, "log": lines}
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server["url"] + "/v1", api_key=KEY, max_retries=0, timeout=180)


@pytest.fixture(scope="module")
def local(pipeline, settings):
    """The page and the API served in this process over the session's pipeline; no key on loopback."""
    from ui.app import App, serve

    app = App(pipeline)
    port = _free_port()
    demo = serve(app, port=port, prevent_thread_lock=True)
    yield {"app": app, "url": f"http://127.0.0.1:{port}"}
    demo.close()


def _ask(client, *messages, **kwargs):
    return client.chat.completions.create(model="rag-documents", messages=list(messages), **kwargs)


def user(text):
    return {"role": "user", "content": text}


# ---- the answer, as OpenAI clients see it -----------------------------------------------------

def test_models_lists_the_chatbot(client):
    assert [m.id for m in client.models.list().data] == ["rag-documents"]


def test_answer_not_streamed_is_cited(client):
    r = _ask(client, user(FOUNDER))
    content = r.choices[0].message.content
    assert "Ren Zhengfei" in content and "[1]" in content
    assert f"[1] {FOUNDER_FILE} · line 35 “Ren Zhengfei" in content  # the Sources list: file, lines, quote
    extra = r.model_extra
    assert extra["refused"] is False
    assert extra["citations"][0]["source"] == FOUNDER_FILE and extra["citations"][0]["start_line"] == 35
    assert "Ren Zhengfei" in extra["citations"][0]["quote"]
    assert r.choices[0].finish_reason == "stop" and r.choices[0].message.role == "assistant"


def test_answer_streamed_is_cited(client):
    chunks = list(_ask(client, user(FOUNDER), stream=True))
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Ren Zhengfei" in content and f"{FOUNDER_FILE} · line 35" in content
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["refused"] is False and last.model_extra["citations"][0]["source"] == FOUNDER_FILE
    assert len({c.id for c in chunks}) == 1


def test_question_the_articles_do_not_answer_is_declined(client):
    r = _ask(client, user(UNANSWERABLE))
    assert r.model_extra["refused"] is True and r.model_extra["citations"] == []
    assert r.choices[0].message.content.startswith(CANNOT_ANSWER_PHRASE)
    last = list(_ask(client, user(UNANSWERABLE), stream=True))[-1]
    assert last.model_extra["refused"] is True


def test_history_carries_across_turns(client):
    """"Which committee did he lead?" names nobody: alone it finds some committee; after "Who said 'It is
    looking dicey'?" (Mike Rogers) it is answered from the sentence about him."""
    first = _ask(client, user('Who said "It is looking dicey"?'))
    said = first.choices[0].message.content
    assert "Mike Rogers" in said
    follow = _ask(client, user('Who said "It is looking dicey"?'), {"role": "assistant", "content": said},
                  user("Which committee did he lead?"))
    assert "Intelligence Committee" in follow.choices[0].message.content
    assert follow.model_extra["citations"][0]["source"] == FOUNDER_FILE
    alone = _ask(client, user("Which committee did he lead?"))
    assert "Intelligence Committee" not in alone.choices[0].message.content


def test_key_is_required_when_set(server):
    wrong = openai.OpenAI(base_url=server["url"] + "/v1", api_key="wrong-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        _ask(wrong, user(FOUNDER))
    assert e.value.status_code == 401 and e.value.body["code"] == "invalid_api_key"
    for r in (httpx.get(server["url"] + "/v1/models"),  # no Authorization header at all
              httpx.post(server["url"] + "/v1/chat/completions", json={"messages": [user(FOUNDER)]})):
        assert r.status_code == 401 and set(r.json()["error"]) == {"message", "type", "param", "code"}
        assert r.headers["www-authenticate"] == "Bearer"


def test_bad_requests_get_openai_errors(client, server):
    with pytest.raises(openai.BadRequestError) as e:
        _ask(client, user("   "))
    assert e.value.status_code == 400 and e.value.body["message"] == "the question is empty"
    with pytest.raises(openai.BadRequestError) as e:
        _ask(client, user("Who is the founder of Huawei? " * 100))
    assert "longer than" in e.value.body["message"]
    with pytest.raises(openai.BadRequestError):
        _ask(client, user(FOUNDER), {"role": "assistant", "content": "Ren Zhengfei"})
    auth = {"Authorization": f"Bearer {KEY}"}
    for body in (b"not json", b"[1, 2]", b'{"messages": "hi"}', b'{"messages": []}'):
        r = httpx.post(server["url"] + "/v1/chat/completions", content=body, headers=auth)
        assert r.status_code == 400, body
        assert r.json()["error"]["type"] == "invalid_request_error"


QUESTION_JSON = json.dumps(FOUNDER).encode()
BAD_BODIES = {  # each as sent, and (except where `stream` is the fault) once more with "stream": true
    "a content part with a number": {"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
    "a content part with null": {"messages": [{"role": "user", "content": [{"type": "text", "text": None}]}]},
    "a content part that is a number": {"messages": [{"role": "user", "content": [5]}]},
    "content that is a number": {"messages": [{"role": "user", "content": 5}]},
    "history content that is a number": {"messages": [user("Who?"), {"role": "assistant", "content": 7}, user(FOUNDER)]},
    "a role that is a number": {"messages": [{"role": 1, "content": FOUNDER}]},
    "a model that is a number": {"model": 5, "messages": [user(FOUNDER)]},
    "stream as a string": {"stream": "false", "messages": [user(FOUNDER)]},
    "stream as a number": {"stream": 1, "messages": [user(FOUNDER)]},
}
RAW_BAD_BODIES = {
    "a lone surrogate in model": b'{"model": "\\ud800", "stream": true, "messages": [{"role": "user", "content": ' + QUESTION_JSON + b"}]}",
    "a lone surrogate in the history": b'{"stream": true, "messages": [{"role": "user", "content": "Who?"}, '
                                       b'{"role": "assistant", "content": "Ren \\udc00"}, {"role": "user", "content": ' + QUESTION_JSON + b"}]}",
    "a lone surrogate in the question": b'{"messages": [{"role": "user", "content": "Who is \\ud800 the founder?"}]}',
    "JSON nested 100,000 deep": b'{"stream": true, "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "bytes that are not UTF-8": b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}',
}


def _bodies():
    for name, body in BAD_BODIES.items():
        yield name, json.dumps(body).encode()
        if "stream" not in body:
            yield name + ", streamed", json.dumps({**body, "stream": True}).encode()
    yield from RAW_BAD_BODIES.items()


@pytest.mark.parametrize("name,body", list(_bodies()), ids=[n for n, _ in _bodies()])
def test_malformed_requests_get_a_400_in_openai_shape(server, name, body):
    r = httpx.post(server["url"] + "/v1/chat/completions", content=body, timeout=60,
                   headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    assert r.status_code == 400, (name, r.status_code, r.text[:300])
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    assert error["message"] and "unexpected" not in error["message"], error
    if name.startswith("stream as"):
        assert error["param"] == "stream" and "boolean" in error["message"]


def test_every_input_is_bounded_before_it_is_read(server):
    url, auth = server["url"] + "/v1/chat/completions", {"Authorization": f"Bearer {KEY}"}
    big = json.dumps({"messages": [{"role": "assistant", "content": "[1]" * 700_000}, user(FOUNDER)]}).encode()
    r = httpx.post(url, content=big, headers=auth, timeout=60)  # declared Content-Length over the bound
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"

    def chunked():  # no Content-Length: counted as it arrives, refused once past the bound
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    r = httpx.post(url, content=chunked(), headers=auth, timeout=60)
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
    many = {"messages": [user("Who?"), {"role": "assistant", "content": "Ren"}] * 40 + [user(FOUNDER)]}
    r = httpx.post(url, json=many, headers=auth, timeout=60)
    assert r.status_code == 400 and "too many messages" in r.json()["error"]["message"]
    long_history = {"messages": [user("Who?"), {"role": "assistant", "content": "Ren Zhengfei. " * 5000}, user(FOUNDER)]}
    r = httpx.post(url, json=long_history, headers=auth, timeout=60)
    assert r.status_code == 400 and "conversation before the question" in r.json()["error"]["message"]
    padded = {"messages": [user(" " * 2000 + FOUNDER)]}  # the length is the raw string's, before normalising
    r = httpx.post(url, json=padded, headers=auth, timeout=60)
    assert r.status_code == 400 and "longer than 1000" in r.json()["error"]["message"]


def test_follow_up_reads_only_the_last_turns(local, monkeypatch):
    """A long conversation is cut to what a follow-up needs (history_turns), each turn to max_question_chars."""
    app, seen = local["app"].service, []
    real = app.answer
    monkeypatch.setattr(app, "answer", lambda q, h=(), *a, **k: (seen.append(list(h)), real(q, h, *a, **k))[1])
    turns = [m for i in range(10) for m in (user(f"Question {i}?"), {"role": "assistant", "content": "Ren Zhengfei " * 300})]
    r = httpx.post(local["url"] + "/v1/chat/completions", json={"messages": turns + [user(FOUNDER)]}, timeout=120)
    assert r.status_code == 200
    limit = app.pipeline.settings.max_question_chars
    assert [q for q, _ in seen[0]] == ["Question 8?", "Question 9?"]
    assert all(len(a) <= limit for _, a in seen[0])


def test_checking_a_request_runs_off_the_event_loop(local, monkeypatch):
    """While one request's checks run (held here on purpose), another client's /v1/models is answered."""
    from rag.serve import api

    entered, release, finished = threading.Event(), threading.Event(), threading.Event()
    real = api.read_request

    def slow(raw, settings):
        entered.set()
        release.wait(30)
        finished.set()
        return real(raw, settings)

    monkeypatch.setattr(api, "read_request", slow)
    t = threading.Thread(target=lambda: httpx.post(local["url"] + "/v1/chat/completions", json={"messages": [user(FOUNDER)]}, timeout=120))
    t.start()
    try:
        assert entered.wait(30)
        r = httpx.get(local["url"] + "/v1/models", timeout=20)
        assert r.status_code == 200 and not finished.is_set()
    finally:
        release.set()
        t.join(120)


def test_a_failure_after_the_first_byte_ends_the_stream_with_an_error_event(local, monkeypatch):
    from rag.serve import api

    def broken(answer):
        raise RuntimeError("injected fault while writing the reply")

    monkeypatch.setattr(api, "format_content", broken)
    with httpx.stream("POST", local["url"] + "/v1/chat/completions", json={"stream": True, "messages": [user(FOUNDER)]}, timeout=120) as r:
        assert r.status_code == 200
        data = [line[len("data: "):] for line in r.iter_lines() if line.startswith("data: ")]
    assert json.loads(data[0])["object"] == "chat.completion.chunk"  # the stream had begun
    error = json.loads(data[-1])["error"]
    assert error["type"] == "server_error" and "injected fault" in error["message"]
    c = openai.OpenAI(base_url=local["url"] + "/v1", api_key="x", max_retries=0, timeout=120)
    with pytest.raises(openai.APIError) as e:  # the official client raises the server's error, not a cut connection
        list(_ask(c, user(FOUNDER), stream=True))
    assert "injected fault" in str(e.value) and not isinstance(e.value, openai.APIConnectionError)
    r = httpx.post(local["url"] + "/v1/chat/completions", json={"messages": [user(FOUNDER)]}, timeout=120)
    assert r.status_code == 500 and "injected fault" in r.json()["error"]["message"]  # not streamed: a 500, same shape


def test_curl_reads_the_raw_event_stream(server):
    body = json.dumps({"model": "rag-documents", "stream": True, "messages": [user(FOUNDER)]})
    out = subprocess.run(["curl", "-sN", "--max-time", "120", server["url"] + "/v1/chat/completions",
                          "-H", "Content-Type: application/json", "-H", f"Authorization: Bearer {KEY}", "-d", body],
                         capture_output=True, text=True, timeout=150)
    assert out.returncode == 0, out.stderr
    data = [line[len("data: "):] for line in out.stdout.splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert "Ren Zhengfei" in "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["citations"]
    assert all(line == "" or line.startswith(("data: ", ":")) for line in out.stdout.splitlines())


def test_the_page_still_serves_beside_the_api(server):
    r = httpx.get(server["url"] + "/")
    assert r.status_code == 200 and "<html" in r.text.lower()


def api_load(url: str, pid: int, artifact: str = "load-api.json"):
    """8 OpenAI clients asking at once, half streaming, for RAG_LOAD_SECONDS: each request's outcome is read from
    the response itself. An answer is a 200 whose content is cited (or a decline); a refusal is a 429 with the
    queue_full code; anything else (a 400, a 500, a cut connection, an answer without its citations) is lost."""
    from tests.test_ui import LOAD_QUESTIONS, check_load, run_load

    clients: dict = {}

    def answered(r: dict) -> tuple[str, dict]:
        if not (r["content"] and isinstance(r["refused"], bool)):
            raise AssertionError(f"an answer without content: {r}")
        if not (r["refused"] or (r["citations"] and "[1]" in r["content"])):
            raise AssertionError(f"an answer without its citations: {r}")
        return "answered", r

    def ask(n, question):
        c = clients.setdefault(n, openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=300))
        try:
            if n % 2:
                r = _ask(c, user(question))
                return answered({"content": r.choices[0].message.content, **r.model_extra})
            chunks = list(_ask(c, user(question), stream=True))
            if chunks[-1].choices[0].finish_reason != "stop":
                raise AssertionError("a stream that did not finish")
            content = "".join(x.choices[0].delta.content or "" for x in chunks if x.choices)
            return answered({"content": content, **chunks[-1].model_extra})
        except openai.RateLimitError as e:  # a clean refusal: back off a little, as Retry-After asks
            if e.body.get("code") != "queue_full":
                raise
            time.sleep(0.2)
            return "refused", e.status_code

    return check_load(run_load(pid, ask, LOAD_QUESTIONS), artifact)


def test_load_eight_openai_clients(server):
    """8 OpenAI clients asking at once, half streaming, for RAG_LOAD_SECONDS (default 20): every request is
    answered or refused with 429 when 4 already wait; none is lost and the server's memory stays flat (figures
    in tests/artifacts/load-api.json)."""
    api_load(server["url"], server["pid"])


class DroppingProxy:
    """Fault injection for the load test's own test: a loopback TCP proxy in front of the server that drops every
    `nth` chat request (closes the client's connection instead of forwarding it)."""

    def __init__(self, target: str, nth: int = 10):
        self.target = int(target.rsplit(":", 1)[1])
        self.nth, self.requests, self.dropped = nth, 0, 0
        self.lock = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client):
        upstream = socket.create_connection(("127.0.0.1", self.target))

        def back():
            try:
                while data := upstream.recv(65536):
                    client.sendall(data)
            except OSError:
                pass
            finally:
                client.close()

        threading.Thread(target=back, daemon=True).start()
        try:
            while data := client.recv(65536):
                if b"POST /v1/chat/completions" in data:
                    with self.lock:
                        self.requests += 1
                        drop = self.requests % self.nth == 0
                        self.dropped += drop
                    if drop:
                        break
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()

    def close(self):
        self.sock.close()


def test_the_load_test_fails_when_the_server_drops_one_request_in_ten(server, monkeypatch):
    """The load test can fail: the same run through a proxy that drops one request in ten is caught."""
    monkeypatch.setenv("RAG_LOAD_SECONDS", "10")
    proxy = DroppingProxy(server["url"], nth=10)
    try:
        with pytest.raises(AssertionError, match="requests lost"):
            api_load(proxy.url, server["pid"], "load-api-dropping.json")
    finally:
        proxy.close()
    assert proxy.dropped >= 1


def test_public_address_needs_the_api_key_too():
    out = run_cli("rag", "ui", "--host", "0.0.0.0", "--port", "7999", timeout=60,
                  env={"RAG_UI_USER": "u", "RAG_UI_PASSWORD": "p", "RAG_API_KEY": ""})
    assert out.returncode == 2
    assert out.stderr.strip() == "error: serving on 0.0.0.0 needs RAG_API_KEY set"


# ---- the queue: shared, bounded, cancellable --------------------------------------------------

def test_loopback_needs_no_key(local):
    c = openai.OpenAI(base_url=local["url"] + "/v1", api_key="anything", max_retries=0, timeout=180)
    assert "Ren Zhengfei" in _ask(c, user(FOUNDER)).choices[0].message.content


def test_full_queue_is_429_at_once_and_nothing_is_lost(local, monkeypatch):
    """With the model busy (its lock held) and room for one waiting question, the rest are refused with 429
    at once; once the model is free, every accepted question is answered."""
    app = local["app"].service
    monkeypatch.setattr(app.pipeline.settings, "api_queue_max", 1)
    c = openai.OpenAI(base_url=local["url"] + "/v1", api_key="x", max_retries=0, timeout=180)
    results: list = []

    def one():
        try:
            results.append(_ask(c, user(FOUNDER)).choices[0].message.content)
        except openai.RateLimitError as e:
            results.append(e)

    with app.lock:
        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            t.start()
        _wait_for(lambda: sum(isinstance(r, Exception) for r in results) >= 2, 60, "the refusals")
        refused = [r for r in results if isinstance(r, Exception)]
        assert len(results) == len(refused)  # nothing was answered while the model was held
    for t in threads:
        t.join(timeout=300)
    assert len(results) == 4  # none lost
    answered = [r for r in results if isinstance(r, str)]
    assert len(answered) == 2 and all("Ren Zhengfei" in a for a in answered)
    for e in refused:
        assert e.status_code == 429 and e.body["code"] == "queue_full" and e.response.headers["retry-after"]


def test_a_rebuild_does_not_refuse_questions(local, monkeypatch):
    """The live generation answers while the next one is built (tests/test_generations.py builds one for real)."""
    monkeypatch.setattr(local["app"].service, "rebuilding", True)
    r = httpx.post(local["url"] + "/v1/chat/completions", json={"messages": [user(FOUNDER)]}, timeout=60)
    assert r.status_code == 200 and "Ren Zhengfei" in r.json()["choices"][0]["message"]["content"]


def test_disconnect_cancels_the_generation_and_frees_the_model(local, settings, monkeypatch):
    """A long free generation (generate style, up to 1000 tokens, which this question reaches) whose client goes
    away mid-stream stops at the next token; the question behind it is answered long before the first would
    have ended."""
    app = local["app"].service
    typed = app.pipeline
    long_settings = settings.replace(answer_style="generate", max_tokens=1000, generation_timeout_s=900)
    generator = load_generator(long_settings)
    monkeypatch.setattr(app, "pipeline", Pipeline(long_settings, embedder=typed.embedder, generator=generator))
    made: list[float] = []  # when each token of the long generation came
    outcomes: list[str] = []
    pieces, answer = generator._pieces, app.answer

    def counting(*args, **kwargs):
        inner = pieces(*args, **kwargs)
        try:
            for piece in inner:
                made.append(time.monotonic())
                yield piece
        finally:
            inner.close()

    def spying(*args, **kwargs):
        try:
            result = answer(*args, **kwargs)
            outcomes.append("answered")
            return result
        except Exception as e:
            outcomes.append(type(e).__name__)
            raise

    monkeypatch.setattr(generator, "_pieces", counting)
    monkeypatch.setattr(app, "answer", spying)
    with httpx.Client(timeout=600) as http:
        with http.stream("POST", local["url"] + "/v1/chat/completions", json={"stream": True, "messages": [user(ESSAY)]}) as r:
            assert r.status_code == 200
            _wait_for(lambda: len(made) >= 5 or outcomes, 600, "the first tokens")
            assert len(made) >= 5, f"the long question ended without generating: {outcomes}"  # e.g. declined
            app.pipeline = typed  # the next question is a typed one (the long one holds its own pipeline)
        at_disconnect = len(made)  # leaving the `with` closed the connection
        per_token = (made[4] - made[0]) / 4
        t = time.monotonic()
        after = http.post(local["url"] + "/v1/chat/completions", json={"messages": [user(FOUNDER)]})
        second = time.monotonic() - t
    assert after.status_code == 200 and "Ren Zhengfei" in after.json()["choices"][0]["message"]["content"]
    assert outcomes == ["Cancelled", "answered"]
    # the long generation stopped soon after the disconnect, far short of its 1000 tokens...
    assert len(made) < at_disconnect + 100 < 1000
    # ...and the next question was answered well before the long one would have finished
    assert second < 0.5 * (1000 - at_disconnect) * per_token


def test_chat_cancel_button_signals_the_running_question(local):
    from types import SimpleNamespace

    app = local["app"]
    event = threading.Event()
    app.cancels["tab-1"] = event
    chat = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "Searching the articles…"}]
    assert app.cancel(chat, SimpleNamespace(session_hash="tab-1"))[-1]["content"] == "Cancelled."
    assert event.is_set()
    app.cancels.pop("tab-1")


# ---- the message mapping, without a server --------------------------------------------------------

def test_messages_map_to_question_and_history():
    q, h = parse_messages([
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "Who is the founder of Huawei?"},
        {"role": "assistant", "content": "Ren Zhengfei [1]\n\nSources:\n[1] a.txt:L1-L1 “…”"},
        {"role": "user", "content": [{"type": "text", "text": "What has he accused the United States of?"}]},
    ])
    assert q == "What has he accused the United States of?"
    assert h == [("Who is the founder of Huawei?", "Ren Zhengfei")]
    with pytest.raises(InputError):
        parse_messages([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    with pytest.raises(InputError):
        parse_messages([{"content": "no role"}])


def test_content_round_trips_to_the_answer(pipeline):
    a = pipeline.answer(FOUNDER)
    content = format_content(a)
    assert content.count("[1]") == 2  # the marker, once, and the source it points to
    assert f"\n\nSources:\n[1] {FOUNDER_FILE} · line 35 “Ren Zhengfei" in content
    assert "Ren Zhengfei" in answer_only(content) and not answer_only(content).endswith("]")
