"""The web chat: a thin Gradio shell over the same Pipeline.answer() the `ask` command uses.

One pipeline (models + index) per process, shared by every browser tab and API client, behind the answer
service of rag/service.py (its queue, the model's lock, cancellation; `rag api` serves the same without
Gradio). Every question runs in one queue ("pipeline", one at a time) and under that lock; index changes run in
their own ("index"), building the next generation while the live one answers; each tab keeps its own
conversation in its session state. The same server answers OpenAI clients on /v1 (rag/api.py).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import queue
import shutil
import stat
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr

from rag import api
from rag.answer import Pipeline, normalize_question
from rag.config import Settings
from rag.errors import Cancelled, RagError
from rag.models import locate, read_models
from rag.service import AnswerService
from rag.types import Answer

from . import render

log = logging.getLogger("rag.ui")

UPLOAD_TYPES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
EMPTY_STATE = {"history": [], "answers": []}
RAW_QUESTION_FACTOR = 10  # the chat trims a question over max_question_chars (with a notice); 10× that is refused


class App(AnswerService):
    """The answer service (rag/service.py: the shared pipeline, its lock, the admission queue, cancellation,
    background rebuilds), plus what only the page shows: who is waiting, and each tab's cancel signal."""

    def __init__(self, pipeline: Pipeline, max_upload_mb: float = 10.0):
        super().__init__(pipeline)
        self.max_upload_mb = max_upload_mb
        self.waiting: dict[str, float] = {}  # session -> when its question was queued
        self.cancels: dict[str, threading.Event] = {}  # session -> the cancel signal of its question

    # ---- chat ---------------------------------------------------------------------------------

    def add_question(self, message: str, chat: list, state: dict, request: gr.Request):
        """Runs at once (no queue): show the question, or refuse it visibly, before the model's turn."""
        limit = self.pipeline.settings.max_question_chars
        if len(message or "") > RAW_QUESTION_FACTOR * limit:  # measured on the raw text, before any work on it
            return message, chat, state, None, f"⚠ the question is {len(message)} characters; the limit is {limit}"
        try:
            question, _ = normalize_question(message or "", limit)
        except RagError as e:
            return message, chat, state, None, f"⚠ {e}"
        chat = chat + [{"role": "user", "content": render.chat_escape(question)}, {"role": "assistant", "content": "Searching the articles…"}]
        self.waiting[_session(request)] = time.monotonic()
        notice = "" if question == (message or "").strip() else "Note: the question was cleaned up or trimmed to fit."
        return "", chat, state, question, notice

    def respond(self, chat: list, state: dict, k: int, show_passages: bool, question: str | None, request: gr.Request):
        """Streams the answer into the last chat message, then fills in the sources."""
        self.waiting.pop(_session(request), None)
        if not question or not chat:
            yield chat, state, gr.skip(), gr.skip()
            return
        s = self.pipeline.settings
        history = api.cap_history([tuple(pair) for pair in state["history"]], s.history_turns, s.max_question_chars)
        pieces: queue.Queue = queue.Queue()
        outcome: dict = {}
        session = _session(request)
        cancel = self.cancels[session] = threading.Event()  # set by the Cancel button (self.cancel)

        def work():
            try:
                outcome["answer"] = self.ask(question, history, pieces.put, int(k), cancel)
            except Cancelled:
                outcome["cancelled"] = True
            except RagError as e:
                outcome["error"] = str(e)
            except Exception as e:  # a bug: show it as a message, keep the app serving
                log.exception("answer failed")
                outcome["error"] = f"unexpected {type(e).__name__}: {e}"
            finally:
                pieces.put(None)

        threading.Thread(target=work, daemon=True).start()
        text = ""
        try:
            while (piece := pieces.get()) is not None:
                text += piece
                chat[-1] = {"role": "assistant", "content": render.chat_escape(text) + " ▌"}
                yield chat, state, gr.skip(), gr.skip()
        finally:  # finished, or this event was cancelled or dropped: the question lets go of the model either way
            cancel.set()
            if self.cancels.get(session) is cancel:
                del self.cancels[session]
        if "cancelled" in outcome:
            chat[-1] = {"role": "assistant", "content": "Cancelled."}
            yield chat, state, gr.skip(), gr.skip()
            return
        if "error" in outcome:
            chat[-1] = {"role": "assistant", "content": render.chat_escape(f"⚠ {outcome['error']}")}
            yield chat, state, render.sources_html(None, False), gr.update(choices=[], value=None)
            return
        answer: Answer = outcome["answer"]
        chat[-1] = {"role": "assistant", "content": render.chat_text(answer)}
        state = {
            "history": state["history"] + [[question, answer.answer]],
            "answers": state["answers"] + [answer],
        }
        choices = [f"[{n}] {c.source}:L{c.start_line}-L{c.end_line}" for n, c in enumerate(answer.citations, 1)]
        yield chat, state, render.sources_html(answer, show_passages), gr.update(choices=choices, value=None)

    def ask_api(self, question: str) -> dict:
        """The same answer as the chat, as JSON, for programmatic clients (gradio_client: api_name="/ask")."""
        try:
            return self.ask(question or "").to_dict()
        except RagError as e:
            return {"error": str(e)}

    def cancel(self, chat: list, request: gr.Request):
        """Drop this tab's queued or running question: the model stops at its next token and goes to the next."""
        self.waiting.pop(_session(request), None)
        if event := self.cancels.get(_session(request)):
            event.set()
        last = _text(chat[-1]) if chat and chat[-1].get("role") == "assistant" else ""
        if last.startswith("Searching the articles") or last.endswith("▌"):
            chat = chat[:-1] + [{"role": "assistant", "content": "Cancelled."}]
        return chat

    def rerender_sources(self, state: dict, show_passages: bool):
        return render.sources_html(state["answers"][-1] if state["answers"] else None, show_passages)

    def open_citation(self, choice: str | None, state: dict):
        if not choice or not state["answers"]:
            return gr.skip(), gr.skip()
        n = int(choice.split("]")[0].strip("[")) - 1
        citation = state["answers"][-1].citations[n]
        path = self._corpus_file(citation.source)
        if path is None:
            return "<div class='declined'>That file is no longer in the corpus.</div>", gr.Tabs(selected="article")
        return (render.article_html(path, citation.source, citation.start_line, citation.end_line, citation.page),
                gr.Tabs(selected="article"))

    def status(self) -> str:
        s = self.pipeline.settings
        name = self.pipeline._generator.name if self.pipeline._generator else "extractive only"
        waiting = len(self.waiting) + max(0, self.admitted - self.busy)
        return (f"**Queue:** {waiting} waiting · {self.busy} answering · "
                f"**model:** {name} · **index:** {len(self.pipeline.data.chunks)} chunks"
                + (" (⚠ out of date: its folder cannot be written)" if self.pipeline.build_report.stale else ""))

    # ---- corpus -------------------------------------------------------------------------------

    def _corpus_file(self, source: str) -> Path | None:
        """Only files the index knows, inside the corpus folder: nothing else can be read through the app."""
        if source not in self.pipeline.data.manifest.get("files", {}):
            return None
        root = Path(self.pipeline.settings.corpus_dir).resolve()
        path = (root / source).resolve()
        return path if path.is_relative_to(root) and path.is_file() else None

    def corpus_rows(self) -> list[list]:
        files = self.pipeline.data.manifest.get("files", {})
        return [[name, meta.get("title", ""), meta.get("chunks", 0), render.dropped_cell(meta), meta.get("indexed_at", "")]
                for name, meta in sorted(files.items())]

    def corpus_title(self) -> str:
        n = len(self.pipeline.data.manifest.get("files", {}))
        return f"# Ask your articles\n{n} article{'s' if n != 1 else ''} from `{self.pipeline.settings.corpus_dir}` · answers cite file and lines"

    def reindex(self, progress=gr.Progress(track_tqdm=True)):
        progress(0.05, desc="Reading the corpus folder")
        try:  # the next generation is built beside the live one, which answers meanwhile
            report = self.rebuild(progress=True)  # the model's lock only for the switch
        except RagError as e:
            return f"⚠ {e}", self.corpus_rows(), gr.update(choices=self._sources()), self.corpus_title()
        skipped = "".join(f"\n- skipped `{s}`: {r}" for s, r in report.skipped)
        return f"Index: {report.summary()}.{skipped}", self.corpus_rows(), gr.update(choices=self._sources()), self.corpus_title()

    def upload(self, files: list | None, replace: bool = False, progress=gr.Progress(track_tqdm=True)):
        """Add files to the corpus: each written to a temporary file in the corpus folder and renamed into
        place (never through a symlink). A name that exists is replaced only when `replace` is ticked."""
        messages = []
        corpus = Path(self.pipeline.settings.corpus_dir)
        for f in files or []:
            src = Path(f if isinstance(f, str) else f.name)
            name = Path(getattr(f, "orig_name", None) or src.name).name  # never a path: no writing outside the corpus
            if Path(name).suffix.lower() not in UPLOAD_TYPES or name.startswith("."):
                messages.append(f"⚠ refused `{name}`: only {', '.join(UPLOAD_TYPES)} files")
                continue
            size = src.stat().st_size
            if size > self.max_upload_mb * 2**20:
                messages.append(f"⚠ refused `{name}`: {size / 2**20:.1f} MB is over the {self.max_upload_mb:g} MB limit")
                continue
            try:
                done = write_into(corpus, name, src, replace)
            except UploadRefused as e:
                messages.append(f"⚠ {e}")
                continue
            except OSError as e:
                messages.append(f"⚠ could not write `{name}`: {e.strerror or e}")
                continue
            messages.append(f"{done} `{name}`")
        if not any(m.startswith(("added", "replaced")) for m in messages):
            return "\n".join(messages) or "No file chosen.", self.corpus_rows(), gr.skip(), gr.skip()
        note, rows, dropdown, title = self.reindex(progress)
        return "\n".join(messages) + "\n\n" + note, rows, dropdown, title

    def remove(self, source: str | None, progress=gr.Progress(track_tqdm=True)):
        path = self._corpus_file(source) if source else None
        if path is None:
            return "Choose an indexed file to remove.", self.corpus_rows(), gr.skip(), gr.skip()
        path.unlink()
        note, rows, dropdown, title = self.reindex(progress)
        return f"removed `{source}`\n\n{note}", rows, dropdown, title

    def _sources(self) -> list[str]:
        return sorted(self.pipeline.data.manifest.get("files", {}))

    # ---- settings -----------------------------------------------------------------------------

    def models(self) -> list[str]:
        s = self.pipeline.settings
        return [m.name for m in read_models(s.models_file)
                if m.role == "llm" and (m.remote or locate(m, s.models_file) is not None)]

    def choose_model(self, name: str):
        try:
            self.use_model(name)
            return f"Model: {name}"
        except RagError as e:
            gr.Warning(str(e))
            return f"⚠ {e}"


