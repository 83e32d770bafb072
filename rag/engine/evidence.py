"""Rank the evidence: the sentences of what retrieval found, ranked first by meaning and key terms (cheap, all of
them), then the best `rerank_top` by the trained ranker mixed with the first stage (rag/engine/rerank.py).

    Evidence        what retrieval found for a question: the hits, their sentences, the usable ones ranked twice
    EvidenceRanker  one index's: gather(query, k) -> Evidence; topic(topic) for a listing; passage(hit) as shown
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from rag import text
from rag.engine import reader as reader_mod
from rag.engine.answerability import features as answerability_features
from rag.engine import rerank
from rag.engine.query import Query, analyze
from rag.engine.retrieve import Retriever
from rag.engine.select import Sentence, answerable, rank, split_sentences
from rag.types import Chunk, Hit, Passage


@dataclass
class Evidence:
    query_vector: np.ndarray
    hits: list[Hit]
    pool: list[Sentence]  # every sentence of the hits' windows, in retrieval order
    first: list[Sentence]  # the usable ones by meaning + key terms (score = cosine + weight * coverage)
    ranked: list[Sentence]  # the best of those by the trained ranker (score = the evidence mix's logit), best first
    timings: dict[str, float]
    answerability: dict[str, float] | None = None  # the question's answerability features, taken before the reader


class EvidenceRanker:
    """The rank stage over one index generation; sentence vectors are remembered for as long as it lives."""

    STATES_MAX = 2000  # token vectors kept for the reader (about 30 KB a sentence)

    def __init__(self, retriever: Retriever, embedder, settings, vocabulary: text.Vocabulary):
        self.retriever = retriever
        self.embedder = embedder
        self.settings = settings
        self.vocabulary = vocabulary
        self._vectors: dict[tuple[str, int, int], np.ndarray] = {}  # sentence vectors, valid for this index only
        self._states: dict[str, object] = {}  # token vectors for the reader, by text

    @property
    def ranker(self) -> rerank.Ranker:
        return rerank.load_ranker(self.settings.ranker_dir)

    def gather(self, query: Query, k: int | None = None, read: bool = True) -> Evidence:
        """Retrieve, select, rank; then the reader reads the best, unless `read` is off (a document's topic is not
        a question the reader could judge an answer to)."""
        s = self.settings
        t0 = time.perf_counter()
        stages: dict[str, float] = {}
        qv = self.embedder.encode_query(query.search)
        stages["embed_query"] = (time.perf_counter() - t0) * 1000
        hits = self.retriever.search(query.search, k=max(k or s.k, s.select_from), query_vector=qv, timings=stages)
        t1 = time.perf_counter()
        pool = self.candidates(hits)
        usable = [x for x in pool if answerable(x, code_ok=query.howto)]
        first = rank(query, qv, usable, self.sentence_vectors(usable), s.sentence_lexical_weight, self.vocabulary) if usable else []
        stages["select"] = (time.perf_counter() - t1) * 1000
        ranked, asked = first, None
        if s.rerank and first:
            t1 = time.perf_counter()
            ranked = self.rerank(query, first[: s.rerank_top])
            stages["rerank"] = (time.perf_counter() - t1) * 1000
            if read and (model := self.reader) is not None:
                t1 = time.perf_counter()
                ranked, asked = self.read(model, query, ranked, qv, hits)
                stages["read"] = (time.perf_counter() - t1) * 1000
        stages["retrieve"] = (time.perf_counter() - t0) * 1000
        return Evidence(qv, hits, pool, first, ranked, stages, asked)

    @property
    def reader(self) -> reader_mod.Reader | None:
        """The trained reader, when there is one, the settings use it and the embedder gives token vectors (the
        ONNX backends do; the torch backend does not, and answers without the reader)."""
        s = self.settings
        if not (s.reader and s.rerank and (s.ranker_dir / reader_mod.READER_FILE).is_file()):
            return None
        if not hasattr(self.embedder.impl, "encode_with_states"):
            return None
        return reader_mod.load_reader(s.ranker_dir)

    def read(self, model: reader_mod.Reader, query: Query, ranked: list[Sentence], qv: np.ndarray,
             hits: list[Hit]) -> tuple[list[Sentence], dict[str, float]]:
        """The reader's p(answers) for the best `reader_top`, which it orders (the rest follow as they were), and
        the question's answerability features as the ranker's order gave them (the reader read them too)."""
        top, rest = ranked[: self.settings.reader_top], ranked[self.settings.reader_top:]
        question = self.token_states([query.search])[0]
        asked = answerability_features(query, ranked, hits, self.vocabulary, self.passage_terms, self.settings.gate_passages)
        rows = [reader_mod.feature_row(rerank.candidate_features(x), x.score, asked) for x in top]
        readings = model.read(question, self.token_states([x.text for x in top]), rows)
        read = [replace(x, score=r.logit, answer_p=r.probability, span=r.span) for x, r in zip(top, readings)]
        read.sort(key=lambda x: -x.score)
        return read + rest, asked

    def token_states(self, texts: list[str]) -> list:
        """Each text's word pieces and token vectors (rag.index.embed.TokenStates), remembered a while."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._states))
        if len(self._states) + len(missing) > self.STATES_MAX:
            self._states.clear()  # and this call's texts are all computed again
            missing = list(dict.fromkeys(texts))
        if missing:
            self._states.update(zip(missing, self.embedder.encode_with_states(missing)[1]))
        return [self._states[t] for t in texts]

    def rerank(self, query: Query, top: list[Sentence]) -> list[Sentence]:
        """The trained ranker's score (a bi-encoder: question and sentence with its heading, embedded apart), mixed
        with the first stage's; its score alone before `rag train` fitted a mix."""
        trained = self.ranker.scores(query.search, [rerank.pair_text(x.text, x.chunk.heading, x.chunk.kind) for x in top])
        ranked = [replace(x, trained=float(z)) for x, z in zip(top, trained)]
        mix = rerank.load_mix(self.settings.ranker_dir)
        if mix is not None:
            ranked = [replace(x, score=mix.logit(rerank.candidate_features(x))) for x in ranked]
        else:
            ranked = [replace(x, score=x.trained) for x in ranked]
        ranked.sort(key=lambda x: -x.score)
        return ranked

    def topic(self, topic: str) -> tuple[list[Hit], list[Sentence]]:
        """For a listing ("which documents mention X"): the hits for the topic alone and their sentences ranked
        by meaning and key terms."""
        s = self.settings
        topic_query = analyze(topic, (), self.vocabulary)
        qv = self.embedder.encode_query(topic)
        hits = self.retriever.search(topic, k=max(s.candidates, s.k), query_vector=qv)
        sentences = [x for h in hits for x in split_sentences(h.chunk)]
        ranked = rank(topic_query, qv, sentences, self.sentence_vectors(sentences), s.sentence_lexical_weight,
                      self.vocabulary) if sentences else []
        return hits, ranked

    def candidates(self, hits: list[Hit]) -> list[Sentence]:
        """The sentences of the hits' windows, each once, in retrieval order."""
        seen, out = set(), []
        for h in hits:
            for c in self.retriever.window(h.chunk):
                for sent in split_sentences(c):
                    if sent.key not in seen:
                        seen.add(sent.key)
                        out.append(sent)
        return out

    def sentence_vectors(self, sentences: list[Sentence]) -> np.ndarray:
        """Sentence embeddings, remembered across questions: a long-running server embeds each sentence once."""
        missing = [x for x in sentences if x.key not in self._vectors]
        if missing:
            for x, v in zip(missing, self.embedder.encode([x.text for x in missing])):
                self._vectors[x.key] = v
        return np.stack([self._vectors[x.key] for x in sentences])

    def passage(self, hit: Hit) -> Passage:
        """A hit as the answer lists it: widened to its window."""
        window = self.retriever.window(hit.chunk)
        c = hit.chunk
        return Passage(c.source, " ".join(w.text for w in window), window[0].start_line, window[-1].end_line, hit.score,
                       c.title, c.page, c.heading)

    def passage_terms(self, c: Chunk) -> set[str]:
        """What a passage speaks of: the chunk's window, title and heading trail."""
        return text.terms(" ".join([c.title, c.heading, *(w.text for w in self.retriever.window(c))]))

    def reading_order(self, anchor: Sentence) -> list[Sentence]:
        """The sentences from the anchor's chunk on, in the document's order."""
        return [x for c in self.retriever.reading_order(anchor.chunk) for x in split_sentences(c)]
