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

import numpy as np

from . import cite
from .config import Settings
from .embed import Embedder
from .errors import InputError
from .generate import Generator, build_messages, load_generator
from .indexer import open_or_build
from .prompts import CANNOT_ANSWER_PHRASE, MODEL_NOT_FOUND, QUOTE_NOTE
from .retrieve import Retriever
from .types import Answer, Hit, Passage

log = logging.getLogger("rag.answer")

SELECT_FROM = 5  # hits whose sentences compete for the evidence
# "Which articles mention X?" asks for a list of sources, not a fact.
_WHICH_ARTICLES = re.compile(
    r"^(which|what) (articles?|sources?|documents?|files?|stories|texts?|pieces|reports)\b\s*"
    r"(do |does |did )?(mentions?|discuss(es)?|talks? about|refers? to|says?|reports?|covers?|quotes?|names?|cites?)?\s*(?P<topic>.*)$",
    re.I,
)
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
        self.embedder = embedder or Embedder.from_settings(s)
        self._generator = generator
        if s.use_llm and generator is None:  # find (not load) the model first: a bad --model fails before indexing
            self._generator = self._make_generator()
        self.reload(progress=progress, rebuild=rebuild)

    def reload(self, progress: bool = False, rebuild: bool = False):
        """Refresh the index against the corpus folder (re-embedding only what changed) and switch to it."""
        data, report = open_or_build(self.settings, self.embedder, rebuild=rebuild, progress=progress, serve_stale=True)
        retriever = Retriever(data, self.embedder, self.settings)
        self.data, self.retriever = data, retriever
        self.term_weights = cite.TermWeights([c.text for c in data.chunks])
        self._vectors: dict[tuple[str, int, int], np.ndarray] = {}  # sentence vectors, valid for this index only
        self.build_report = report
        return report

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
        query, model_question = contextualize(question, history)

        listing = _WHICH_ARTICLES.match(question)
        if listing and listing.group("topic").strip(" ?"):
            return self._which_articles(question, listing.group("topic").strip(" ?"), notes, t0)

        stages: dict[str, float] = {}
        t1 = time.perf_counter()
        qv = self.embedder.encode_query(query)
        stages["embed_query"] = (time.perf_counter() - t1) * 1000
        hits = self.retriever.search(query, k=max(k, SELECT_FROM), query_vector=qv, timings=stages)
        t1 = time.perf_counter()
        sentences = self._candidate_sentences(hits)
        ranked = cite.rank_sentences(
            cite.content_terms(query), qv, sentences, self._sentence_vectors(sentences),
            s.sentence_lexical_weight, self.term_weights,
        ) if sentences else []
        stages["select"] = (time.perf_counter() - t1) * 1000
        timings = {"retrieve": (time.perf_counter() - t0) * 1000, **stages}
        result = Answer(question, "", False, [], timings, [self._passage(h) for h in hits], notes=notes, query=query)

        refusal = self._relevance_gate(question, ranked)
        if refusal:
            return self._refuse(result, refusal, t0)

        best = cite.with_context(ranked[0], sentences)
        if not use_llm:
            return self._quote(result, best, "extractive", t0, on_token)
        if s.answer_style == "generate":
            return self._generate(result, model_question, [best, *ranked[1:]], on_token, t0)
        return self._typed(result, model_question, best, on_token, t0)

    def _typed(self, result: Answer, question: str, best: cite.Sentence, on_token, t0: float) -> Answer:
        """A name, number or date picked from the best evidence; else the evidence sentence itself.

        The candidates come from the text; the model only chooses among them (a grammar allows nothing
        else), so it cannot invent an answer, and a single candidate needs no model at all. Where the model
        and the nearest-cue rule disagree, the sentence is the answer.
        """
        kind = cite.expected_type(question)
        options = cite.candidates(best.text, kind, question, self.term_weights) if kind else []
        if not options:
            return self._quote(result, best, "quote", t0, on_token)
        options = options[: self.settings.choose_from]
        t1 = time.perf_counter()
        if len(options) == 1:
            chosen = options[0]
        else:
            passage = cite.clip_around(best.text, options, self.settings.choose_context_words)
            chosen = self.generator.choose(question, passage, options)
        result.timings_ms["generate"] = (time.perf_counter() - t1) * 1000
        result.timings_ms["first_token"] = (time.perf_counter() - t0) * 1000
        if chosen != options[0]:  # the model and the nearest-cue rule disagree: let the sentence speak
            result.notes.append(f"Unsure between {chosen!r} and {options[0]!r}; the best supporting sentence is shown.")
            return self._quote(result, best, "quote", t0, on_token)
        if on_token:
            on_token(chosen)
        result.answer = chosen
        result.citations = [best.citation()]
        result.mode = "llm" if len(options) > 1 else "extracted"
        result.timings_ms["total"] = (time.perf_counter() - t0) * 1000
        return result

    def _generate(self, result: Answer, question: str, ranked: list[cite.Sentence], on_token, t0: float) -> Answer:
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
            return self._quote(result, best, "quote", t0)

        # Supported means one passage holds every content word of the reply: no mixing facts across articles.
        windows = [(p, cite.support(reply, p)) for p in passages]
        if max(score for _, score in windows) < 1.0:
            result.notes.append(QUOTE_NOTE)
            log.info("unsupported model answer %r for %r", reply, question)
            return self._quote(result, best, "quote", t0)
        window = next(p for p, score in windows if score >= 1.0)
        inside = [x for x in ranked if x.text in window] or [best]
        # Cite the sentence that carries the answer's words, preferring better-ranked ones on ties; add a
        # second sentence of the same passage when one alone does not hold them all.
        backing = max(inside, key=lambda x: (round(cite.support(reply, x.text), 3), x.score))
        cited = [backing]
        if cite.support(reply, backing.text) < 1.0 and len(inside) > 1:
            cited.append(max((x for x in inside if x is not backing), key=lambda x: cite.support(reply, backing.text + " " + x.text)))
        result.answer = reply
        result.citations = [x.citation() for x in cited]
        result.mode = "llm"
        result.timings_ms["total"] = (time.perf_counter() - t0) * 1000
        return result

    def _which_articles(self, question: str, topic: str, notes: list[str], t0: float) -> Answer:
        """List the articles where a sentence carries (nearly) all of the topic's terms, one citation each."""
        s = self.settings
        qv = self.embedder.encode_query(topic)
        hits = self.retriever.search(topic, k=max(s.candidates, s.k), query_vector=qv)
        sentences = [x for h in hits for x in cite.split_sentences(h.chunk)]
        terms = cite.content_terms(topic)
        ranked = cite.rank_sentences(terms, qv, sentences, self._sentence_vectors(sentences),
                                     s.sentence_lexical_weight, self.term_weights) if sentences else []
        total = sum(self.term_weights(t) for t in terms) or 1.0
        best: dict[str, cite.Sentence] = {}
        for x in ranked:
            coverage = sum(self.term_weights(t) for t in terms & cite.content_terms(x.text)) / total
            if coverage >= s.list_coverage and x.chunk.source not in best:
                best[x.chunk.source] = x
        timings = {"retrieve": (time.perf_counter() - t0) * 1000}
        result = Answer(question, "", False, [], timings, [self._passage(h) for h in hits[:SELECT_FROM]], notes=notes, query=topic)
        if not best:
            return self._refuse(result, f"no article mentions {topic}", t0)
        found = sorted(best.values(), key=lambda x: x.chunk.source)[: s.list_max]
        names = "; ".join(f"{x.chunk.source} (“{x.chunk.title}”)" for x in found)
        result.answer = f"{len(found)} article{'s' if len(found) > 1 else ''}: {names}."
        result.citations = [x.citation() for x in found]
        result.mode = "list"
        result.timings_ms["total"] = (time.perf_counter() - t0) * 1000
        return result

    def _sentence_vectors(self, sentences: list[cite.Sentence]):
        """Sentence embeddings, remembered across questions: a long-running UI embeds each sentence once."""
        keys = [(x.chunk.source, x.start_char, x.end_char) for x in sentences]
        missing = [(key, x) for key, x in zip(keys, sentences) if key not in self._vectors]
        if missing:
            for (key, _), v in zip(missing, self.embedder.encode([x.text for _, x in missing])):
                self._vectors[key] = v
        return np.stack([self._vectors[key] for key in keys])

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
        """Why the corpus is taken not to answer ("" when it may). Thresholds are calibrated on the dev split."""
        s = self.settings
        if not ranked:
            return "nothing was retrieved"
        best = ranked[0]
        if best.score < s.min_relevance:
            return f"no passage is close enough to the question (relevance {best.score:.2f} < {s.min_relevance})"
        asked = cite.relation_terms(question)
        around = cite.content_terms(" ".join(c.text for c in self.retriever.window(best.chunk)))
        share = cite.coverage(asked, around, self.term_weights)
        if share < s.min_relation_coverage and best.score < s.confident_relevance:
            return f"the passages do not speak of what the question asks about ({', '.join(sorted(asked))})"
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

    def _quote(self, result: Answer, best: cite.Sentence, mode: str, t0: float, on_token=None) -> Answer:
        if on_token:
            on_token(best.text)
        result.answer = best.text
        result.citations = [best.citation()]
        result.mode = mode
        result.timings_ms["total"] = (time.perf_counter() - t0) * 1000
        return result


def _tidy(reply: str) -> str:
    reply = reply.strip().strip('"“”').strip()
    reply = re.sub(r"^(answer|short answer)\s*:\s*", "", reply, flags=re.I)
    return reply.split("\n")[0].strip()
