"""corpus -> clean -> chunk -> embed -> store, re-embedding only the files whose content changed."""

from __future__ import annotations

import logging
import time
from collections import Counter

import numpy as np

from . import store
from .chunk import chunk
from .clean import clean, repeated_blocks, repeated_in
from .config import SCHEMA_VERSION, Settings
from .corpus import load_corpus
from .embed import Embedder
from .errors import CorpusError, IndexStoreError, IndexWriteError
from .store import BuildReport, IndexData

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


REPORT_WORDS = 60  # characters of a dropped block kept in the manifest, for `rag index --report`


def dropped_entries(cleaned) -> list[list]:
    """The manifest's record of what cleaning dropped: [start_line, end_line, reason, first words, page]."""
    return [[d.start_line, d.end_line, d.reason, " ".join(d.text.split())[:REPORT_WORDS], d.page] for d in cleaned.dropped]


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
    settings: Settings, embedder: Embedder, rebuild: bool = False, progress: bool = False, serve_stale: bool = False
) -> tuple[IndexData, BuildReport]:
    """The live index, refreshed against the corpus folder. Writes only when something changed.

    When the refresh cannot be written (read-only or full folder) it raises IndexWriteError, the previous index
    untouched; with `serve_stale` (answering, not `rag index`) that previous index is returned instead, if usable,
    with the reason in report.stale.
    """
    with store.build_lock(settings.index_dir):
        store.sweep(settings.index_dir)  # a killed build's leftovers go at the next start
        old = None
        reason = "rebuild requested" if rebuild else ""
        if not rebuild:
            try:
                old = store.load(settings.index_dir)
            except IndexStoreError as e:
                reason = str(e)
                log.warning("existing index not usable, rebuilding: %s", e)
            if old is not None:
                reason = compatible(old.manifest, settings, embedder)
                if reason:
                    log.warning("rebuilding the index: %s", reason)
                    old = None
        try:
            return _refresh(settings, embedder, old, reason, progress)
        except IndexWriteError as e:
            if not (serve_stale and old is not None):
                raise
            log.warning("%s; answering from it, without the latest corpus changes", e)
            return old, BuildReport(stale=str(e), total_chunks=len(old.chunks))


def _refresh(settings, embedder, old: IndexData | None, reason: str, progress: bool):
    docs, skipped = load_corpus(settings.corpus_dir, settings.max_file_mb)
    report = BuildReport(skipped=[(s.source, s.reason) for s in skipped], rebuilt_reason=reason)
    if not docs:
        why = "; ".join(f"{s.source}: {s.reason}" for s in skipped[:3])
        raise CorpusError(f"no indexable .txt/.md/.html/.pdf/.docx files in {settings.corpus_dir}" + (f" ({why})" if why else ""))

    old_files = old.manifest.get("files", {}) if old else {}
    chunks, vector_parts, to_embed = [], [], []
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
            doc_chunks, doc_vectors = old.file_chunks(doc.source)
            report.unchanged.append(doc.source)
            files[doc.source] = before
        else:
            bar.set_postfix_str(doc.source[-40:], refresh=False)
            cleaned = clean(doc, repeated, settings.clean)
            doc_chunks = chunk(doc, cleaned, settings.chunk_size, settings.chunk_overlap)
            doc_vectors = None
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
            to_embed.append((len(vector_parts), doc_chunks))
            bar.update(len(doc.text))
        chunks.extend(doc_chunks)
        vector_parts.append(doc_vectors)
    bar.close()
    report.removed = sorted(set(old_files) - set(files))
    report.total_chunks = len(chunks)

    if old is not None and not (report.added or report.updated or report.removed):
        return old, report

    new_chunks = [c for _, cs in to_embed for c in cs]
    new_vectors = embedder.encode([embed_text(c, settings) for c in new_chunks], progress=progress)
    report.embedded_chunks = len(new_chunks)
    offset = 0
    for slot, cs in to_embed:
        vector_parts[slot] = new_vectors[offset : offset + len(cs)]
        offset += len(cs)
    vectors = np.concatenate([v for v in vector_parts if v is not None and len(v)] or [np.zeros((0, embedder.dim), np.float32)])
    if not chunks:
        raise CorpusError(f"no article text left in {settings.corpus_dir} after cleaning")
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "embed_model": embedder.name,
        "dim": int(vectors.shape[1]),
        "chunking": settings.chunking_key(),
        "index_type": settings.index_type,
        "corpus_dir": str(settings.corpus_dir),
        "files": files,
        "skipped": report.skipped,
        "dropped_majority": sum(bool(f.get("dropped_majority")) for f in files.values()),
    }
    data = store.write(settings.index_dir, manifest, chunks, vectors)
    report.wrote = True
    return data, report
