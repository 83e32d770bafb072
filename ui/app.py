"""The web chat: a thin Gradio shell over the same Pipeline.answer() the `ask` command uses.

One pipeline (models + index) per process, shared by every browser tab and API client, behind the answer
service of rag/service.py (its queue, the model's lock, cancellation; `rag api` serves the same without
Gradio). Every question runs in one queue ("pipeline", one at a time) and under that lock; index changes run in
their own ("index"), building the next generation while the live one answers; each tab keeps its own
conversation in its session state. The same server answers OpenAI clients on /v1 (rag/api.py).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr

from starlette.middleware import Middleware

from rag.serve import api, protocol
from rag.serve.bounds import Bounds, Limits
from rag.serve.apiserver import is_loopback
from rag.index.build import dropped_report
from rag import progress as build_progress
from rag.engine.pipeline import Pipeline, normalize_question
from rag.config import Settings

from rag.errors import Cancelled, RagError
from ui.examples import example_questions
from rag.models import locate, read_models
from rag.serve.service import AnswerService
from rag.types import Answer, Citation, Passage

from ui import render, uploads
from ui.chats import ChatStore, valid_browser

log = logging.getLogger("rag.ui")

UPLOAD_TYPES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
EMPTY_STATE = {"history": [], "answers": [], "chat": None}
NO_UNDO = (gr.update(visible=False), None)  # the undo button hidden, no deleted chat to bring back
PROGRESS_EVERY_S = 0.5
RAW_QUESTION_FACTOR = 10  # the chat trims a question over max_question_chars (with a notice); 10× that is refused


class App:
    """What only the page does, over the answering service (rag/serve/service.py, which owns the collections, the
    queue, the model's lock, cancellation and rebuilds): each tab's waiting and cancel signals, chats kept per
    browser (ui/chats.py), uploads (ui/uploads.py), and the document viewer."""

    def __init__(self, service: AnswerService | Pipeline, max_upload_mb: float | None = None, chats: ChatStore | None = None):
        self.service = service if isinstance(service, AnswerService) else AnswerService(service)
        s = self.service.settings
        self.max_upload_mb = max_upload_mb if max_upload_mb is not None else s.max_upload_mb
        self.chats = chats or open_chats(Path(s.index_dir))
        self.waiting: dict[str, float] = {}  # session -> when its question was queued
        self.cancels: dict[str, threading.Event] = {}  # session -> the cancel signal of its question

    @property
    def pipeline(self) -> Pipeline:
        """The served folder's pipeline."""
        return self.service.pipeline

    # ---- chat ---------------------------------------------------------------------------------

    def add_question(self, message: str, chat: list, state: dict, collection: str | None, request: gr.Request):
        """Runs at once (no queue): show the question, or refuse it visibly, before the model's turn."""
        limit = self.pipeline.settings.max_question_chars
        if len(message or "") > RAW_QUESTION_FACTOR * limit:  # measured on the raw text, before any work on it
            return message, chat, state, None, f"⚠ the question is {len(message)} characters; the limit is {limit}"
        try:
            question, _ = normalize_question(message or "", limit)
        except RagError as e:
            return message, chat, state, None, f"⚠ {e}"
        chat = chat + [{"role": "user", "content": render.chat_escape(question)},
                       {"role": "assistant", "content": f"Searching the {self.noun(collection)}…"}]
        self.waiting[_session(request)] = time.monotonic()
        notice = "" if question == (message or "").strip() else "Note: the question was cleaned up or trimmed to fit."
        return "", chat, state, question, notice

    def respond(self, chat: list, state: dict, k: int, show_passages: bool, question: str | None, collection: str | None,
                browser: str | None, request: gr.Request):
        """Streams the answer into the last chat message, then fills in the sources and stores the turn."""
        self.waiting.pop(_session(request), None)
        if not question or not chat:
            yield chat, state, gr.skip(), gr.skip()
            return
        s = self.pipeline.settings
        history = api.cap_history([tuple(pair) for pair in state["history"]], s.history_turns, s.max_question_chars)
        session = _session(request)
        cancel = self.cancels[session] = threading.Event()  # set by the Cancel button (self.cancel)
        collection = self.service.resolve(collection)
        text, answer, error = "", None, None
        try:
            for piece in self.service.stream(question, history, collection, int(k), cancel):
                if isinstance(piece, Answer):
                    answer = piece
                    break
                text += piece
                chat[-1] = {"role": "assistant", "content": render.chat_escape(text) + " ▌"}
                yield chat, state, gr.skip(), gr.skip()
        except Cancelled:
            pass
        except RagError as e:
            error = str(e)
        except Exception as e:  # a bug: show it as a message, keep the app serving
            log.exception("answer failed")
            error = f"unexpected {type(e).__name__}: {e}"
        finally:  # finished, or this event was cancelled or dropped: the question lets go of the model either way
            cancel.set()
            if self.cancels.get(session) is cancel:
                del self.cancels[session]
        if error is not None:
            chat[-1] = {"role": "assistant", "content": render.chat_escape(f"⚠ {error}")}
            yield chat, state, render.sources_html(None, False), gr.skip()
            return
        if answer is None:
            chat[-1] = {"role": "assistant", "content": "Cancelled."}
            yield chat, state, gr.skip(), gr.skip()
            return
        turn = len(state["answers"])
        chat[-1] = {"role": "assistant", "content": render.chat_html(answer, turn)}
        try:
            chat_id = self.chats.add_turn(browser, state.get("chat"), question, render.chat_text(answer),
                                          answer_record(answer), collection) if valid_browser(browser) else None
        except (OSError, sqlite3.Error) as e:  # the answer is shown all the same; this turn is not kept
            log.warning("could not keep the chat: %s", e)
            chat_id = None
        state = {
            "history": state["history"] + [[question, answer.answer]],
            "answers": state["answers"] + [answer],
            "chat": chat_id or state.get("chat"),
        }
        yield (chat, state, render.sources_html(answer, show_passages, turn),
               gr.update(choices=self.chat_choices(browser), value=state["chat"]) if chat_id else gr.skip())

    def ask_api(self, question: str) -> dict:
        """The same answer as the chat, as JSON, for programmatic clients (gradio_client: api_name="/ask")."""
        try:
            return self.service.ask(question or "").to_dict()
        except RagError as e:
            return {"error": str(e)}

    def cancel(self, chat: list, request: gr.Request):
        """Drop this tab's queued or running question: the model stops at its next token and goes to the next."""
        self.waiting.pop(_session(request), None)
        if event := self.cancels.get(_session(request)):
            event.set()
        last = _text(chat[-1]) if chat and chat[-1].get("role") == "assistant" else ""
        if last.startswith("Searching the ") or last.endswith("▌"):
            chat = chat[:-1] + [{"role": "assistant", "content": "Cancelled."}]
        return chat

    def rerender_sources(self, state: dict, show_passages: bool):
        turn = len(state["answers"]) - 1
        return render.sources_html(state["answers"][-1] if state["answers"] else None, show_passages, turn)

    # ---- the document viewer ---------------------------------------------------------------------

    def open_target(self, target: str, state: dict, viewing: dict | None, collection: str | None):
        """A click on a citation ("cite-TURN-N": that answer's N-th source) or a page link ("page-P": another
        page of the PDF on view): the document at that place, in the Document tab."""
        target = (target or "").strip()
        if target.startswith("cite-"):
            try:
                turn, n = (int(x) for x in target[5:].split("-", 1))
                citation = state["answers"][turn].citations[n - 1]
            except (ValueError, IndexError, KeyError):
                return gr.skip(), gr.skip(), gr.skip()
            viewing = {"collection": self.service.resolve(collection), **citation_view(citation)}
            show = 0
        elif target.startswith("page-") and viewing:
            try:
                show = max(1, int(target[5:]))
            except ValueError:
                return gr.skip(), gr.skip(), gr.skip()
        else:
            return gr.skip(), gr.skip(), gr.skip()
        path = self._corpus_file(viewing["source"], viewing.get("collection"))
        if path is None:
            return "<div class='declined'>That file is no longer in the folder.</div>", gr.Tabs(selected="article"), viewing
        html = render.document_html(path, viewing["source"], viewing["start_line"], viewing["end_line"], viewing["page"],
                                    viewing["quote"], show)
        return html, gr.Tabs(selected="article"), viewing

    def status(self, collection: str | None = None) -> str:
        """The status line: the queue (the whole server's), the model, and the index of the collection this tab
        has open (its chunk count; "loading" until its index is loaded)."""
        name = self.service.model_name
        waiting = len(self.waiting) + max(0, self.service.admitted - self.service.busy)
        pipeline = self.service.loaded(collection)
        index = "loading" if pipeline is None else f"{len(pipeline.data.chunks)} chunks"
        stale = pipeline is not None and pipeline.build_report.stale
        return (f"**Queue:** {waiting} waiting · {self.service.busy} answering · "
                f"**model:** {name} · **index:** {index}"
                + (" (⚠ out of date: its folder cannot be written)" if stale else ""))

    # ---- chats: kept per browser (ui/chats.py) -----------------------------------------------------

    def chat_choices(self, browser: str | None) -> list[tuple[str, str]]:
        """(label, id) of the browser's chats: the title, and the collection it was asked of where the server
        has several (chats of different collections told apart in the list)."""
        several = len(self.service.names()) > 1
        return [(f"{title} · {collection}" if several and collection else title, chat_id)
                for chat_id, title, collection in self.chats.list(browser)]

    def restore(self, browser: str | None, chat_id: str | None, show_passages: bool = False):
        """A stored chat as the page shows it: (chat messages, state, sources, collection)."""
        turns = self.chats.turns(browser, chat_id) if chat_id else []
        if not turns:
            return [], dict(EMPTY_STATE), render.sources_html(None, False), gr.skip()
        messages, answers, history = [], [], []
        for n, (question, _text_, record) in enumerate(turns):
            answer = answer_from_record(record, question)
            messages += [{"role": "user", "content": render.chat_escape(question)}, {"role": "assistant", "content": render.chat_html(answer, n)}]
            answers.append(answer)
            history.append([question, answer.answer])
        state = {"history": history, "answers": answers, "chat": chat_id}
        collection = self.chats.collection(browser, chat_id)
        return (messages, state, render.sources_html(answers[-1], show_passages, len(answers) - 1),
                gr.update(value=collection) if collection in self.service.collections else gr.skip())

    def on_load(self, browser: str | None):
        """The page opened (or reloaded): this browser's chats, the latest one open."""
        browser = valid_browser(browser)
        choices = self.chat_choices(browser)
        latest = choices[0][1] if choices else None
        messages, state, sources, collection = self.restore(browser, latest)
        return browser, gr.update(choices=choices, value=latest), messages, state, sources, collection

    def open_chat(self, browser: str | None, chat_id: str | None, show_passages: bool):
        messages, state, sources, collection = self.restore(browser, chat_id, show_passages)
        return messages, state, sources, collection, (self._chat_title(browser, chat_id))

    def _chat_title(self, browser, chat_id) -> str:
        return next((title for cid, title, _ in self.chats.list(browser) if cid == chat_id), "")

    def new_chat(self):
        return [], dict(EMPTY_STATE), render.sources_html(None, False), gr.update(value=None), "", NO_UNDO

    def rename_chat(self, browser: str | None, state: dict, title: str):
        chat_id = state.get("chat")
        if not chat_id or not self.chats.rename(browser, chat_id, title or ""):
            return gr.skip()
        return gr.update(choices=self.chat_choices(browser), value=chat_id)

    def delete_chat(self, browser: str | None, state: dict):
        """Delete the open chat, offering to bring it back (ui/chats.py keeps it until another is deleted)."""
        chat_id = state.get("chat")
        title = self._chat_title(browser, chat_id) if chat_id else ""
        undo = NO_UNDO
        if chat_id and self.chats.delete(browser, chat_id):
            undo = (gr.update(value=f"↶ Undo: bring back “{title}”", visible=True), chat_id)
        return ([], dict(EMPTY_STATE), render.sources_html(None, False), gr.update(choices=self.chat_choices(browser), value=None),
                "", *undo)

    def undo_delete(self, browser: str | None, chat_id: str | None, show_passages: bool):
        """The chat deleted last, back in the list and open; nothing changes when it can no longer come back."""
        if not chat_id or not self.chats.undelete(browser, chat_id):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), *NO_UNDO
        messages, state, sources, collection = self.restore(browser, chat_id, show_passages)
        return (messages, state, sources, collection, gr.update(choices=self.chat_choices(browser), value=chat_id),
                self._chat_title(browser, chat_id), *NO_UNDO)

    # ---- collections and the words the page uses for them --------------------------------------------

    def noun(self, collection: str | None) -> str:
        return self.service.noun(collection)

    def page_title(self, collection: str | None) -> str:
        return f"{self.service.resolve(collection)} · ask your {self.noun(collection)}"

    def examples(self, collection: str | None) -> list[str]:
        pipeline = self.service.loaded(collection)
        return example_questions(pipeline.data.chunks) if pipeline else []

    def collection_view(self, collection: str | None):
        """What the page shows of a collection: (title, corpus rows, remove choices, report choices, question box,
        example questions). Its index is built or refreshed now if it was not loaded yet."""
        name = self.service.resolve(collection)
        if self.service.loaded(name) is None:
            try:
                self.service.load(name)
            except RagError as e:
                gr.Warning(str(e))
        examples = self.examples(name)
        return (self.corpus_title(name), self.corpus_rows(name), gr.update(choices=self._sources(name), value=None),
                gr.update(choices=self._sources(name), value=None), gr.update(placeholder=f"Ask about the {self.noun(name)}…"),
                gr.update(choices=examples, value=None, visible=bool(examples)))

    def choose_collection(self, collection: str | None):
        """Switch this tab to another collection, in a new chat."""
        return (*self.collection_view(collection), [], dict(EMPTY_STATE), render.sources_html(None, False), gr.update(value=None))

    # ---- corpus -------------------------------------------------------------------------------

    def _corpus_file(self, source: str, collection: str | None = None) -> Path | None:
        """Only files the index knows, inside the corpus folder: nothing else can be read through the app."""
        pipeline = self.service.loaded(collection)
        if pipeline is None or source not in pipeline.data.manifest.get("files", {}):
            return None
        root = Path(pipeline.settings.corpus_dir).resolve()
        path = (root / source).resolve()
        return path if path.is_relative_to(root) and path.is_file() else None

    def _files(self, collection: str | None) -> dict:
        pipeline = self.service.loaded(collection)
        return pipeline.data.manifest.get("files", {}) if pipeline else {}

    def corpus_rows(self, collection: str | None = None) -> list[list]:
        return [[name, meta.get("title", ""), meta.get("chunks", 0), render.dropped_cell(meta),
                 meta.get("indexed_at", "")[:16].replace("T", " ")]
                for name, meta in sorted(self._files(collection).items())]

    def corpus_title(self, collection: str | None = None) -> str:
        name = self.service.resolve(collection)
        n, noun = len(self._files(name)), self.noun(name)
        return (f"# {name}\n{n} {noun if n != 1 else noun.rstrip('s')} from `{self.service.collections[name].corpus_dir}`"
                " · answers cite the file and the page or lines")

    def cleaning_report(self, source: str | None, collection: str | None) -> str:
        """What cleaning dropped from one file (the manifest's record, as `rag index --report` prints it)."""

        meta = self._files(collection).get(source or "")
        if meta is None:
            return "Choose a file to see what cleaning dropped from it."
        report = dropped_report({source: meta})
        note = f"\nnote: {meta['note']}" if meta.get("note") else ""
        return f"<pre class='cleaning-report'>{render.escape(report + note)}</pre>"

    def reindex(self, collection: str | None = None, done: str = ""):
        """Refresh the collection's index, streaming what it is doing: files read, chunks embedded, speed, time
        left. Yields (note, rows, remove-choices, title, progress, report-choices)."""
        name = self.service.resolve(collection)
        seen = {"stage": "start", "parse": (0, 0, ""), "embed": (0, 0), "embed_start": None}

        def listen(stage, n, total, detail=""):
            if stage == "parse":
                seen["parse"] = (n, total, detail)
            elif stage == "embed":
                if seen["embed_start"] is None:
                    seen["embed_start"] = time.monotonic()
                seen["embed"] = (n, total)
            seen["stage"] = stage

        outcome: dict = {}

        def work():
            # the next generation is built beside the live one, which answers meanwhile (the lock: the switch only)
            try:
                with build_progress.listening(listen):
                    outcome["report"] = self.service.rebuild(progress=True, collection=name)
            except RagError as e:
                outcome["error"] = str(e)
            except Exception as e:
                log.exception("re-index failed")
                outcome["error"] = f"unexpected {type(e).__name__}: {e}"

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        started = time.monotonic()
        yield (done + "Indexing…" if done else "Indexing…", gr.skip(), gr.skip(), gr.skip(), progress_text(seen, started), gr.skip())
        while worker.is_alive():
            worker.join(PROGRESS_EVERY_S)
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), progress_text(seen, started), gr.skip()
        sources = gr.update(choices=self._sources(name))
        if "error" in outcome:
            yield (done + f"⚠ {outcome['error']}", self.corpus_rows(name), sources, self.corpus_title(name),
                   progress_text(seen, started, finished=True), sources)
            return
        report = outcome["report"]
        skipped = "".join(f"\n- skipped `{s}`: {r}" for s, r in report.skipped)
        yield (done + f"Index: {report.summary()}.{skipped}", self.corpus_rows(name), sources, self.corpus_title(name),
               progress_text(seen, started, finished=True), sources)

    def upload(self, files: list | None, replace: bool = False, collection: str | None = None):
        """Add files to the collection's folder: each written to a temporary file in that folder and renamed into
        place (never through a symlink). A name that exists is replaced only when `replace` is ticked."""
        messages = []
        name = self.service.resolve(collection)
        corpus = Path(self.service.collections[name].corpus_dir)
        for f in files or []:
            src = Path(f if isinstance(f, str) else f.name)
            try:
                messages.append(self._store(src, Path(getattr(f, "orig_name", None) or src.name).name, corpus, replace))
            finally:
                uploads.discard(src)  # stored or refused, Gradio's temporary copies are of no more use
        # the picker lets go of the files at once (their temporary copies are gone): a later upload sends only its own
        if not any(m.startswith(("added", "replaced")) for m in messages):
            yield "\n".join(messages) or "No file chosen.", self.corpus_rows(name), gr.skip(), gr.skip(), gr.skip(), gr.skip(), None
            return
        for n, out in enumerate(self.reindex(name, "\n".join(messages) + "\n\n")):
            yield *out, (None if n == 0 else gr.skip())

    def _store(self, src: Path, name: str, corpus: Path, replace: bool) -> str:
        """One uploaded file into the corpus folder under `name` (never a path: nothing is written outside the
        folder); the line the page shows for it."""
        try:
            size = src.stat().st_size
        except OSError as e:
            return f"⚠ could not read the upload of `{name}`: {e.strerror or e}"
        if reason := uploads.refusal(name, size, UPLOAD_TYPES, self.max_upload_mb):
            return f"⚠ {reason}"
        try:
            done = uploads.write_into(corpus, name, src, replace)
        except uploads.UploadRefused as e:
            return f"⚠ {e}"
        except OSError as e:
            return f"⚠ could not write `{name}`: {e.strerror or e}"
        return f"{done} `{name}` ({size / 2**20:.1f} MB)"

    def remove(self, source: str | None, collection: str | None = None):
        path = self._corpus_file(source, collection) if source else None
        if path is None:
            yield "Choose an indexed file to remove.", self.corpus_rows(collection), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        path.unlink()
        yield from self.reindex(collection, f"removed `{source}`\n\n")

    def _sources(self, collection: str | None = None) -> list[str]:
        return sorted(self._files(collection))

    # ---- settings -----------------------------------------------------------------------------

    def models(self) -> list[str]:
        s = self.pipeline.settings
        return [m.name for m in read_models(s.models_file)
                if m.role == "llm" and (m.remote or locate(m, s.models_file) is not None)]

    def choose_model(self, name: str):
        try:
            self.service.use_model(name)
            return f"Model: {name}"
        except RagError as e:
            gr.Warning(str(e))
            return f"⚠ {e}"


