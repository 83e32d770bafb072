"""The answer service: one pipeline, the admission queue in front of its model, cancellation, and the switch
to a new index generation. The web chat (ui/app.py) and the OpenAI-compatible API (rag/api.py, served by the
chat's own server or alone by `rag api --workers N`) both answer through it; nothing here needs Gradio.

A process holds nothing that cannot be rebuilt: the models, and the live generation's chunk metadata (a
cache of the store). Before each question it looks (at most every FOLLOW_S seconds, one cheap read of the
store) whether another process made a new generation live, and switches to it without a lock on the store.
A rebuild started here builds the next generation while the current one goes on answering; only the switch
itself waits for the question being answered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext

from rag.engine.pipeline import Pipeline
from rag.errors import Cancelled, QueueFull, RagError
from rag.index.store import BuildReport
from rag.types import Answer

log = logging.getLogger("rag.serve.service")

FOLLOW_S = 2.0  # how often a process checks the store for a generation another process made live


class AnswerService:
    """The shared pipeline, the lock around its model, and the bookkeeping of who is waiting.

        admit(bounded) -> leave()      a place in the queue, or QueueFull at once (bounded: the API)
        answer(question, history, on_token, k, cancel) -> Answer    waits for the model, honours `cancel`
        ask(...)                       admit + answer
        rebuild(progress) -> BuildReport   the next generation, built beside the live one, then switched to
    """

    def __init__(self, pipeline: Pipeline, follow_s: float = FOLLOW_S):
        self.pipeline = pipeline
        self.lock = threading.Lock()  # the model: llama.cpp is not safe to call from two threads at once
        self.busy = 0
        self.admitted = 0  # questions in the answering queue (chat, JSON endpoint, API): waiting or answering
        self._admitting = threading.Lock()
        self.rebuilding = False  # shown by the page; questions are answered meanwhile, from the live generation
        self._building = threading.Lock()
        self.follow_s = follow_s
        self._followed = time.monotonic()

    # ---- the answering queue ----------------------------------------------------------------------

    def admit(self, bounded: bool = False) -> Callable[[], None]:
        """A place in the answering queue; call the result to leave it. A `bounded` request (the API) is
        refused at once, rather than left waiting, when api_queue_max questions already wait."""
        limit = self.pipeline.settings.api_queue_max
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
               cancel: threading.Event | None = None) -> Answer:
        """Wait for the model (the one lock), then answer. Setting `cancel` leaves the queue, or stops the
        model at its next token (Cancelled), so the next question gets the model at once."""
        while not self.lock.acquire(timeout=0.2):
            if cancel is not None and cancel.is_set():
                raise Cancelled("the question was cancelled")
        try:
            if cancel is not None and cancel.is_set():
                raise Cancelled("the question was cancelled")
            self.busy += 1
            try:
                self._follow()
                generator = self.pipeline._generator
                with generator.cancel_on(cancel) if generator is not None else nullcontext():
                    return self.pipeline.answer(question, history=history, on_token=on_token, k=k)
            finally:
                self.busy -= 1
        finally:
            self.lock.release()

    def ask(self, question: str, history=(), on_token=None, k: int | None = None,
            cancel: threading.Event | None = None) -> Answer:
        leave = self.admit()
        try:
            return self.answer(question, history, on_token, k, cancel)
        finally:
            leave()

    # ---- generations ------------------------------------------------------------------------------

    def _follow(self) -> None:
        """Switch to the generation another process made live, if any (called under self.lock)."""
        if self.follow_s <= 0 or time.monotonic() - self._followed < self.follow_s:
            return
        self._followed = time.monotonic()
        from rag.index.backends import open_store

        try:
            store = open_store(self.pipeline.settings)
            live = store.current_id()
            if live is None or live == getattr(self.pipeline.data, "id", None):
                return
            data = store.open()
        except RagError as e:  # the store is unreachable for a moment: answer from what is loaded
            log.warning("cannot check the index store: %s", e)
            return
        if data is not None:
            log.info("switching to index generation %s", data.id)
            self.pipeline.switch(data)

    def rebuild(self, progress: bool = False) -> BuildReport:
        """Refresh the index against the corpus folder as a writer, while the live generation keeps
        answering; then switch to the new one between two questions."""
        with self._building:
            self.rebuilding = True
            try:
                return self.pipeline.reload(progress=progress, lock=self.lock)
            finally:
                self.rebuilding = False

    def use_model(self, name: str) -> None:
        with self.lock:
            self.pipeline.use_model(name)

    def status(self) -> dict:
        return {"admitted": self.admitted, "busy": self.busy, "rebuilding": self.rebuilding,
                "generation": getattr(self.pipeline.data, "id", None), "chunks": len(self.pipeline.data.chunks)}