class UploadRefused(Exception):
    """An upload that is not written, with the reason the page shows."""


REPLACE_LABEL = "Replace files of the same name"


def write_into(folder: Path, name: str, src: Path, replace: bool = False) -> str:
    """Copy `src` to folder/name atomically; "added" or "replaced".

    The bytes go to a new temporary file in `folder` (mkstemp: O_CREAT|O_EXCL|O_NOFOLLOW), flushed to disk,
    then take the name in one step: a link that fails if the name exists (no replace), or a rename that
    replaces the name itself. A name that is a symlink, or anything but a regular file, is refused: nothing is
    ever written through a link, and a rename never follows one."""
    target = folder / name
    try:
        existing = os.lstat(target)
    except FileNotFoundError:
        existing = None
    if existing is not None:
        if stat.S_ISLNK(existing.st_mode):
            raise UploadRefused(f"refused `{name}`: that name is a symbolic link in the corpus folder; nothing is written through it")
        if not stat.S_ISREG(existing.st_mode):
            raise UploadRefused(f"refused `{name}`: that name is not a regular file in the corpus folder")
        if not replace:
            raise UploadRefused(f"`{name}` is already in the corpus and was not replaced: tick “{REPLACE_LABEL}” "
                                "and add it again to replace it")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as data:
            shutil.copyfileobj(data, out)
            out.flush()
            os.fchmod(out.fileno(), 0o644)
            os.fsync(out.fileno())
        if existing is None:
            try:
                os.link(tmp, target)  # fails with EEXIST if the name appeared meanwhile (even as a symlink)
            except FileExistsError:
                raise UploadRefused(f"`{name}` appeared in the corpus meanwhile and was not replaced") from None
            except OSError:  # a file system without hard links: check again, then rename
                if os.path.lexists(target):
                    raise UploadRefused(f"`{name}` appeared in the corpus meanwhile and was not replaced") from None
                os.rename(tmp, target)
            return "added"
        os.replace(tmp, target)
        return "replaced"
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _text(message: dict) -> str:
    """A chat message's text, whether Gradio hands it back as a string or as a list of parts."""
    content = message.get("content", "")
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "local"


