"""answer(): the one call the CLI, the web UI and the evaluation all make.

question -> (follow-up rewrite) -> hybrid retrieval -> sentence selection -> relevance gate
         -> small model phrases an answer -> support check -> cited answer, best quote, or a plain refusal
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Callable, Sequence

from . import cite
from .config import Settings
from .embed import Embedder
from .errors import InputError
from .generate import Generator, build_messages
from .indexer import open_or_build
from .models import resolve
from .prompts import CANNOT_ANSWER_PHRASE, MODEL_NOT_FOUND, QUOTE_NOTE
from .retrieve import Retriever
from .types import Answer, Hit, Passage

log = logging.getLogger("rag.answer")

SELECT_FROM = 5  # hits whose sentences compete for the evidence
_PRONOUN = re.compile(r"\b(he|she|they|him|her|his|hers|their|them|it|its|this|that|these|those|there|then)\b", re.I)


def normalize_question(question: str, max_chars: int) -> tuple[str, list[str]]:
    """Printable, single-spaced, within the budget. Raises InputError when nothing is left."""
    if not isinstance(question, str):
        raise InputError("the question must be text")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in question)
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise InputError("the question is empty")
    notes = []
    if len(text) > max_chars:
        text = text[:max_chars].rsplit(" ", 1)[0] or text[:max_chars]
        notes.append(f"The question was trimmed to its first {len(text)} characters (limit {max_chars}).")
    return text, notes


def contextualize(question: str, history: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """(what to search, what to ask the model) for a follow-up such as "What did he threaten?".

    A question with a pronoun or only a few words borrows the previous turn: its question joins the search,
    and a short previous answer (a name) replaces the pronoun for the model.
    """
    if not history:
        return question, question
    prev_q, prev_a = history[-1]
    if not (_PRONOUN.search(question) or len(question.split()) <= 3):
        return question, question
    query = f"{prev_q} {question}"
    ask = question
    if prev_a and len(prev_a.split()) <= 5 and prev_a != CANNOT_ANSWER_PHRASE:
        ask = _PRONOUN.sub(prev_a.rstrip("."), question, count=1)
    return query, ask


class Pipeline:
    """Models and index, loaded once; answer() many times."""

    def __init__(
        self,
        settings: Settings | None = None,
        progress: bool = False,
        rebuild: bool = False,
        embedder: Embedder | None = None,
        generator: Generator | None = None,
    ):
        """`embedder` and `generator` let several pipelines (eval variants) share one loaded model."""
        self.settings = settings or Settings.from_env()
        s = self.settings
        if embedder is None:
            spec, path = resolve(s.models_file, "embed", s.embed_model, cache_file=s.index_dir / ".verified.json")
            embedder = Embedder(spec.name, path)
        self.embedder = embedder
        self._generator = generator
        if s.use_llm and generator is None:  # find (not load) the model first: a bad --model fails before indexing
            self._generator = self._make_generator()
        self.data, self.build_report = open_or_build(s, self.embedder, rebuild=rebuild, progress=progress)
        self.retriever = Retriever(self.data, self.embedder, s)

    def _make_generator(self) -> Generator:
        s = self.settings
        spec, path = resolve(s.models_file, "llm", s.llm_model, cache_file=s.index_dir / ".verified.json")
        return Generator(spec.name, path, s.n_ctx, s.n_threads, s.max_tokens)

    @property
    def generator(self) -> Generator:
        if self._generator is None:
            self._generator = self._make_generator()
        return self._generator

    def answer(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        on_token: Callable[[str], None] | None = None,
        use_llm: bool | None = None,
        k: int | None = None,
    ) -> Answer:
        s = self.settings
        use_llm = s.use_llm if use_llm is None else use_llm
        k = k or s.k
        t0 = time.perf_counter()
        question, notes = normalize_question(question, s.max_question_chars)
        query, model_question = contextualize(question, history)

        qv = self.embedder.encode_query(query)
        hits = self.retriever.search(query, k=max(k, SELECT_FROM), query_vector=qv)
        sentences = self._candidate_sentences(hits)
        ranked = cite.rank_sentences(
            cite.content_terms(query), qv, sentences, self.embedder.encode([x.text for x in sentences])
        ) if sentences else []
        timings = {"retrieve": (time.perf_counter() - t0) * 1000}
        result = Answer(question, "", False, [], timings, [self._passage(h) for h in hits], notes=notes, query=query)

        refusal = self._relevance_gate(question, ranked)
        if refusal:
            return self._refuse(result, refusal, t0)

        best = ranked[0]
        if not use_llm:
            return self._quote(result, best, "extractive", t0)

        passages = [p.text for p in result.passages[:k]]
        t1 = time.perf_counter()
        reply, first_ms = self.generator.complete(
            build_messages(model_question, passages), on_token, deadline_s=s.generation_timeout_s
        )
        timings["generate"] = (time.perf_counter() - t1) * 1000
        timings["first_token"] = timings["retrieve"] + first_ms
        reply = _tidy(reply)
        if not reply or MODEL_NOT_FOUND.lower() in reply.lower():
            result.notes.append("The model found no answer in the passages; the best matching sentence is shown.")
            return self._quote(result, best, "quote", t0)

        # Supported means one passage holds every content word of the reply: no mixing facts across articles.
        windows = [(p, cite.support(reply, p)) for p in passages]
        if max(score for _, score in windows) < 1.0:
            result.notes.append(QUOTE_NOTE)
            log.info("unsupported model answer %r for %r", reply, question)
            return self._quote(result, best, "quote", t0)
        window = next(p for p, score in windows if score >= 1.0)
        inside = [x for x in ranked if x.text in window]
        # Cite the sentence that carries the answer's words, preferring better-ranked ones on ties; add a
        # second sentence of the same passage when one alone does not hold them all.
        backing = max(inside, key=lambda x: (round(cite.support(reply, x.text), 3), x.score))
        cited = [backing]
        if cite.support(reply, backing.text) < 1.0:
            cited.append(max((x for x in inside if x is not backing), key=lambda x: cite.support(reply, backing.text + " " + x.text)))
        result.answer = reply
        result.citations = [x.citation() for x in cited]
        result.mode = "llm"
        result.timings_ms["total"] = (time.perf_counter() - t0) * 1000
        return result

    def _passage(self, hit: Hit) -> Passage:
        window = self.retriever.window(hit.chunk)
        return Passage(hit.chunk.source, " ".join(c.text for c in window), window[0].start_line, window[-1].end_line, hit.score, hit.chunk.title)

    def _candidate_sentences(self, hits: list[Hit]) -> list[cite.Sentence]:
        seen, out = set(), []
        for h in hits:
            for c in self.retriever.window(h.chunk):
                for sent in cite.split_sentences(c):
                    key = (c.source, sent.start_char)
                    if key not in seen:
                        seen.add(key)
                        out.append(sent)
        return out

    def _relevance_gate(self, question: str, ranked: list[cite.Sentence]) -> str:
        """Why the corpus is taken not to answer (\"\" when it may)."""
        if not ranked:
            return "nothing was retrieved"
        if ranked[0].dense < self.settings.min_relevance:
            return f"no passage is close enough to the question (best similarity {ranked[0].dense:.2f})"
        kind = cite.expected_type(question)
        if kind and not any(cite.has_type(x.text, kind, question) for x in ranked[:3]):
            return f"no retrieved sentence contains a {kind}"
        return ""

    def _refuse(self, result: Answer, why: str, t0: float) -> Answer:
        result.answer = CANNOT_ANSWER_PHRASE
        result.refused = True
        result.mode = "refused"
        result.notes.append(f"Declined: {why}.")
        result.timings_ms["total"] = (time.perf_counter() - t0) * 1000
        return result

    def _quote(self, result: Answer, best: cite.Sentence, mode: str, t0: float) -> Answer:
        result.answer = best.text
        result.citations = [best.citation()]
        result.mode = mode
        result.timings_ms["total"] = (time.perf_counter() - t0) * 1000
        return result


def _tidy(reply: str) -> str:
    reply = reply.strip().strip('"“”').strip()
    reply = re.sub(r"^(answer|short answer)\s*:\s*", "", reply, flags=re.I)
    return reply.split("\n")[0].strip()