def open_chats(index_dir: Path) -> ChatStore:
    """The chats' database under the index folder; one in a temporary folder (kept until the server stops, with
    a warning) when the index folder cannot be written."""
    try:
        return ChatStore(index_dir / "chats.sqlite3")
    except (OSError, sqlite3.Error) as e:
        log.warning("chats cannot be kept in %s (%s): they last until the server stops", index_dir, e)
        return ChatStore(Path(tempfile.mkdtemp(prefix="rag-chats-")) / "chats.sqlite3")


def progress_text(seen: dict, started: float, finished: bool = False) -> str:
    """What the indexing panel shows: files read, chunks embedded, chunks per second, time left."""
    done, total, name = seen["parse"]
    parts = []
    if total:
        parts.append(f"**Files read:** {done} of {total}" + (f" (reading `{name}`)" if name and done < total else ""))
    n, of = seen["embed"]
    if of:
        spent = time.monotonic() - (seen["embed_start"] or started)
        rate = n / spent if spent > 0 and n else 0.0
        left = (of - n) / rate if rate else None
        parts.append(f"**Chunks embedded:** {n:,} of {of:,}")
        parts.append(f"{rate:.0f} chunks/s" if rate else "measuring chunks/s")
        if left is not None and n < of:
            parts.append(f"about {left:.0f} s left")
    elif total and done >= total:
        parts.append("no new chunks to embed" if finished else "cleaning and chunking")
    elapsed = time.monotonic() - started
    state = "Done" if finished else "Indexing"
    return f"{state} ({elapsed:.0f} s): " + (" · ".join(parts) if parts else "starting")


