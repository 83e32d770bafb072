"""Stateless answering processes: `rag api --workers N` (uvicorn workers, no Gradio) sharing one PostgreSQL
store and one `llama_cpp.server` model server, under load from OpenAI clients. Every request is answered or
cleanly refused (429/503 in OpenAI's error shape), none is lost (counted from what the server sent), and the
workers' memory stays flat."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import threading
import time

import httpx
import openai
import psutil
import pytest

from rag.index.build import open_or_build

from tests.conftest import BIN, with_faults
from tests.test_remote_model import _models_file, model_server  # noqa: F401  (a fixture
from tests.test_ui import _free_port

pytestmark = pytest.mark.skipif(importlib.util.find_spec("sse_starlette") is None,
                                reason="needs llama-cpp-python[server] (pip install -e '.[dev]')")

FOUNDER = "Who is the founder of Huawei?"
WORKERS = 2  # the machine has 2 cores
CLIENTS, ROUNDS = 8, 4
MEMORY_GROWTH_MB = 60  # per worker, between the first load round and the last


def _start_api(url: str, models, port: int, env=None) -> subprocess.Popen:
    cmd = [str(BIN / "rag"), "api", "--workers", str(WORKERS), "--port", str(port), "--store", url]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "RAG_MODELS_FILE": str(models), "RAG_API_QUEUE_MAX": "2", **with_faults(env)})
    return _up(proc, port)


def _up(proc: subprocess.Popen, port: int) -> subprocess.Popen:
    """`proc` once its API answers /v1/models (fails with its stderr if it exits first)."""
    deadline = time.monotonic() + 300
    while True:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the API did not come up"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    return proc


def _load(port: int) -> dict:
    """CLIENTS threads, ROUNDS questions each; every outcome classified from the response itself."""
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0, timeout=300)
    outcomes: list[tuple[str, str]] = []
    lock = threading.Lock()

    def one():
        for _ in range(ROUNDS):
            try:
                r = client.chat.completions.create(model="rag", messages=[{"role": "user", "content": FOUNDER}])
                content = r.choices[0].message.content or ""
                got = ("answered", r.id) if "Ren Zhengfei" in content else ("wrong", content[:80])
            except openai.APIStatusError as e:
                code = (e.body or {}).get("code") if isinstance(e.body, dict) else None
                got = ("refused", f"{e.status_code} {code}") if e.status_code in (429, 503) and code else ("failed", f"{e.status_code} {e.body}")
            except Exception as e:  # a cut connection, a timeout: lost
                got = ("lost", f"{type(e).__name__}: {e}")
            with lock:
                outcomes.append(got)

    threads = [threading.Thread(target=one) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=900)
    kinds = {k: [v for kk, v in outcomes if kk == k] for k in ("answered", "refused", "wrong", "failed", "lost")}
    kinds["threads_alive"] = [t for t in threads if t.is_alive()]
    return kinds


@pytest.fixture(scope="module")
def pg_index(pg_server, pipeline, settings):
    import uuid

    import psycopg

    name = f"rag_api_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = pg_server.get_uri().replace("/postgres?", f"/{name}?")
    open_or_build(settings.replace(store=url), pipeline.embedder)
    return url


def _check(kinds: dict) -> None:
    total = CLIENTS * ROUNDS
    assert not kinds["threads_alive"]
    assert not kinds["lost"] and not kinds["failed"] and not kinds["wrong"], {k: v[:3] for k, v in kinds.items()}
    assert len(kinds["answered"]) + len(kinds["refused"]) == total
    assert len(set(kinds["answered"])) == len(kinds["answered"])  # one distinct completion per answered request
    assert kinds["answered"], "nothing was answered"


def test_api_workers_share_one_database_and_one_model_server(pg_index, model_server, tmp_path):  # noqa: F811
    models = _models_file(tmp_path, model_server)
    port = _free_port()
    proc = _start_api(pg_index, models, port)
    try:
        pids = {httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).json()["pid"] for _ in range(40)}
        workers = [p for p in psutil.Process(proc.pid).children(recursive=True) if p.pid in pids]
        _check(_load(port))  # warm: every worker has answered
        before = {p.pid: p.memory_info().rss for p in workers}
        for _ in range(2):
            kinds = _load(port)
            _check(kinds)
            print(f"{len(kinds['answered'])} answered, {len(kinds['refused'])} refused ({set(kinds['refused'])})")
        after = {p.pid: p.memory_info().rss for p in workers}
        growth = {pid: (after[pid] - before[pid]) / 2**20 for pid in before}
        assert all(g < MEMORY_GROWTH_MB for g in growth.values()), growth
        assert len(pids) == WORKERS, pids  # the requests reached every worker process
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_the_load_check_fails_against_a_server_that_drops_requests(pg_index, model_server, tmp_path):  # noqa: F811
    """The same load against workers that lose one question in ten (fault injection): the check must see it."""
    models = _models_file(tmp_path, model_server)
    port = _free_port()
    proc = _start_api(pg_index, models, port, env={"RAG_FAULT_DROP": "10"})
    try:
        kinds = _load(port)
        with pytest.raises(AssertionError):
            _check(kinds)
        assert len(kinds["failed"]) >= 1
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_api_workers_serve_every_collection(settings, pipeline, tmp_path):
    """`rag api --workers 2` serves the named collections too: /v1/models lists them, and the `model` name picks
    the folder each answer comes from (every worker, whichever the request reaches)."""
    facts = {"harbour": ("The lighthouse of Porto Vello was switched to LED light in 2019 by keeper Amadeo Ruas.",
                         "Who switched the lighthouse of Porto Vello to LED light?", "Amadeo Ruas"),
             "orchard": ("The Kestrel Hill orchard was planted in 1932 by the botanist Ilse Marrow.",
                         "Who planted the Kestrel Hill orchard?", "Ilse Marrow")}
    env = {**os.environ, "RAG_COLLECTIONS_FILE": str(tmp_path / "collections.json"), "RAG_USE_LLM": "0"}
    for name, (sentence, _, _) in facts.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.txt").write_text(sentence + "\n", encoding="utf-8")
        for cmd in (["collections", "add", name, str(tmp_path / name)],
                    ["index", "--corpus", str(tmp_path / name), "--index", str(tmp_path / "collections" / name)]):
            done = subprocess.run([str(BIN / "rag"), *cmd], env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr
    pipeline.answer("warm the index")  # the served folder's own index exists
    port = _free_port()
    proc = subprocess.Popen([str(BIN / "rag"), "api", "--workers", str(WORKERS), "--port", str(port),
                             "--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        _up(proc, port)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0, timeout=300)
        listed = [m.id for m in client.models.list().data]
        assert set(facts) <= set(listed) and len(listed) == len(facts) + 1, listed
        for _ in range(WORKERS):  # each worker in turn, as the connections land
            for name, (_, question, who) in facts.items():
                r = client.chat.completions.create(model=name, messages=[{"role": "user", "content": question}])
                content = r.choices[0].message.content or ""
                assert who in content and f"{name}.txt" in content, (name, content)
                other = next(w for n, (_, _, w) in facts.items() if n != name)
                assert other not in content
    finally:
        proc.terminate()
        proc.wait(timeout=60)
