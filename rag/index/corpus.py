"""Find the documents in the corpus folder and parse each, skipping what cannot be read (with a reason)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from rag import progress
from rag.errors import CorpusError, SkipFile
from rag.index.parse import FORMATS, ParsedDoc, parse

log = logging.getLogger("rag.index.corpus")

SUFFIXES = set(FORMATS)

__all__ = ["SUFFIXES", "SkipFile", "Skipped", "discover", "load_corpus", "read_document"]


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


def discover(corpus_dir: Path) -> tuple[list[Path], list[Skipped]]:
    """The indexable files under corpus_dir, sorted; symlinks leading outside it are refused."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder {corpus_dir} does not exist")
    root = corpus_dir.resolve()
    files, skipped = [], []
    for path in sorted(corpus_dir.rglob("*")):
        rel = path.relative_to(corpus_dir).as_posix()
        if any(part.startswith(".") for part in path.relative_to(corpus_dir).parts):
            continue
        if path.suffix.lower() not in SUFFIXES:
            if path.is_file():
                skipped.append(Skipped(rel, f"unsupported file type {path.suffix or '(none)'}"))
            continue
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            skipped.append(Skipped(rel, "symlink pointing outside the corpus folder (not followed)"))
            continue
        if path.is_file():
            files.append(path)
    return files, skipped


def read_document(path: Path, corpus_dir: Path, max_bytes: int) -> ParsedDoc:
    """Read and parse one file. Raises SkipFile with the reason when it cannot be used."""
    source = path.relative_to(corpus_dir).as_posix()
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SkipFile(f"larger than the {max_bytes // 2**20} MB limit ({size // 2**20} MB)")
        data = path.read_bytes()
    except OSError as e:
        raise SkipFile(f"cannot read: {e.strerror}") from None
    return parse(path, source, data)


def load_corpus(corpus_dir: Path, max_file_mb: float) -> tuple[list[ParsedDoc], list[Skipped]]:
    files, skipped = discover(corpus_dir)
    docs = []
    seen: dict[str, str] = {}
    for done, path in enumerate(files):
        progress.report("parse", done, len(files), path.name)
        try:
            doc = read_document(path, Path(corpus_dir), int(max_file_mb * 2**20))
        except SkipFile as e:
            skipped.append(Skipped(path.relative_to(corpus_dir).as_posix(), str(e)))
            log.warning("skipped %s: %s", path.relative_to(corpus_dir).as_posix(), e)
            continue
        except Exception as e:  # a parser library failing on a malformed file: that file is skipped, never the folder
            reason = f"cannot be parsed ({type(e).__name__}: {str(e)[:100]})"
            skipped.append(Skipped(path.relative_to(corpus_dir).as_posix(), reason))
            log.warning("skipped %s: %s", path.relative_to(corpus_dir).as_posix(), reason)
            continue
        if doc.sha256 in seen:
            reason = f"same content as {seen[doc.sha256]}"
            skipped.append(Skipped(doc.source, reason))
            log.warning("skipped %s: %s", doc.source, reason)
            continue
        if doc.encoding not in ("utf-8-sig", "utf-8", ""):
            log.warning("%s is not UTF-8; decoded as %s", doc.source, doc.encoding)
        seen[doc.sha256] = doc.source
        docs.append(doc)
    progress.report("parse", len(files), len(files), "")
    return docs, skipped
