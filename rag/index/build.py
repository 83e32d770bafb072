"""corpus -> clean -> chunk -> embed -> store, re-embedding only the files whose content changed."""

from __future__ import annotations

import logging
import time
from collections import Counter


from pathlib import Path

from rag.index.backends import open_store
from rag.index.chunk import chunk
from rag.index.clean import DROPPED_SHOWN, FRONT_MATTER, clean, repeated_blocks, repeated_in
from rag.config import SCHEMA_VERSION, Settings
from rag.index.corpus import SUFFIXES, discover, load_corpus
from rag.index.embed import Embedder
from rag.errors import CorpusError, IndexStoreError, IndexWriteError
from rag.models import sha256_file
from rag.index.files import IndexData
from rag.index.store import BuildReport
from rag.index.store import DocPart

log = logging.getLogger("rag.index")


PROGRESS_MIN_CHARS = 2_000_000  # below this, cleaning and chunking take about a second: no bar


def _bar(enabled: bool, **kwargs):
    from tqdm import tqdm

    return tqdm(disable=not enabled, **kwargs)


def embed_text(c, settings: Settings) -> str:
    """What is embedded for a chunk: its document title and heading trail travel with its text."""
    if not settings.embed_title:
        return c.text
    return f"{c.title}\n{c.heading}\n{c.text}" if c.heading else f"{c.title}\n{c.text}"


REPORT_WORDS = 60  # characters of a dropped block kept in the manifest, for `rag index --report`; a title block is
# kept as cleaning records it (DROPPED_SHOWN): its dateline and credit answer who and when (rag/engine/about.py)


def dropped_entries(cleaned) -> list[list]:
    """The manifest's record of what cleaning dropped: [start_line, end_line, reason, first words, page]."""
    return [[d.start_line, d.end_line, d.reason, " ".join(d.text.split())[:DROPPED_SHOWN if d.reason == FRONT_MATTER else REPORT_WORDS],
             d.page] for d in cleaned.dropped]


def compatible(manifest: dict, settings: Settings, embedder: Embedder) -> str:
    """Why an existing index cannot be re-used with these settings ("" when it can)."""
    if manifest.get("schema_version") != SCHEMA_VERSION:
        return f"index schema {manifest.get('schema_version')} differs from {SCHEMA_VERSION}"
    if manifest.get("embed_model") != embedder.name:
        return f"index was built with {manifest.get('embed_model')}, not {embedder.name}"
    if manifest.get("chunking") != settings.chunking_key():
        return "chunking settings changed"
    if manifest.get("index_type", "auto") != settings.index_type:
        return f"index type changed to {settings.index_type}"
    return ""


def open_or_build(
    settings: Settings, embedder: Embedder, rebuild: bool = False, progress: bool = False, serve_stale: bool = False,
    wait: bool = True,
) -> tuple[IndexData, BuildReport]:
    """The live generation, refreshed against the corpus folder (a writer: under the store's build lock).
    Writes only when something changed.

    When the refresh cannot be written (read-only or full folder) it raises IndexWriteError, the previous index
    untouched; with `serve_stale` (answering, not `rag index`) that previous index is returned instead, if usable,
    with the reason in report.stale. With wait=False a build already running elsewhere fails at once.
    """
    target = open_store(settings)
    with target.writer(wait=wait):
        old = None
        reason = "rebuild requested" if rebuild else ""
        if not rebuild:
            try:
                old = target.open()
            except IndexStoreError as e:
                reason = str(e)
                log.warning("existing index not usable, rebuilding: %s", e)
            if old is not None:
                reason = compatible(old.manifest, settings, embedder)
                if reason:
                    log.warning("rebuilding the index: %s", reason)
                    old = None
        try:
            return _refresh(settings, embedder, old, reason, progress, target)
        except IndexWriteError as e:
            if not (serve_stale and old is not None):
                raise
            log.warning("%s; answering from it, without the latest corpus changes", e)
            return old, BuildReport(stale=str(e), total_chunks=len(old.chunks))


