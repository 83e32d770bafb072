"""The answering service: the only way to answer. The web chat (ui/app.py), the OpenAI-compatible API
(rag/serve/api.py, in the chat's server or alone in `rag api --workers N`) and the `ask` command all go through it.

It owns:
    the collections   the served folder plus every registered one (rag/serve/registry.py), one pipeline each,
                      built on first use, all sharing the loaded models
    the queue         admit(bounded) -> leave(); a bounded request (the API) is refused at once when full
    the model's lock  llama.cpp is not safe to call from two threads; one question at a time holds it
    cancel            a cancelled question leaves the queue, or stops the model at its next token
    generations       before each question it looks (at most every FOLLOW_S s, one cheap read of the store) whether
                      another process made a new generation live, and switches to it; a rebuild started here
                      builds the next generation beside the live one, which answers meanwhile

    answer(question, history, on_token, k, cancel, collection) -> Answer
    stream(question, history, collection, k, cancel) -> the answer's text as it comes, then the final Answer
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from rag.config import Settings
from rag.engine.pipeline import Pipeline
from rag.errors import Cancelled, QueueFull, RagError
from rag.index.store import BuildReport
from rag.serve import registry
from rag.types import Answer

log = logging.getLogger("rag.serve.service")

FOLLOW_S = 2.0  # how often a process checks the store for a generation another process made live
WAIT_STEP_S = 0.2  # how often a question waiting for the model looks whether it was cancelled


class AnswerService:
    def __init__(self, pipeline: Pipeline, collections: list[registry.Collection] | None = None,
                 follow_s: float = FOLLOW_S):
        """`pipeline` answers for the folder the process was started with; each named collection (all registered
        ones when `collections` is None) gets its own index and pipeline, sharing the models."""
        self.pipeline = pipeline
        s = pipeline.settings
        self.default = s.collection_name or Path(s.corpus_dir).resolve().name or "documents"
        self.collections: dict[str, Settings] = {self.default: s}
        if collections is None:
            try:
                collections = registry.load(s)
            except RagError as e:
                log.warning("%s", e)
                collections = []
        for c in collections:
            self.collections.setdefault(c.name, c.settings(s))
        self._pipelines: dict[str, Pipeline] = {}  # the named collections' (the served folder's is self.pipeline)
        self.lock = threading.Lock()  # the model
        self.busy = 0
        self.admitted = 0  # questions in the answering queue: waiting or answering
        self._admitting = threading.Lock()
        self.rebuilding = False  # questions are answered meanwhile, from the live generation
        self._building = threading.Lock()  # one build at a time
        self.follow_s = follow_s
        self._followed: dict[str, float] = {}

    # ---- collections ------------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.pipeline.settings

    def names(self) -> list[str]:
        """The served folder first, then the named collections."""
        return list(self.collections)

    def resolve(self, name: str | None) -> str:
        return name if name in self.collections else self.default

    def noun(self, name: str | None) -> str:
        """What the collection's files are called: "documents" unless it says it holds articles."""
        return self.collections[self.resolve(name)].corpus_noun or "documents"

    def loaded(self, name: str | None) -> Pipeline | None:
        name = self.resolve(name)
        return self.pipeline if name == self.default else self._pipelines.get(name)

    def load(self, name: str | None) -> Pipeline:
        """The collection's pipeline, its index built or refreshed now if it was not loaded: built beside the
        answering (the model's lock only to add it), one build at a time."""
        name = self.resolve(name)
        if (loaded := self.loaded(name)) is not None:
            return loaded
        with self._building:
            if (loaded := self.loaded(name)) is not None:
                return loaded
            pipeline = self.pipeline.sibling(self.collections[name])
            with self.lock:
                return self._pipelines.setdefault(name, pipeline)

    def _pipeline_for(self, name: str) -> Pipeline:
        """Called with self.lock held: a collection not loaded yet is built here (its first question waits)."""
        if name == self.default:
            return self.pipeline
        if name not in self._pipelines:
            self._pipelines[name] = self.pipeline.sibling(self.collections[name])
        return self._pipelines[name]

    # ---- the answering queue ----------------------------------------------------------------------

    def admit(self, bounded: bool = False) -> Callable[[], None]:
        """A place in the answering queue; call the result to leave it. A `bounded` request (the API) is
        refused at once, rather than left waiting, when api_queue_max questions already wait."""
        limit = self.settings.api_queue_max
        with self._admitting:
            if bounded and self.admitted > limit:  # one is answering, `limit` are waiting
                raise QueueFull(f"{self.admitted - 1} questions are already waiting (limit {limit}); ask again in a moment")
            self.admitted += 1
        left = threading.Event()

        def leave():
            with self._admitting:
                if not left.is_set():
                    left.set()
                    self.admitted -= 1

        return leave

    def answer(self, question: str, history=(), on_token=None, k: int | None = None,
               cancel: threading.Event | None = None, collection: str | None = None) -> Answer:
        """Wait for the model (the one lock), then answer from the collection. Setting `cancel` leaves the
        queue, or stops the model at its next token (Cancelled), so the next question gets the model at once."""
        name = self.resolve(collection)
        while not self.lock.acquire(timeout=WAIT_STEP_S):
            if cancel is not None and cancel.is_set():
                raise Cancelled("the question was cancelled")
        try:
            if cancel is not None and cancel.is_set():
                raise Cancelled("the question was cancelled")
            self.busy += 1
            try:
                pipeline = self._pipeline_for(name)
                self._follow(name, pipeline)
                with pipeline.cancel_on(cancel):
                    return pipeline.answer(question, history=history, on_token=on_token, k=k)
            finally:
                self.busy -= 1
        finally:
            self.lock.release()

    def ask(self, question: str, history=(), on_token=None, k: int | None = None,
            cancel: threading.Event | None = None, collection: str | None = None) -> Answer:
        leave = self.admit()
        try:
            return self.answer(question, history, on_token, k, cancel, collection)
        finally:
            leave()

    def stream(self, question: str, history=(), collection: str | None = None, k: int | None = None,
               cancel: threading.Event | None = None) -> Iterator[str | Answer]:
        """The answer's text piece by piece as the model writes it, then the final Answer. Raises what answer()
        raises (Cancelled, RagError). Leaving the loop early cancels the question."""
        cancel = cancel or threading.Event()
        pieces: queue.Queue = queue.Queue()
        outcome: dict = {}

        def work():
            try:
                outcome["answer"] = self.ask(question, history, pieces.put, k, cancel, collection)
            except BaseException as e:  # handed to the caller's thread
                outcome["error"] = e
            finally:
                pieces.put(None)

        threading.Thread(target=work, daemon=True, name="answer").start()
        try:
            while (piece := pieces.get()) is not None:
                yield piece
        finally:  # finished, or the caller stopped listening: the question lets go of the model either way
            cancel.set()
        if "error" in outcome:
            raise outcome["error"]
        yield outcome["answer"]

    # ---- generations ------------------------------------------------------------------------------

    def _follow(self, name: str, pipeline: Pipeline) -> None:
        """Switch to the generation another process made live, if any (called under self.lock)."""
        now = time.monotonic()
        last = self._followed.get(name)
        if self.follow_s <= 0 or (last is not None and now - last < self.follow_s):
            return
        self._followed[name] = now
        try:
            pipeline.follow()
        except RagError as e:  # the store is unreachable for a moment: answer from what is loaded
            log.warning("cannot check the index store: %s", e)

    def rebuild(self, progress: bool = False, collection: str | None = None) -> BuildReport:
        """Refresh the collection's index against its folder as a writer, while the live generation keeps
        answering; then switch to the new one between two questions. A collection not loaded yet is built."""
        name = self.resolve(collection)
        if self.loaded(name) is None:
            return self.load(name).build_report
        with self._building:
            self.rebuilding = True
            try:
                return self._pipeline_for(name).reload(progress=progress, lock=self.lock)
            finally:
                self.rebuilding = False

    def use_model(self, name: str) -> None:
        """Every collection answers with the one model."""
        with self.lock:
            self.pipeline.use_model(name)
            for other in self._pipelines.values():
                other.share_models(self.pipeline)

    @property
    def model_name(self) -> str:
        return self.pipeline.model_name

    def status(self, collection: str | None = None) -> dict:
        pipeline = self.loaded(collection)
        return {"admitted": self.admitted, "busy": self.busy, "rebuilding": self.rebuilding,
                "collection": self.resolve(collection), "model": self.model_name,
                "generation": getattr(pipeline.data, "id", None) if pipeline else None,
                "chunks": len(pipeline.data.chunks) if pipeline else None,
                "stale": bool(pipeline.build_report.stale) if pipeline else False}
