"""The lexical side of an index: BM25 (bm25s) over each chunk's text, title and heading trail."""

from __future__ import annotations

import logging

import numpy as np

from rag import text
from rag.types import Chunk


class Lexical:
    """BM25 over the chunk texts with their title and heading trail, built in memory when the index is opened.
    Tokenized by rag.text, the same words every other stage sees."""

    def __init__(self, chunks: list[Chunk]):
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets DEBUG on import
        corpus = [text.tokens(f"{c.title} {c.heading} {c.text}") or ["\x00"] for c in chunks]
        self.retriever = bm25s.BM25()
        self.retriever.index(corpus, show_progress=False)
        self.vocab = set(self.retriever.vocab_dict)
        self.n = len(chunks)

    def scores(self, query: str) -> np.ndarray:
        words = [w for w in text.tokens(query) if w in self.vocab]
        if not words:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self.retriever.get_scores(words), dtype=np.float32)
