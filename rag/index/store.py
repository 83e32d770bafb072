"""Where the index lives: one small interface, two back-ends, chosen by one setting (`RAG_STORE`, `--store`).

    ""  or a folder     FilesStore: FAISS + bm25s files in the index folder (rag/index/files.py), the default
    postgresql://...    PgStore: PostgreSQL with pgvector (rag/index/pg.py), shared by any number of processes

This module is the interface only; rag/index/backends.py opens the one the settings name.

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

import logging
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from rag.types import Chunk

log = logging.getLogger("rag.index.store")


@dataclass
class DocPart:
    """One document of the next generation: new `chunks` and `vectors`, or None to keep what the old
    generation holds for this source (its content did not change)."""

    source: str
    chunks: list[Chunk] | None = None
    vectors: np.ndarray | None = None


@dataclass
class BuildReport:
    """What a build did, whatever the back-end."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    embedded_chunks: int = 0
    total_chunks: int = 0
    rebuilt_reason: str = ""
    wrote: bool = False
    stale: str = ""  # why the live index could not be refreshed (read-only or full folder); it is served as it was

    def summary(self) -> str:
        if self.stale:
            return f"{self.total_chunks} chunks, not refreshed: {self.stale}"
        parts = [f"{self.total_chunks} chunks from {len(self.added) + len(self.updated) + len(self.unchanged)} files"]
        for name in ("added", "updated", "removed", "unchanged"):
            if getattr(self, name):
                parts.append(f"{len(getattr(self, name))} {name}")
        parts.append(f"{self.embedded_chunks} chunks embedded")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return ", ".join(parts)


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


CHECKPOINTS: list = []  # test-only seam (tests/seams/sitecustomize.py): callables told each build stage; empty in use


def checkpoint(stage: str) -> None:
    """A build reached `stage`: "chunks" (PostgreSQL: the changed documents are written, inside the transaction),
    "commit" (the next generation is complete, not yet live). Production code does nothing here; the tests pause
    a build at a stage, to kill it, start a second writer or ask a question meanwhile."""
    for hook in CHECKPOINTS:
        hook(stage)


def is_postgres(url: str) -> bool:
    return str(url).startswith(("postgresql://", "postgres://"))
