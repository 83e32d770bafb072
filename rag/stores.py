"""Where the index lives: one small interface, two back-ends, chosen by one setting (`RAG_STORE`, `--store`).

    ""  or a folder     FilesStore: FAISS + bm25s files in the index folder (rag/store.py), the default
    postgresql://...    PgStore: PostgreSQL with pgvector (rag/pgstore.py), shared by any number of processes

A store holds *generations*: a complete index (chunks, vectors, lexical side, manifest) that readers open
whole, and that a writer replaces by building the next one beside it and switching in one atomic step.

    store.current_id()            the live generation's id, cheap (a file read, one SELECT): lets a process see
                                  that another one committed a new generation, without opening it
    store.open()                  the live Generation, or None; lock-free: readers never wait for a writer
    store.writer(wait)            the build lock (writers only); wait=False fails at once when it is held
    store.commit(manifest, parts, old)   write the next generation and make it live; call under writer()

A Generation (what retrieval and answering see):

    gen.id, gen.manifest, gen.chunks      chunks in reading order (documents in corpus order)
    gen.dense(qv, depth)                  (cosines, positions) of the nearest chunks
    gen.lexical(query)                    BM25 scores of every chunk (np.ndarray, zeros where absent)
    gen.vectors_at(positions)             stored vectors of those chunks
    gen.file_chunks(source)               a document's chunks and vectors (re-used by an incremental build)
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .types import Chunk

log = logging.getLogger("rag.stores")


@dataclass
class DocPart:
    """One document of the next generation: new `chunks` and `vectors`, or None to keep what the old
    generation holds for this source (its content did not change)."""

    source: str
    chunks: list[Chunk] | None = None
    vectors: np.ndarray | None = None


class Generation(Protocol):
    id: str
    manifest: dict
    chunks: list[Chunk]

    def dense(self, qv: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]: ...
    def lexical(self, query: str) -> np.ndarray: ...
    def vectors_at(self, positions: list[int]) -> np.ndarray: ...


class Store(Protocol):
    url: str

    def current_id(self) -> str | None: ...
    def open(self) -> Generation | None: ...
    def writer(self, wait: bool = True): ...
    def commit(self, manifest: dict, parts: list[DocPart], old: Generation | None) -> Generation: ...


def fault(stage: str) -> None:
    """Fault injection for the tests: RAG_FAULT_PAUSE=<stage>:<seconds> stops a build there, long enough to kill
    it, to start a second writer or to ask a question meanwhile. Stages: "chunks" (PostgreSQL: the changed
    documents are written, inside the transaction), "commit" (the next generation is complete and, in
    PostgreSQL, switched to inside the transaction, not yet committed; in files, not yet renamed into place)."""
    import os
    import sys
    import time

    want, _, seconds = os.environ.get("RAG_FAULT_PAUSE", "").partition(":")
    if want == stage:
        print(f"fault injection: paused at {stage}", file=sys.stderr, flush=True)
        time.sleep(float(seconds or 30))


def is_postgres(url: str) -> bool:
    return str(url).startswith(("postgresql://", "postgres://"))


def open_store(settings) -> Store:
    """The store the settings name: `settings.store` (RAG_STORE) when set, else the index folder."""
    url = str(settings.store or "")
    if is_postgres(url):
        from .pgstore import PgStore

        return PgStore.connect(url)
    return FilesStore(Path(url) if url else Path(settings.index_dir))


class FilesStore:
    """The FAISS + bm25s files of rag/store.py behind the Store interface."""

    def __init__(self, index_dir: Path):
        self.index_dir = Path(index_dir)
        self.url = str(self.index_dir)

    def current_id(self) -> str | None:
        from . import store

        gen = store.current_generation(self.index_dir)
        return gen.name if gen else None

    def open(self):
        """Lock-free: a writer makes a generation live only when every file is on disk, and removes the old
        one after the switch; a reader that loses that race reads the new CURRENT and tries again."""
        from . import store
        from .errors import IndexStoreError

        for attempt in range(3):
            before = self.current_id()
            try:
                return store.load(self.index_dir)
            except (IndexStoreError, OSError):
                if attempt == 2 or self.current_id() == before:  # not a race with a writer: really broken
                    raise
                log.info("the index generation changed while it was opened; opening the new one")
        return None

    @contextlib.contextmanager
    def writer(self, wait: bool = True):
        from . import store

        with store.build_lock(self.index_dir, wait=wait):
            store.sweep(self.index_dir)  # a killed build's leftovers go at the next start
            yield

    def commit(self, manifest: dict, parts: list[DocPart], old):
        from . import store

        chunks, vectors = [], []
        for part in parts:
            if part.chunks is None:
                cs, vs = old.file_chunks(part.source)
            else:
                cs, vs = part.chunks, part.vectors
            chunks.extend(cs)
            if len(cs):
                vectors.append(np.asarray(vs, dtype=np.float32))
        dim = int(manifest.get("dim") or 0)
        matrix = np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32)
        return store.write(self.index_dir, manifest, chunks, matrix)

    def close(self) -> None:
        pass