def _examples(pipeline: Pipeline, n: int = 4) -> list[str]:
    """Questions about the folder actually indexed (one per document title), never fixed ones."""
    titles = [f.get("title", "") for f in pipeline.data.manifest.get("files", {}).values()]
    return [f"What is “{t}” about?" for t in titles if t and len(t) <= 90][:n]


def build(app: App) -> gr.Blocks:
    with gr.Blocks(title="Ask your articles", fill_width=True) as demo:
        state = gr.State(EMPTY_STATE)
        pending = gr.State(None)  # the question add_question accepted, for respond
        title = gr.Markdown(app.corpus_title())
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                chat = gr.Chatbot(label="Chat", height=460, render_markdown=False, buttons=["copy", "copy_all"],
                                  elem_id="chat", placeholder="Answers come only from the articles, with the file and lines they rest on.")
                with gr.Row():
                    box = gr.Textbox(placeholder="Ask about the articles…", show_label=False, scale=5, elem_id="question", max_lines=4)
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                notice = gr.Markdown(elem_id="notice")
                with gr.Row():
                    stop = gr.Button("Cancel", variant="stop", size="sm", elem_id="cancel")
                    clear = gr.Button("Clear chat", size="sm", elem_id="clear")
                examples = _examples(app.pipeline)
                if examples:
                    gr.Examples(examples=[[q] for q in examples], inputs=[box], label="Try")
                status = gr.Markdown(app.status(), elem_id="status")
            with gr.Column(scale=2, min_width=300):
                with gr.Tabs() as tabs:
                    with gr.Tab("Sources", id="sources"):
                        sources = gr.HTML(render.sources_html(None, False), elem_id="sources")
                        picker = gr.Radio(choices=[], label="Open a cited article", elem_id="picker")
                    with gr.Tab("Article", id="article"):
                        article = gr.HTML("<div class='sources-empty'>Choose a citation to read it in its article.</div>", elem_id="article")
                    with gr.Tab("Corpus", id="corpus"):
                        table = gr.Dataframe(value=app.corpus_rows(), headers=["file", "title", "chunks", "dropped by cleaning", "indexed at"],
                                             interactive=False, wrap=True, elem_id="corpus-table")
                        upload = gr.File(label=f"Add articles ({', '.join(UPLOAD_TYPES)}, up to {app.max_upload_mb:g} MB each)",
                                         file_count="multiple", file_types=list(UPLOAD_TYPES), elem_id="upload")
                        replace = gr.Checkbox(label=REPLACE_LABEL, value=False, elem_id="replace")
                        with gr.Row():
                            reindex = gr.Button("Re-index", size="sm", elem_id="reindex")
                            doomed = gr.Dropdown(choices=app._sources(), label="Remove a file", scale=2)
                            remove = gr.Button("Remove", size="sm", variant="stop")
                        corpus_note = gr.Markdown(elem_id="corpus-note")
                    with gr.Tab("Settings", id="settings"):
                        k = gr.Slider(1, 8, value=app.pipeline.settings.k, step=1, label="Passages given to the model")
                        show_passages = gr.Checkbox(label="Show the retrieved passages with their scores", value=False)
                        model = gr.Dropdown(choices=app.models(), value=getattr(app.pipeline._generator, "name", None),
                                            label="Language model (from models.txt, present on this machine)")
                        model_note = gr.Markdown()

        asked = gr.on(
            [box.submit, send.click], app.add_question, [box, chat, state], [box, chat, state, pending, notice], queue=False
        ).then(
            app.respond, [chat, state, k, show_passages, pending], [chat, state, sources, picker],
            concurrency_id="pipeline", concurrency_limit=1, show_progress="minimal",
        )
        stop.click(app.cancel, chat, chat, cancels=[asked], queue=False)
        clear.click(lambda: ([], EMPTY_STATE, render.sources_html(None, False), gr.update(choices=[], value=None)),
                    None, [chat, state, sources, picker], queue=False)
        show_passages.change(app.rerender_sources, [state, show_passages], sources, queue=False)
        picker.change(app.open_citation, [picker, state], [article, tabs], queue=False).then(
            None, None, None, js=render.SCROLL_TO_MARK_JS
        )
        corpus_outputs = [corpus_note, table, doomed, title]
        # index changes queue apart from the questions: the live generation answers while the next one is built
        reindex.click(app.reindex, None, corpus_outputs, concurrency_id="index", concurrency_limit=1)
        upload.upload(app.upload, [upload, replace], corpus_outputs, concurrency_id="index", concurrency_limit=1)
        remove.click(app.remove, doomed, corpus_outputs, concurrency_id="index", concurrency_limit=1)
        model.change(app.choose_model, model, model_note, concurrency_id="pipeline", concurrency_limit=1)
        gr.Timer(2.0).tick(app.status, None, status, queue=False, show_progress="hidden")
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
    if not _is_loopback(host) or share:
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
    # are there, ahead of Gradio's own, before the server takes its first request.
    demo.launch(server_name=host, server_port=port, share=share, auth=auth, max_file_size=f"{int(app.max_upload_mb)}mb",
                css=render.CSS, theme=gr.themes.Soft(), footer_links=[], show_error=True,
                prevent_thread_lock=prevent_thread_lock, allowed_paths=[], quiet=False,
                app_kwargs={"routes": api.router(app, api_key).routes})
    return demo


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

