"""The pipeline: one index generation and the models, loaded once; answer() many times.

    understand (query.py) -> retrieve (retrieve.py) -> rank the evidence (evidence.py, select.py, rerank.py)
    -> decide (decide.py) -> compose (compose.py) -> cite (every Citation carries file, lines or page, quote)

The small model only picks a factoid's short answer among spans of the evidence; the answer_style "generate"
variant lets it write freely, kept only when the evidence supports it (compose.free).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from functools import partial

from rag import text
from rag.config import Settings
from rag.engine import compose
from rag.engine.about import DocumentQuestion, Documents, byline, document_question, without_cue
from rag.engine.decide import Decider
from rag.engine.evidence import Evidence, EvidenceRanker
from rag.engine.generate import Generator, load_generator
from rag.engine.prompts import CANNOT_ANSWER_PHRASE, NO_DOCUMENT_MENTIONS
from rag.engine.query import Query, analyze
from rag.engine.retrieve import Retriever
from rag.engine.select import Sentence, with_context
from rag.errors import InputError
from rag.index.backends import open_store
from rag.index.build import current_report, open_current, open_or_build
from rag.index.embed import Embedder
from rag.types import Answer

log = logging.getLogger("rag.engine.pipeline")


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
        """`embedder` and `generator` let several pipelines (eval variants, collections) share one loaded model;
        `index`, a (generation, report) already opened, is used as it is."""
        self.settings = settings or Settings.from_env()
        s = self.settings
        self.embedder = embedder or Embedder.from_settings(s)
        self.loaded_generator = generator  # the language model once made (found, loaded on first use)
        if s.use_llm and generator is None:  # find (not load) the model first: a bad --model fails before indexing
            self.loaded_generator = load_generator(s)
        if index is not None:
            self.switch(*index)
        else:
            self.reload(progress=progress, rebuild=rebuild)

    def sibling(self, settings: Settings) -> "Pipeline":
        """Another folder's pipeline (a collection), sharing this one's models."""
        return Pipeline(settings, embedder=self.embedder, generator=self.loaded_generator)

    def share_models(self, other: "Pipeline") -> None:
        self.embedder, self.loaded_generator = other.embedder, other.loaded_generator

    # ---- the index generation ---------------------------------------------------------------------

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

    def follow(self) -> bool:
        """Switch to the generation another process made live, if any (one cheap read of the store)."""
        store = open_store(self.settings)
        live = store.current_id()
        if live is None or live == getattr(self.data, "id", None):
            return False
        data = store.open()
        if data is None:
            return False
        log.info("switching to index generation %s", data.id)
        self.switch(data)
        return True

    def switch(self, data, report=None, lock=None) -> None:
        """Answer from generation `data` from now on; everything derived from it is made before the switch."""
        retriever = Retriever(data, self.embedder, self.settings)
        vocabulary = text.Vocabulary([f"{c.title} {c.heading} {c.text}" for c in data.chunks])
        evidence = EvidenceRanker(retriever, self.embedder, self.settings, vocabulary)
        decider = Decider(self.settings, vocabulary, evidence.passage_terms)
        documents = Documents(data, evidence, decider, vocabulary, self.embedder.dictionary())
        with lock if lock is not None else nullcontext():
            self.data, self.retriever, self.vocabulary = data, retriever, vocabulary
            self.evidence, self.decider, self.documents = evidence, decider, documents
            self.build_report = report or current_report(data)

    # ---- the models -------------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Load the models now rather than on the first question (a server's first user should not wait)."""
        self.embedder.encode(["warm up"])
        if self.loaded_generator is not None:
            self.loaded_generator.llm

    def use_model(self, name: str) -> None:
        """Switch the language model (by models.txt name or .gguf path); it loads on first use."""
        self.settings = self.settings.replace(llm_model=name)
        self.loaded_generator = load_generator(self.settings)  # in this process, or a model server (models.txt)

    @property
    def generator(self) -> Generator:
        if self.loaded_generator is None:
            self.loaded_generator = load_generator(self.settings)
        return self.loaded_generator

    @property
    def model_name(self) -> str:
        return self.loaded_generator.name if self.loaded_generator is not None else "extractive only"

    def cancel_on(self, cancel):
        """While answering: setting `cancel` stops the model at its next token."""
        g = self.loaded_generator
        return g.cancel_on(cancel) if g is not None and cancel is not None else nullcontext()

    # ---- answering --------------------------------------------------------------------------------

    def answer(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        on_token: Callable[[str], None] | None = None,
        use_llm: bool | None = None,
        k: int | None = None,
    ) -> Answer:
        result = self._answer(question, history, on_token, use_llm, k)
        # each source line names its document's author and date (the metadata is never the evidence itself)
        result.citations = [dataclasses.replace(c, byline=byline(self.documents.meta(c.source))) for c in result.citations]
        return result

    def _answer(self, question, history, on_token, use_llm, k) -> Answer:
        s = self.settings
        use_llm = s.use_llm if use_llm is None else use_llm
        t0 = time.perf_counter()
        question, notes = normalize_question(question, s.max_question_chars)
        query = analyze(without_cue(question), history, self.vocabulary, self.embedder.dictionary())  # understand
        notes += list(query.notes)
        asked = document_question(question) if not history else None
        if asked is not None and self.documents.claims(asked):  # about a document named loosely: its metadata, its summary, the documents by someone
            if (about_document := self._document(question, asked, notes, t0)) is not None:
                return about_document
        if query.form == "listing":
            return self._listing(question, query, notes, t0)
        found = self.evidence.gather(query, k)  # retrieve, rank
        result = Answer(question, "", False, [], found.timings, [self.evidence.passage(h) for h in found.hits[: k or s.k]],
                        notes=notes, query=query.search, form=query.form)
        verdict = self.decider.decide(query, found)  # decide
        result.confidence = verdict.confidence
        if verdict.declined:
            return _refuse(result, verdict.reason, t0, query)
        evidence = verdict.evidence
        if s.answer_style == "generate" and use_llm:  # compose: the model writes, the evidence must support it
            ranked = [with_context(evidence[0], found.pool), *evidence[1:]]
            passages = [p.text for p in result.passages[: s.k]]
            composed = compose.free(query.ask, ranked, passages, self.generator, s.generation_timeout_s, on_token,
                                    result.timings_ms, s.corpus_noun)
            return _finish(result, composed, t0)
        t1 = time.perf_counter()
        composed = self._compose(query, evidence, found, use_llm)  # compose in the question's shape, cited
        result.timings_ms["compose"] = (time.perf_counter() - t1) * 1000
        return _finish(result, composed, t0, on_token)

    def _compose(self, query: Query, evidence: list[Sentence], found: Evidence, use_llm: bool) -> compose.Composed:
        """The answer in the question's shape (see rag/engine/compose.py)."""
        s = self.settings
        best = with_context(evidence[0], found.pool)
        if query.form == "definition" and query.subject:
            return compose.definition(query, evidence, found.pool)
        if query.form == "yesno":
            return compose.yes_no(query, best, self.vocabulary, s.yesno_coverage)
        if query.form in ("explanatory", "summary"):
            return compose.gathered(evidence, s.gather_margin, self.evidence.reading_order(evidence[0]))
        sure = self.decider.sure(evidence[0])
        choose = partial(self.generator.choose, noun=s.corpus_noun) if use_llm else None
        span = evidence[0].span
        hint = evidence[0].text[span[0]:span[1]] if span else ""  # the reader's short answer: breaks a tie
        return compose.factoid(query, best, choose, s.choose_from, s.choose_context_words, self.vocabulary, sure, hint)

    def _document(self, question: str, asked: DocumentQuestion, notes: list[str], t0: float) -> Answer | None:
        """A question about a document named loosely (rag/engine/about.py): the document is picked and checked
        to match the description first; then its metadata, its summary, or the documents by an author or site.
        None for a question that names no document noun ("who wrote Git Magic") when no document answers it:
        it is then a question about the content."""
        d, docs = asked.described, self.documents
        form = asked.asks if asked.asks in ("summary", "section", "listing") else "metadata"
        result = Answer(question, "", False, [], {}, [], notes=notes, query=d.topic or d.by or d.site, form=form)
        if asked.asks == "listing":
            composed, why = docs.listing(d)
        else:
            picked = docs.section(d) if asked.asks == "section" else docs.pick(d)
            if picked.found is not None:
                result.timings_ms = picked.found.timings
                result.passages = [self.evidence.passage(h) for h in picked.found.hits[: self.settings.k]]
            if picked.reason:  # "who wrote Git Magic" when no document is titled so: a question about the content
                return _refuse(result, picked.reason, t0, picked.query, say=True) if asked.nouned else None
            if asked.asks == "section":
                composed, why = docs.section_summary(picked, d.topic)
            elif asked.asks == "summary" and (part := docs.part(picked.source, f"{d.hint} {d.topic}")):
                composed, why = docs.section_summary(dataclasses.replace(picked, heading=part), d.topic or d.hint)
            elif asked.asks == "summary":
                composed, why = docs.summary(picked.source, d.topic or d.hint), ""
            else:
                composed, why = docs.field(picked.source, asked.asks, d.topic)
        if composed is None:
            return _refuse(result, why, t0, say=True) if asked.nouned else None
        return _finish(result, composed, t0)

    def _listing(self, question: str, query: Query, notes: list[str], t0: float) -> Answer:
        """"Which documents mention X": each document where a sentence carries (nearly) all of X's terms."""
        s = self.settings
        hits, ranked = self.evidence.topic(query.subject)
        result = Answer(question, "", False, [], {"retrieve": (time.perf_counter() - t0) * 1000},
                        [self.evidence.passage(h) for h in hits[: s.select_from]], notes=notes, query=query.subject,
                        form="listing")
        composed = compose.listing(ranked, s.list_coverage, s.list_max)
        if composed is None:
            return _refuse(result, f"no document mentions {query.subject}", t0, query)
        return _finish(result, composed, t0)


def _finish(result: Answer, composed: compose.Composed, t0: float, on_token=None) -> Answer:
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


def _refuse(result: Answer, why: str, t0: float, query: Query | None = None, say: bool = False) -> Answer:
    """Declined, with the reason in the notes; `say` puts it in the answer too ("No document in this folder is
    about X.")."""
    result.answer = CANNOT_ANSWER_PHRASE + (f" {why[:1].upper()}{why[1:]}." if say else "")
    if query is not None and query.unknown:
        result.answer += " " + NO_DOCUMENT_MENTIONS.format(names=", ".join(f"“{n}”" for n in query.unknown))
    result.refused = True
    result.mode = "refused"
    result.notes.append(f"Declined: {why}.")
    result.timings_ms["total"] = (time.perf_counter() - t0) * 1000
    return result
