"""answer(): the one call the CLI, the web UI, the API and the evaluation all make.

question -> understand it (query.py) -> hybrid retrieval (retrieve.py) -> rank the evidence sentences and
decide whether the corpus answers at all (select.py) -> compose the answer in the question's shape, every
statement cited (compose.py). The small model only picks a factoid's short answer among spans of the
evidence; the answer_style "generate" variant lets it write freely, kept only when the evidence supports it.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from contextlib import nullcontext

import numpy as np

from . import compose, text
from .config import Settings
from .embed import Embedder
from .errors import InputError
from .generate import Generator, build_messages, load_generator
from .indexer import open_current, open_or_build
from .prompts import CANNOT_ANSWER_PHRASE, MODEL_NOT_FOUND, NO_DOCUMENT_MENTIONS, QUOTE_NOTE
from .query import Query, analyze
from .retrieve import Retriever
from .select import Gate, Sentence, answerable, decline_reason, rank, split_sentences, with_context
from .types import Answer, Chunk, Hit, Passage

log = logging.getLogger("rag.answer")

SELECT_FROM = 5  # hits whose sentences compete for the evidence


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


class Pipeline:
    """Models and index, loaded once; answer() many times."""

    def __init__(
        self,
        settings: Settings | None = None,
        progress: bool = False,
        rebuild: bool = False,
        embedder: Embedder | None = None,
        generator: Generator | None = None,
        index=None,
    ):
        """`embedder` and `generator` let several pipelines (eval variants) share one loaded model; `index`, a
        (generation, report) already opened, is used as it is."""
        self.settings = settings or Settings.from_env()
        s = self.settings
        self.embedder = embedder or Embedder.from_settings(s)
        self._generator = generator
        if s.use_llm and generator is None:  # find (not load) the model first: a bad --model fails before indexing
            self._generator = self._make_generator()
        if index is not None:
            self.switch(*index)
        else:
            self.reload(progress=progress, rebuild=rebuild)

    def reload(self, progress: bool = False, rebuild: bool = False, lock=None):
        """Open the live index generation and switch to it. Lock-free and without parsing the corpus when the
        generation is current; otherwise refreshed first (re-embedding only what changed). `rebuild` (and a
        Re-index in the UI) builds the next generation as a writer; answering goes on from the live one meanwhile,
        and `lock` (held while answering) is taken only for the switch."""
        if rebuild or lock is not None:
            data, report = open_or_build(self.settings, self.embedder, rebuild=rebuild, progress=progress, serve_stale=True)
        else:
            data, report = open_current(self.settings, self.embedder, progress=progress)
        self.switch(data, report, lock)
        return report

    def switch(self, data, report=None, lock=None) -> None:
        """Answer from generation `data` from now on; everything derived from it is made before the switch."""
        from .indexer import current_report

        retriever = Retriever(data, self.embedder, self.settings)
        titles = {c.source: c.title for c in data.chunks}
        vocabulary = text.Vocabulary([f"{c.title} {c.heading} {c.text}" for c in data.chunks])
        with lock if lock is not None else nullcontext():
            self.data, self.retriever = data, retriever
            self._titles, self.vocabulary = titles, vocabulary
            self._vectors: dict[tuple[str, int, int], np.ndarray] = {}  # sentence vectors, valid for this index only
            self.build_report = report or current_report(data)

    def warm_up(self) -> None:
        """Load the models now rather than on the first question (a server's first user should not wait)."""
        self.embedder.encode(["warm up"])
        if self._generator is not None:
            self._generator.llm

    def use_model(self, name: str) -> None:
        """Switch the language model (by models.txt name or .gguf path); it loads on first use."""
        self.settings = self.settings.replace(llm_model=name)
        self._generator = self._make_generator()

    def _make_generator(self) -> Generator:
        return load_generator(self.settings)  # in this process, or a model server (an openai: line in models.txt)

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
        query = analyze(question, history, self.vocabulary, self.embedder.dictionary())
        notes += list(query.notes)

        if query.form == "listing":
            return self._which_articles(question, query, notes, t0)

        stages: dict[str, float] = {}
        t1 = time.perf_counter()
        qv = self.embedder.encode_query(query.search)
        stages["embed_query"] = (time.perf_counter() - t1) * 1000
        hits = self.retriever.search(query.search, k=max(k, SELECT_FROM), query_vector=qv, timings=stages)
        t1 = time.perf_counter()
        pool = self._candidate_sentences(hits)
        ranked = rank(query, qv, pool, self._sentence_vectors(pool), s.sentence_lexical_weight, self.vocabulary) if pool else []
        evidence = [x for x in ranked if answerable(x)]
        stages["select"] = (time.perf_counter() - t1) * 1000
        timings = {"retrieve": (time.perf_counter() - t0) * 1000, **stages}
        result = Answer(question, "", False, [], timings, [self._passage(h) for h in hits], notes=notes,
                        query=query.search, form=query.form)

        about = self._documents_about(query) if query.form == "definition" else []
        lead = [x for x in self._lead(about[0]) if answerable(x)][:1] if about else []
        if lead:  # a document whose title names the subject: its opening statement defines it
            evidence, ranked = [*lead, *evidence], [*lead, *ranked]
        passage_terms = self._passage_terms(evidence[0].chunk) if evidence else set()
        top_terms = set().union(*(self._passage_terms(h.chunk) for h in hits[: s.gate_passages]))
        refusal = "" if lead and not query.unknown else decline_reason(
            query, evidence, passage_terms, self._gate(), self.vocabulary, top_terms)
        if refusal:
            return self._refuse(result, refusal, t0, query)

        if query.form == "factoid" and query.expects in ("number", "time"):
            # the answer must be a number or date bound to the question's words: the best sentence holding one
            stating = [x for x in evidence[: s.bound_from] if compose.bound(query, x.text, self.vocabulary)]
            if not stating:
                return self._refuse(result, f"no retrieved sentence states a {query.expects} for what the question asks", t0, query)
            evidence = [stating[0], *(x for x in evidence if x is not stating[0])]

        if s.answer_style == "generate" and use_llm:
            return self._generate(result, query.ask, [with_context(evidence[0], pool), *evidence[1:]], on_token, t0)
        t1 = time.perf_counter()
        composed = self._compose(query, ranked, evidence, pool, use_llm, bool(lead))
        result.timings_ms["compose"] = (time.perf_counter() - t1) * 1000
        return self._finish(result, composed, t0, on_token)

    def _passage_terms(self, c: Chunk) -> set[str]:
        """What a passage speaks of: the chunk's window, title and heading trail."""
        return text.terms(" ".join([c.title, c.heading, *(w.text for w in self.retriever.window(c))]))

    def _gate(self) -> Gate:
        s = self.settings
        return Gate(s.min_relevance, s.min_coverage, s.min_coverage_top, s.confident_relevance)

    def _compose(self, query: Query, ranked: list[Sentence], evidence: list[Sentence], pool: list[Sentence],
                 use_llm: bool, lead_defines: bool = False) -> compose.Composed:
        """The answer in the question's shape (see rag/compose.py)."""
        s = self.settings
        best = with_context(evidence[0], pool)
        if lead_defines:
            return compose.marked([evidence[0]])
        if query.form == "definition" and query.subject:
            return compose.definition(query, evidence, pool)
        if query.form == "yesno":
            return compose.yes_no(query, best, self.vocabulary, s.yesno_coverage)
        if query.form == "summary":
            source = evidence[0].chunk.source
            lead = self._lead(source)
            return compose.summary([x for x in evidence if x.chunk.source == source], [x for x in lead if answerable(x)])
        if query.form == "explanatory":
            anchor = ranked[0] if ranked[0].chunk.kind == "text" and ranked[0].score >= evidence[0].score - s.anchor_margin else evidence[0]
            return compose.explanation(anchor, self._reading_order(anchor))
        choose = self.generator.choose if use_llm else None
        return compose.factoid(query, best, choose, s.choose_from, s.choose_context_words, self.vocabulary)

    def _documents_about(self, query: Query) -> list[str]:
        """Documents titled by the subject itself ("git rerere" -> "git-rerere(1)"): the title's words, numbers
        aside, are the subject's words. A title that merely mentions the subject is not about it."""
        words = lambda t: {w for w in text.terms(t.replace("-", " ")) if not w.isdigit()}  # noqa: E731
        want = words(query.subject)
        return [src for src, title in self._titles.items() if words(title) == want] if want else []

    def _lead(self, source: str) -> list[Sentence]:
        return [x for c in self.retriever.reading_order(self.retriever.first_chunk(source), 3) for x in split_sentences(c)]

    def _reading_order(self, anchor: Sentence) -> list[Sentence]:
        return [x for c in self.retriever.reading_order(anchor.chunk) for x in split_sentences(c)]

    def _finish(self, result: Answer, composed: compose.Composed, t0: float, on_token=None) -> Answer:
        if on_token:
            on_token(composed.answer)
        result.answer = composed.answer
        result.short = composed.short
        result.citations = composed.citations
        result.mode = composed.mode
        result.notes += composed.notes
        result.timings_ms.setdefault("first_token", (time.perf_counter() - t0) * 1000)
        result.timings_ms["total"] = (time.perf_counter() - t0) * 1000
        return result

    def _generate(self, result: Answer, question: str, ranked: list[Sentence], on_token, t0: float) -> Answer:
        """Free generation from the top passages, kept only when one passage supports every content word."""
        s = self.settings
        timings = result.timings_ms
        best = ranked[0]
        passages = [p.text for p in result.passages[: s.k]]
        t1 = time.perf_counter()
        reply, first_ms = self.generator.complete(
            build_messages(question, passages), on_token, deadline_s=s.generation_timeout_s
        )
        timings["generate"] = (time.perf_counter() - t1) * 1000
        timings["first_token"] = timings["retrieve"] + first_ms
        reply = _tidy(reply)
        if not reply or MODEL_NOT_FOUND.lower() in reply.lower():
            result.notes.append("The model found no answer in the passages; the best matching sentence is shown.")
            return self._finish(result, compose.marked([best]), t0)

        # Supported means one passage holds every content word of the reply: no mixing facts across articles.
        windows = [(p, text.support(reply, p)) for p in passages]
        if max(score for _, score in windows) < 1.0:
            result.notes.append(QUOTE_NOTE)
            log.info("unsupported model answer %r for %r", reply, question)
            return self._finish(result, compose.marked([best]), t0)
        window = next(p for p, score in windows if score >= 1.0)
        inside = [x for x in ranked if x.text in window] or [best]
        # Cite the sentence that carries the answer's words, preferring better-ranked ones on ties; add a
        # second sentence of the same passage when one alone does not hold them all.
        backing = max(inside, key=lambda x: (round(text.support(reply, x.text), 3), x.score))
        cited = [backing]
        if text.support(reply, backing.text) < 1.0 and len(inside) > 1:
            cited.append(max((x for x in inside if x is not backing), key=lambda x: text.support(reply, backing.text + " " + x.text)))
        result.answer = reply
        result.citations = [x.citation() for x in cited]
        result.mode = "llm"
        result.timings_ms["total"] = (time.perf_counter() - t0) * 1000
        return result

    def _which_articles(self, question: str, query: Query, notes: list[str], t0: float) -> Answer:
        """List the documents where a sentence carries (nearly) all of the topic's terms, one citation each."""
        s = self.settings
        topic = query.subject
        topic_query = analyze(topic, (), self.vocabulary)
        qv = self.embedder.encode_query(topic)
        hits = self.retriever.search(topic, k=max(s.candidates, s.k), query_vector=qv)
        sentences = [x for h in hits for x in split_sentences(h.chunk)]
        ranked = rank(topic_query, qv, sentences, self._sentence_vectors(sentences), s.sentence_lexical_weight,
                      self.vocabulary) if sentences else []
        best: dict[str, Sentence] = {}
        for x in ranked:
            if x.overlap >= s.list_coverage and x.chunk.source not in best:
                best[x.chunk.source] = x
        timings = {"retrieve": (time.perf_counter() - t0) * 1000}
        result = Answer(question, "", False, [], timings, [self._passage(h) for h in hits[:SELECT_FROM]], notes=notes,
                        query=topic, form="listing")
        if query.unknown:
            return self._refuse(result, decline_reason(query, ranked, set(), self._gate(), self.vocabulary), t0, query)
        if not best:
            return self._refuse(result, f"no document mentions {topic}", t0, query)
        found = sorted(best.values(), key=lambda x: x.chunk.source)[: s.list_max]
        items = "\n".join(f"- {x.chunk.source} (“{x.chunk.title}”): {x.text} [{n}]" for n, x in enumerate(found, 1))
        result.answer = f"{len(found)} document{'s' if len(found) > 1 else ''}:\n{items}"
        result.citations = [x.citation() for x in found]
        result.mode = "list"
        result.timings_ms["total"] = (time.perf_counter() - t0) * 1000
        return result

    def _sentence_vectors(self, sentences: list[Sentence]):
        """Sentence embeddings, remembered across questions: a long-running UI embeds each sentence once."""
        missing = [x for x in sentences if x.key not in self._vectors]
        if missing:
            for x, v in zip(missing, self.embedder.encode([x.text for x in missing])):
                self._vectors[x.key] = v
        return np.stack([self._vectors[x.key] for x in sentences])

    def _passage(self, hit: Hit) -> Passage:
        window = self.retriever.window(hit.chunk)
        c = hit.chunk
        return Passage(c.source, " ".join(w.text for w in window), window[0].start_line, window[-1].end_line, hit.score,
                       c.title, c.page, c.heading)

    def _candidate_sentences(self, hits: list[Hit]) -> list[Sentence]:
        """The sentences of the hits' windows, each once, in retrieval order."""
        seen, out = set(), []
        for h in hits:
            for c in self.retriever.window(h.chunk):
                for sent in split_sentences(c):
                    if sent.key not in seen:
                        seen.add(sent.key)
                        out.append(sent)
        return out

    def _refuse(self, result: Answer, why: str, t0: float, query: Query | None = None) -> Answer:
        result.answer = CANNOT_ANSWER_PHRASE
        if query is not None and query.unknown:
            result.answer += " " + NO_DOCUMENT_MENTIONS.format(names=", ".join(f"“{n}”" for n in query.unknown))
        result.refused = True
        result.mode = "refused"
        result.notes.append(f"Declined: {why}.")
        result.timings_ms["total"] = (time.perf_counter() - t0) * 1000
        return result


def _tidy(reply: str) -> str:
    reply = reply.strip().strip('"“”').strip()
    reply = re.sub(r"^(answer|short answer)\s*:\s*", "", reply, flags=re.I)
    return reply.split("\n")[0].strip()