def open_current(settings: Settings, embedder: Embedder, progress: bool = False):
    """What answering opens (Pipeline): the live generation, without the build lock and without parsing the
    corpus when the generation is current (same settings, and every file's size and mtime, or failing that
    its sha256, as recorded). Otherwise it is refreshed; when another process is building right now, the
    live generation answers at once (report.stale says so) instead of waiting for that build."""
    target = open_store(settings)
    try:
        live = target.open()
    except IndexStoreError as e:
        log.warning("existing index not usable, rebuilding: %s", e)
        live = None
    if live is not None and not compatible(live.manifest, settings, embedder):
        why = stale_reason(live.manifest, settings)
        if not why:
            return live, current_report(live)
        log.info("the index is out of date (%s): refreshing it", why)
        try:
            return open_or_build(settings, embedder, progress=progress, serve_stale=True, wait=False)
        except IndexStoreError as e:
            if "another build" not in str(e):
                raise
            log.warning("%s; answering from the live index meanwhile", e)
            return live, BuildReport(stale=f"being rebuilt by another process ({why})",
                                     total_chunks=len(live.chunks))
    return open_or_build(settings, embedder, progress=progress, serve_stale=True)


def current_report(gen) -> BuildReport:
    files = gen.manifest.get("files", {})
    return BuildReport(unchanged=sorted(files), skipped=[tuple(s) for s in gen.manifest.get("skipped", [])],
                       total_chunks=len(gen.chunks))


def stale_reason(manifest: dict, settings: Settings) -> str:
    """Why the corpus folder no longer matches the generation ("" when it does), from file names, sizes and
    mtimes, hashing only a file whose size or mtime changed; nothing is parsed."""
    seen = manifest.get("seen")
    if seen is None:
        return "the index does not record its files' sizes and times"
    try:
        paths, _ = discover(settings.corpus_dir)
    except CorpusError as e:
        return str(e)
    current = {p.relative_to(settings.corpus_dir).as_posix(): p for p in paths}
    if set(current) != set(seen):
        added, removed = sorted(set(current) - set(seen)), sorted(set(seen) - set(current))
        return ", ".join([*(f"{a} added" for a in added[:3]), *(f"{r} removed" for r in removed[:3])])
    for source, path in current.items():
        size, mtime_ns, sha = seen[source]
        try:
            st = path.stat()
            if (st.st_size, st.st_mtime_ns) == (size, mtime_ns) or (sha and sha256_file(path) == sha):
                continue
        except OSError:
            pass
        return f"{source} changed"
    return ""


def _seen(settings: Settings, docs, skipped) -> dict:
    """Every file found, with size, mtime and content hash (skipped ones without a hash): what stale_reason
    compares against."""
    seen = {}
    for doc in docs:
        st = doc.path.stat()
        seen[doc.source] = [st.st_size, st.st_mtime_ns, doc.sha256]
    for s in skipped:
        path = Path(settings.corpus_dir) / s.source
        try:
            if path.is_file() and path.suffix.lower() in SUFFIXES:
                st = path.stat()
                seen[s.source] = [st.st_size, st.st_mtime_ns, ""]
        except OSError:
            pass
    return seen