def citation_view(c: Citation) -> dict:
    return {"source": c.source, "start_line": c.start_line, "end_line": c.end_line, "page": c.page, "quote": c.quote}


def answer_record(answer: Answer) -> dict:
    """An answer as stored with its chat: enough to show it and open its sources again after a reload."""
    return dataclasses.asdict(answer)


def answer_from_record(record: dict, question: str = "") -> Answer:
    def only(cls, d: dict):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    try:
        data = {k: v for k, v in record.items() if k in {f.name for f in dataclasses.fields(Answer)}}
        data["citations"] = [only(Citation, c) for c in record.get("citations", [])]
        data["passages"] = [only(Passage, p) for p in record.get("passages", [])]
        data.setdefault("question", question)
        data.setdefault("answer", "")
        data.setdefault("refused", False)
        data.setdefault("timings_ms", {})
        return Answer(**data)
    except (TypeError, AttributeError):
        return Answer(question, "(this answer could not be restored)", False, [], {})


def _text(message: dict) -> str:
    """A chat message's text, whether Gradio hands it back as a string or as a list of parts."""
    content = message.get("content", "")
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "local"


def build(app: App) -> gr.Blocks:
    name = app.service.default
    noun = app.noun(name)
    with gr.Blocks(title=app.page_title(name), fill_width=True) as demo:
        state = gr.State(EMPTY_STATE)
        pending = gr.State(None)  # the question add_question accepted, for respond
        browser = gr.State(None)  # this browser's id (kept in its localStorage): whose chats these are
        viewing = gr.State(None)  # the citation the Document tab shows
        with gr.Row(equal_height=False):
            title = gr.Markdown(app.corpus_title(name), elem_id="title")
            collection = gr.Dropdown(choices=app.service.names(), value=name, label="Collection", scale=0, min_width=220,
                                     elem_id="collection", visible=len(app.service.names()) > 1)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                with gr.Row(equal_height=False):
                    chats = gr.Dropdown(choices=[], value=None, label="Your chats (kept in this browser)", scale=4,
                                        elem_id="chats", allow_custom_value=False)
                    new = gr.Button("New chat", size="sm", scale=1, min_width=90, elem_id="new-chat")
                undo = gr.Button("Undo", size="sm", visible=False, elem_id="undo-delete")
                deleted = gr.State(None)  # the chat this tab deleted last, while it can come back
                chat = gr.Chatbot(label="Chat", height=460, render_markdown=False, buttons=[], latex_delimiters=[],
                                  elem_id="chat", placeholder=f"Answers come only from the {noun}, with the file and place they rest on.")
                with gr.Row():
                    box = gr.Textbox(placeholder=f"Ask about the {noun}…", show_label=False, scale=5, elem_id="question", max_lines=4)
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                notice = gr.Markdown(elem_id="notice")
                with gr.Row():
                    stop = gr.Button("Cancel", variant="stop", size="sm", elem_id="cancel")
                    with gr.Accordion("Rename or delete this chat", open=False):
                        with gr.Row():
                            chat_title = gr.Textbox(show_label=False, placeholder="New name", scale=3, elem_id="chat-title", max_lines=1)
                            rename = gr.Button("Rename", size="sm", scale=1, elem_id="rename-chat")
                            delete = gr.Button("Delete", size="sm", variant="stop", scale=1, elem_id="delete-chat")
                questions = app.examples(name)
                examples = gr.Radio(choices=questions, value=None, label="Try", elem_id="examples", visible=bool(questions))
                status = gr.Markdown(app.status(), elem_id="status")
            with gr.Column(scale=2, min_width=300):
                with gr.Tabs() as tabs:
                    with gr.Tab("Sources", id="sources"):
                        sources = gr.HTML(render.sources_html(None, False), elem_id="sources")
                    with gr.Tab("Document", id="article"):
                        article = gr.HTML("<div class='sources-empty'>Click a citation to read it in its document.</div>", elem_id="article")
                    with gr.Tab("Corpus", id="corpus"):
                        table = gr.Dataframe(value=app.corpus_rows(name), headers=["file", "title", "chunks", "dropped", "indexed"],
                                             interactive=False, wrap=True, elem_id="corpus-table", max_height=360,
                                             column_widths=["24%", "26%", "14%", "20%", "16%"])
                        upload = gr.File(label=f"Add {noun} ({', '.join(UPLOAD_TYPES)}, up to {app.max_upload_mb:g} MB each)",
                                         file_count="multiple", file_types=list(UPLOAD_TYPES), elem_id="upload")
                        replace = gr.Checkbox(label=uploads.REPLACE_LABEL, value=False, elem_id="replace")
                        index_progress = gr.Markdown(elem_id="index-progress")
                        with gr.Row():
                            reindex = gr.Button("Re-index", size="sm", elem_id="reindex")
                            doomed = gr.Dropdown(choices=app._sources(name), label="Remove a file", scale=2)
                            remove = gr.Button("Remove", size="sm", variant="stop")
                        corpus_note = gr.Markdown(elem_id="corpus-note")
                        with gr.Accordion("Cleaning report: what was left out of a file, and why", open=False, elem_id="cleaning"):
                            report_file = gr.Dropdown(choices=app._sources(name), label="File", elem_id="report-file")
                            report = gr.HTML(elem_id="cleaning-report")
                    with gr.Tab("Settings", id="settings"):
                        k = gr.Slider(1, 8, value=app.pipeline.settings.k, step=1, label="Passages given to the model")
                        show_passages = gr.Checkbox(label="Show the retrieved passages with their scores", value=False)
                        model = gr.Dropdown(choices=app.models(), value=app.pipeline.loaded_generator and app.pipeline.loaded_generator.name,
                                            label="Language model (from models.txt, present on this machine)")
                        model_note = gr.Markdown()
        # clicks on citation and page links (render.SCRIPT) arrive here
        open_target = gr.Textbox(visible="hidden", elem_id="open-target")
        open_go = gr.Button(visible="hidden", elem_id="open-go")
        browser_box = gr.Textbox(visible="hidden", elem_id="browser-id")  # carries the id from localStorage to on_load

        asked = gr.on(
            [box.submit, send.click], app.add_question, [box, chat, state, collection], [box, chat, state, pending, notice], queue=False
        ).then(
            app.respond, [chat, state, k, show_passages, pending, collection, browser], [chat, state, sources, chats],
            concurrency_id="pipeline", concurrency_limit=1, show_progress="minimal",
        )
        asked.then(app.status, collection, status, queue=False, show_progress="hidden")  # at the answer's end, at once
        stop.click(app.cancel, chat, chat, cancels=[asked], queue=False)
        show_passages.change(app.rerender_sources, [state, show_passages], sources, queue=False)
        open_go.click(app.open_target, [open_target, state, viewing, collection], [article, tabs, viewing], queue=False,
                      js=render.OPEN_TARGET_JS).then(None, None, None, js=render.SCROLL_TO_MARK_JS)
        view = [title, table, doomed, report_file, box, examples]
        # the tab's title names the collection, in its own words (the box's placeholder: "Ask about the articles…")
        title_js = ("(c) => { const box = document.querySelector('#question textarea');"
                    " const noun = ((box && box.placeholder) || '').replace('Ask about the ', '').replace('…', '') || 'documents';"
                    " document.title = c + ' · ask your ' + noun; }")
        demo.load(app.on_load, browser_box, [browser, chats, chat, state, sources, collection], js=render.BROWSER_ID_JS, queue=False
                  ).then(app.collection_view, collection, view, concurrency_id="index", concurrency_limit=1
                  ).then(None, collection, None, js=title_js
                  ).then(None, None, None, js="() => { document.body.dataset.ragReady = '1'; }")
        chats.input(app.open_chat, [browser, chats, show_passages], [chat, state, sources, collection, chat_title], queue=False
                    ).then(app.collection_view, collection, view, concurrency_id="index", concurrency_limit=1
                    ).then(None, collection, None, js=title_js)
        examples.input(lambda q: (q or "", gr.update(value=None)), examples, [box, examples], queue=False)
        new.click(app.new_chat, None, [chat, state, sources, chats, chat_title, undo, deleted], queue=False)
        rename.click(app.rename_chat, [browser, state, chat_title], chats, queue=False)
        delete.click(app.delete_chat, [browser, state], [chat, state, sources, chats, chat_title, undo, deleted], queue=False)
        # the chat box's own clear icon deletes the stored chat too: otherwise a reload brings it back
        chat.clear(app.delete_chat, [browser, state], [chat, state, sources, chats, chat_title, undo, deleted], queue=False)
        undo.click(app.undo_delete, [browser, deleted, show_passages],
                   [chat, state, sources, collection, chats, chat_title, undo, deleted], queue=False
                   ).then(app.collection_view, collection, view, concurrency_id="index", concurrency_limit=1)
        collection.input(
            app.choose_collection, collection, [*view, chat, state, sources, chats], concurrency_id="index", concurrency_limit=1,
        ).then(None, collection, None, js=title_js)
        corpus_outputs = [corpus_note, table, doomed, title, index_progress, report_file]
        # index changes queue apart from the questions: the live generation answers while the next one is built
        reindex.click(app.reindex, collection, corpus_outputs, concurrency_id="index", concurrency_limit=1)
        upload.upload(app.upload, [upload, replace, collection], [*corpus_outputs, upload], concurrency_id="index", concurrency_limit=1)
        remove.click(app.remove, [doomed, collection], corpus_outputs, concurrency_id="index", concurrency_limit=1)
        report_file.change(app.cleaning_report, [report_file, collection], report, queue=False)
        model.change(app.choose_model, model, model_note, concurrency_id="pipeline", concurrency_limit=1)
        gr.Timer(2.0).tick(app.status, collection, status, queue=False, show_progress="hidden")
        with gr.Row(visible=False):  # the JSON endpoint, through the same one-at-a-time queue
            api_question, api_answer, api_go = gr.Textbox(), gr.JSON(), gr.Button()
        api_go.click(app.ask_api, api_question, api_answer, api_name="ask", concurrency_id="pipeline", concurrency_limit=1)
    return demo


