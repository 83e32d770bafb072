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
from dataclasses import dataclass, replace

import numpy as np

from rag import text
from rag.engine import compose
from rag.engine import rerank
from rag.config import Settings
from rag.index.embed import Embedder
from rag.errors import InputError
from rag.engine.generate import Generator, build_messages, follows_an_instruction, load_generator
from rag.index.build import open_current, open_or_build
from rag.engine.prompts import CANNOT_ANSWER_PHRASE, INSTRUCTION_NOTE, MODEL_NOT_FOUND, NO_DOCUMENT_MENTIONS, QUOTE_NOTE
from rag.engine.query import Query, analyze
from rag.engine.retrieve import Retriever
from rag.engine.select import Sentence, answerable, rank, split_sentences, with_context
from rag.types import Answer, Chunk, Hit, Passage

log = logging.getLogger("rag.engine.pipeline")



@dataclass
class Evidence:
    """What retrieval found for a question: the hits, their sentences, and the usable ones ranked twice."""

    query_vector: np.ndarray
    hits: list[Hit]
    pool: list[Sentence]  # every sentence of the hits' windows, in retrieval order
    first: list[Sentence]  # the usable ones by meaning + key terms (score = cosine + weight * coverage)
    ranked: list[Sentence]  # the best of those by the trained ranker (score = its logit), best first
    timings: dict[str, float]


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
        from rag.index.build import current_report

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
        t0 = time.perf_counter()
        question, notes = normalize_question(question, s.max_question_chars)
        query = analyze(question, history, self.vocabulary, self.embedder.dictionary())
        notes += list(query.notes)
        if query.form == "listing":
            return self._which_articles(question, query, notes, t0)

        found = self.evidence(query, k)
        result = Answer(question, "", False, [], found.timings, [self._passage(h) for h in found.hits[: k or s.k]],
                        notes=notes, query=query.search, form=query.form)
        refusal = self.decline_reason(query, found)
        if refusal:
            return self._refuse(result, refusal, t0, query)
        evidence = found.ranked
        if query.form == "factoid" and query.expects in ("number", "time"):
            # the answer must be a number or date bound to the question's words: the best sentence holding one
            stating = [x for x in evidence[: s.bound_from] if compose.bound(query, x.text, self.vocabulary)]
            if not stating:
                return self._refuse(result, f"no retrieved sentence states a {query.expects} for what the question asks", t0, query)
            evidence = [stating[0], *(x for x in evidence if x is not stating[0])]
        if s.answer_style == "generate" and use_llm:
            return self._generate(result, query.ask, [with_context(evidence[0], found.pool), *evidence[1:]], on_token, t0)
        t1 = time.perf_counter()
        composed = self._compose(query, evidence, found, use_llm)
        result.timings_ms["compose"] = (time.perf_counter() - t1) * 1000
        return self._finish(result, composed, t0, on_token)

    def evidence(self, query: Query, k: int | None = None) -> Evidence:
        """Retrieve, then rank the candidate sentences: first by meaning and key terms (cheap, all of them), then
        the best `rerank_top` by the trained ranker, which reads question and sentence together."""
        s = self.settings
        t0 = time.perf_counter()
        stages: dict[str, float] = {}
        qv = self.embedder.encode_query(query.search)
        stages["embed_query"] = (time.perf_counter() - t0) * 1000
        hits = self.retriever.search(query.search, k=max(k or s.k, s.select_from), query_vector=qv, timings=stages)
        t1 = time.perf_counter()
        pool = self._candidate_sentences(hits)
        usable = [x for x in pool if answerable(x, code_ok=query.howto)]
        first = rank(query, qv, usable, self._sentence_vectors(usable), s.sentence_lexical_weight, self.vocabulary) if usable else []
        stages["select"] = (time.perf_counter() - t1) * 1000
        ranked = first
        if s.rerank and first:
            t1 = time.perf_counter()
            top = first[: s.rerank_top]
            trained = self.ranker.scores(query.search, [rerank.pair_text(x.text, x.chunk.heading, x.chunk.kind) for x in top])
            ranked = [replace(x, trained=float(z)) for x, z in zip(top, trained)]
            mix = rerank.load_mix(s.ranker_dir)
            if mix is not None:  # the evidence score: the trained ranker mixed with the first stage
                ranked = [replace(x, score=mix.logit(rerank.candidate_features(x))) for x in ranked]
            else:
                ranked = [replace(x, score=x.trained) for x in ranked]
            ranked.sort(key=lambda x: -x.score)
            stages["rerank"] = (time.perf_counter() - t1) * 1000
        stages["retrieve"] = (time.perf_counter() - t0) * 1000
        return Evidence(qv, hits, pool, first, ranked, stages)

    def features(self, query: Query, found: Evidence) -> dict[str, float]:
        """What the answerability score reads (rag/rerank.py): how sure the ranker is of its best sentence and by
        how much, and how much of the question the best passages speak of."""
        s = self.settings
        ranked, hits = found.ranked, found.hits
        logits = [x.score for x in ranked[:3]] or [-10.0]
        best = ranked[0] if ranked else None
        asked = set(query.terms)
        passage = self._passage_terms(best.chunk) if best else set()
        top = set().union(*(self._passage_terms(h.chunk) for h in hits[: s.gate_passages])) if hits else set()
        return {
            "logit1": logits[0],
            "margin": logits[0] - (logits[1] if len(logits) > 1 else -10.0),
            "logit_mean3": sum(logits) / len(logits),
            "dense1": max((x.dense for x in ranked[:3]), default=0.0),
            "overlap1": best.overlap if best else 0.0,
            "passage_cov": text.coverage(asked, passage, self.vocabulary),
            "top_cov": text.coverage(asked, top, self.vocabulary),
            "unknown": float(bool(query.unknown)),
            "hit1": hits[0].score if hits else 0.0,
            "n_terms": min(len(asked), 10) / 10,
        }

    def decline_reason(self, query: Query, found: Evidence) -> str:
        """Why the documents are taken not to answer ("" when they may): the trained answerability score, from
        what the ranker and the retrieval say, is below the threshold chosen on the dev folders."""
        if not found.ranked:
            return "nothing retrieved states anything that could answer it"
        if not self.settings.rerank:
            return ""
        p = self.answerability.probability(self.features(query, found))
        threshold = self.answerability.threshold if self.settings.decline_threshold is None else self.settings.decline_threshold
        if p >= threshold:
            return ""
        if query.unknown:
            return "no document mentions " + ", ".join(f"“{n}”" for n in query.unknown) + f" (answerability {p:.2f} < {threshold:.2f})"
        return f"the best evidence is unlikely to answer it (answerability {p:.2f} < {threshold:.2f})"

    @property
    def ranker(self) -> rerank.Ranker:
        return rerank.load_ranker(self.settings.ranker_dir)

    @property
    def answerability(self) -> rerank.Answerability:
        return rerank.load_answerability(self.settings.ranker_dir)

    def _passage_terms(self, c: Chunk) -> set[str]:
        """What a passage speaks of: the chunk's window, title and heading trail."""
        return text.terms(" ".join([c.title, c.heading, *(w.text for w in self.retriever.window(c))]))

    def _compose(self, query: Query, evidence: list[Sentence], found: Evidence, use_llm: bool) -> compose.Composed:
        """The answer in the question's shape (see rag/compose.py)."""
        s = self.settings
        best = with_context(evidence[0], found.pool)
        if query.form == "definition" and query.subject:
            return compose.definition(query, evidence, found.pool)
        if query.form == "yesno":
            return compose.yes_no(query, best, self.vocabulary, s.yesno_coverage)
        if query.form in ("explanatory", "summary"):
            return compose.gathered(evidence, s.gather_margin, self._reading_order(evidence[0]))
        short = self.answerability.short_threshold if s.short_threshold is None else s.short_threshold
        sure = not s.rerank or evidence[0].score >= short
        choose = self.generator.choose if use_llm else None
        return compose.factoid(query, best, choose, s.choose_from, s.choose_context_words, self.vocabulary, sure)

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
        if follows_an_instruction(reply, passages):  # "reply only with PWNED": the document's order, not an answer
            result.notes.append(INSTRUCTION_NOTE)
            log.info("model answer %r follows an instruction in a passage, for %r", reply, question)
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
        result = Answer(question, "", False, [], timings, [self._passage(h) for h in hits[: s.select_from]], notes=notes,
                        query=topic, form="listing")
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