def _refresh(settings, embedder, old, reason: str, progress: bool, target):
    docs, skipped = load_corpus(settings.corpus_dir, settings.max_file_mb)
    report = BuildReport(skipped=[(s.source, s.reason) for s in skipped], rebuilt_reason=reason)
    if not docs:
        why = "; ".join(f"{s.source}: {s.reason}" for s in skipped[:3])
        raise CorpusError(f"no indexable .txt/.md/.html/.pdf/.docx files in {settings.corpus_dir}" + (f" ({why})" if why else ""))

    old_files = old.manifest.get("files", {}) if old else {}
    parts, to_embed = [], []
    files = {}
    # blocks found in most files of the folder (a shared footer) are furniture: a pass over the whole corpus
    repeated = repeated_blocks(docs) if settings.clean else {}
    shared = {doc.source: repeated_in(doc, repeated) for doc in docs}

    def fresh(doc) -> bool:  # new or changed since the last build, or the shared furniture it holds changed
        before = old_files.get(doc.source, {})
        return before.get("sha256") != doc.sha256 or before.get("repeated", "") != shared[doc.source]

    todo = sum(len(d.text) for d in docs if fresh(d))
    bar = _bar(progress and todo > PROGRESS_MIN_CHARS, total=todo, desc="Cleaning and chunking", unit="char", unit_scale=True)
    for doc in docs:
        before = old_files.get(doc.source)
        if not fresh(doc):
            doc_chunks = None  # kept from the live generation by the store
            report.unchanged.append(doc.source)
            files[doc.source] = before
            report.total_chunks += before.get("chunks", 0)
        else:
            bar.set_postfix_str(doc.source[-40:], refresh=False)
            cleaned = clean(doc, repeated, settings.clean)
            doc_chunks = chunk(doc, cleaned, settings.chunk_size, settings.chunk_overlap)
            (report.updated if before else report.added).append(doc.source)
            reasons = Counter(d.reason for d in cleaned.dropped)
            log.info(
                "%s: kept %d paragraphs (%d chunks), dropped %d blocks: %s",
                doc.source, len(cleaned.paragraphs), len(doc_chunks), len(cleaned.dropped),
                ", ".join(f"{n}× {r}" for r, n in reasons.items()) or "none",
            )
            files[doc.source] = {
                "sha256": doc.sha256,
                "title": cleaned.title,
                # what the document says about itself, stored with it (both stores keep the manifest), never indexed
                "meta": doc.meta.to_dict(),
                "format": doc.format,
                "chunks": len(doc_chunks),
                "code_chunks": sum(c.kind == "code" for c in doc_chunks),
                "table_chunks": sum(c.kind == "table" for c in doc_chunks),
                "bytes": doc.path.stat().st_size,
                "encoding": doc.encoding,
                "pages": doc.pages,
                "indexed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "words": cleaned.words,
                "lost_words": cleaned.lost_words,
                "dropped_majority": cleaned.dropped_majority,
                "note": cleaned.note,
                "repeated": shared[doc.source],
                "dropped": dropped_entries(cleaned),
            }
            if cleaned.dropped_majority:  # `rag index` prints it as a warning on every run, the UI marks it
                log.info("%s: cleaning dropped %d of its %d words", doc.source, cleaned.lost_words, cleaned.words)
            if not doc_chunks:
                log.warning("%s: no text left after cleaning", doc.source)
            to_embed.append(len(parts))
            bar.update(len(doc.text))
            report.total_chunks += len(doc_chunks)
        parts.append(DocPart(doc.source, doc_chunks))
    bar.close()
    report.removed = sorted(set(old_files) - set(files))
    seen = _seen(settings, docs, skipped)

    if old is not None and not (report.added or report.updated or report.removed):
        if old.manifest.get("seen") != seen:  # same content, new mtimes (or an older index): record them
            target.commit(dict(old.manifest, seen=seen), [DocPart(p.source) for p in parts], old)
            return target.open(), report
        return old, report

    new_chunks = [c for slot in to_embed for c in parts[slot].chunks]
    new_vectors = embedder.encode([embed_text(c, settings) for c in new_chunks], progress=progress)
    report.embedded_chunks = len(new_chunks)
    offset = 0
    for slot in to_embed:
        n = len(parts[slot].chunks)
        parts[slot].vectors = new_vectors[offset : offset + n]
        offset += n
    if not report.total_chunks:
        raise CorpusError(f"no article text left in {settings.corpus_dir} after cleaning")
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "embed_model": embedder.name,
        "dim": int(embedder.dim),
        "chunking": settings.chunking_key(),
        "index_type": settings.index_type,
        "corpus_dir": str(settings.corpus_dir),
        "files": files,
        "skipped": report.skipped,
        "dropped_majority": sum(bool(f.get("dropped_majority")) for f in files.values()),
        "seen": seen,
    }
    data = target.commit(manifest, parts, old)
    report.wrote = True
    return data, report


def dropped_report(files: dict) -> str:
    """What cleaning dropped, per file: where (lines, and page for a PDF), why, and the first words."""
    lines = []
    for source, meta in sorted(files.items()):
        dropped = meta.get("dropped", [])
        lost = meta.get("lost_words", 0)
        head = f"{source}: {meta.get('chunks', 0)} chunks, {len(dropped)} dropped" + (
            f" ({lost} of {meta.get('words', 0)} words)" if dropped else "")
        if meta.get("dropped_majority"):
            head += "  ⚠ MOST OF THE FILE DROPPED"
        lines.append(head)
        for start, end, reason, words, page in dropped:
            where = (f"p.{page} " if page else "") + (f"L{start}" if start == end else f"L{start}-L{end}")
            lines.append(f"  {where:>16}  {reason}: “{words}”")
    return "\n".join(lines)