def launch(settings: Settings | None = None, host: str = "127.0.0.1", port: int = 7860, share: bool = False,
           prevent_thread_lock: bool = False):
    """Build the pipeline once and serve the chat, and the OpenAI-compatible API on /v1 of the same port.

    Any address other than loopback requires the page's credentials and the API's key; with RAG_API_KEY set,
    the API asks for it on loopback too."""
    auth = None
    api_key = os.environ.get("RAG_API_KEY", "")
    if not is_loopback(host) or share:
        user, password = os.environ.get("RAG_UI_USER"), os.environ.get("RAG_UI_PASSWORD")
        missing = [name for name, value in (("RAG_UI_USER", user), ("RAG_UI_PASSWORD", password), ("RAG_API_KEY", api_key)) if not value]
        if missing:
            names = " and ".join([", ".join(missing[:-1]), missing[-1]] if len(missing) > 1 else missing)
            raise RagError(f"serving on {host}{' with a share link' if share else ''} needs {names} set")
        auth = (user, password)
    app = App(Pipeline(settings or Settings.from_env(), progress=True))
    app.pipeline.warm_up()
    return serve(app, host, port, share, auth, api_key, prevent_thread_lock)


def serve(app: App, host: str = "127.0.0.1", port: int = 7860, share: bool = False, auth=None, api_key: str = "",
          prevent_thread_lock: bool = False) -> gr.Blocks:
    """The page and the API for `app`, on one port (launch() decides who may connect)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    demo = build(app)
    demo.queue(max_size=32, default_concurrency_limit=1)
    # The API's routes go in when Gradio creates its FastAPI app (app_kwargs reach FastAPI(routes=...)), so they
    # are there, ahead of Gradio's own, before the server takes its first request; so does the middleware that
    # bounds every route, Gradio's included (rag/serve/bounds.py), and the server's protocol gets its header
    # timeout (rag/serve/protocol.py).
    s = app.service.settings
    protocol.configure(s.http_header_timeout_s)
    with protocol.uvicorn_configs_bounded():
        demo.launch(server_name=host, server_port=port, share=share, auth=auth, max_file_size=f"{int(app.max_upload_mb)}mb",
                    css=render.CSS, head=render.SCRIPT, theme=gr.themes.Soft(), footer_links=[], show_error=True,
                    prevent_thread_lock=prevent_thread_lock, allowed_paths=[], quiet=False,
                    app_kwargs={"routes": api.router(app.service, api_key).routes,
                                "middleware": [Middleware(Bounds, limits=page_limits(s, app.max_upload_mb))]})
    return demo


UPLOAD_ROUTE = "/gradio_api/upload"  # Gradio's route for the page's files: the one body larger than a request's
MULTIPART_SLACK = 2**16  # the multipart framing around an upload's bytes (boundaries, part headers)


def page_limits(s: Settings, max_upload_mb: float) -> Limits:
    """Every route of the chat's server: a request's body up to api_max_body_bytes; an upload (the files chosen at
    once, together) up to max_upload_mb, read as it arrives."""
    upload = int(max_upload_mb * 2**20) + MULTIPART_SLACK
    return Limits(s.api_max_body_bytes, s.http_body_timeout_s, ((UPLOAD_ROUTE, upload),), api_prefix="/v1")
