"""Hybrid retrieval: dense and lexical (BM25) rankings from the store's generation (FAISS + bm25s files, or
PostgreSQL with pgvector: rag/index/store.py), fused (convex combination or reciprocal rank)."""

from __future__ import annotations

import time

import numpy as np

from rag.config import Settings
from rag.index.embed import Embedder
from rag.types import Chunk, Hit

WINDOW_MAX_CHARS = 700


def _lap(timings: dict, stage: str, since: float) -> float:
    now = time.perf_counter()
    timings[stage] = timings.get(stage, 0.0) + (now - since) * 1000
    return now


class Retriever:
    def __init__(self, data, embedder: Embedder, settings: Settings):
        """`data`: a Generation of the store (rag/index/store.py)."""
        self.data = data
        self.embedder = embedder
        self.settings = settings
        self.chunks = data.chunks
        if self.chunks and settings.hybrid:
            data.lexical("")  # the in-memory back-end builds its BM25 now, not on the first question
        self._pos = {c.id: i for i, c in enumerate(self.chunks)}

    def search(self, query: str, k: int | None = None, query_vector: np.ndarray | None = None,
               timings: dict | None = None) -> list[Hit]:
        """The k best chunks; stage times (ms) are added to `timings` when given."""
        s = self.settings
        timings = {} if timings is None else timings
        k = k or s.k
        n = len(self.chunks)
        if n == 0:
            return []
        t = time.perf_counter()
        qv = self.embedder.encode_query(query) if query_vector is None else query_vector
        depth = min(max(s.candidates, k), n)
        t = _lap(timings, "embed_query", t) if query_vector is None else t
        dense_scores, dense_ids = self.data.dense(qv, depth)
        t = _lap(timings, "dense", t)
        dense_rank = {int(i): r for r, i in enumerate(dense_ids)}
        cosine = {int(i): float(d) for d, i in zip(dense_scores, dense_ids)}

        lex = np.zeros(n, dtype=np.float32)
        lex_rank: dict[int, int] = {}
        if s.hybrid:
            lex = self.data.lexical(query)
            order = [int(i) for i in np.argsort(-lex)[:depth] if lex[i] > 0]
            lex_rank = {i: r for r, i in enumerate(order)}
            t = _lap(timings, "lexical", t)
        missing = [i for i in lex_rank if i not in cosine]
        if missing:  # lexical-only hits still get a true cosine, for fusion and the relevance check
            for i, c in zip(missing, self.data.vectors_at(missing) @ qv):
                cosine[i] = float(c)
        if s.fusion == "convex":
            top = float(lex.max()) or 1.0
            fused = {i: s.dense_weight * cosine[i] + s.lexical_weight * float(lex[i]) / top for i in cosine}
        else:
            fused = {i: s.dense_weight / (s.rrf_k + r + 1) for i, r in dense_rank.items()}
            for i, r in lex_rank.items():
                fused[i] = fused.get(i, 0.0) + s.lexical_weight / (s.rrf_k + r + 1)
        ranked = sorted(fused, key=lambda i: -fused[i])[:k]
        _lap(timings, "fusion", t)
        return [Hit(self.chunks[i], fused[i], cosine[i], float(lex[i]), r) for r, i in enumerate(ranked)]

    def reading_order(self, chunk: Chunk, max_chunks: int = 8) -> list[Chunk]:
        """The chunk and the ones after it in the same document, in reading order."""
        i = self._pos[chunk.id]
        return [c for c in self.chunks[i : i + max_chunks] if c.source == chunk.source]

    def window(self, chunk: Chunk, max_chars: int = WINDOW_MAX_CHARS) -> list[Chunk]:
        """The chunk with its neighbours in the same paragraph: enough context to say who said what."""
        i = self._pos[chunk.id]
        out = [chunk]
        size = len(chunk.text)
        for step in (-1, 1, -2, 2):
            j = i + step
            if 0 <= j < len(self.chunks):
                c = self.chunks[j]
                if c.source == chunk.source and c.paragraph == chunk.paragraph and size + len(c.text) <= max_chars:
                    if abs(step) == 2 and self.chunks[i + step // 2] not in out:
                        continue
                    out.append(c)
                    size += len(c.text)
        return sorted(out, key=lambda c: c.start_char)
