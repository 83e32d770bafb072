"""Find the articles in the corpus folder and read each as text, skipping what cannot be read (with a reason)."""

from __future__ import annotations

import hashlib
import html as html_lib
import logging
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError

log = logging.getLogger("rag.corpus")

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES


@dataclass(frozen=True)
class Document:
    source: str  # path relative to the corpus folder, '/'-separated: what citations show
    path: Path
    sha256: str  # of the file's bytes: what decides whether it must be re-indexed
    text: str  # the text that chunk offsets and line numbers refer to
    kind: str  # "text", "markdown" or "html"
    title_hint: str = ""  # a title the format itself declares (HTML <title>, Markdown '# ')
    line_map: tuple[int, ...] | None = None  # text line i (0-based) -> file line; None = identical
    encoding: str = "utf-8"

    def file_line(self, text_line: int) -> int:
        """1-based line in the original file for a 1-based line of `text`."""
        if self.line_map is None:
            return text_line
        return self.line_map[min(text_line, len(self.line_map)) - 1]


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


class SkipFile(Exception):
    pass


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


def read_document(path: Path, corpus_dir: Path, max_bytes: int) -> Document:
    """Read and decode one file. Raises SkipFile with the reason when it cannot be used."""
    source = path.relative_to(corpus_dir).as_posix()
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SkipFile(f"larger than the {max_bytes // 2**20} MB limit ({size // 2**20} MB)")
        data = path.read_bytes()
    except OSError as e:
        raise SkipFile(f"cannot read: {e.strerror}") from None
    if b"\x00" in data[:8192]:
        raise SkipFile("binary file (contains NUL bytes)")
    text, encoding = _decode(data)
    if not text.strip():
        raise SkipFile("empty file")
    sha = hashlib.sha256(data).hexdigest()
    suffix = path.suffix.lower()
    if suffix in HTML_SUFFIXES:
        return _from_html(source, path, sha, text, encoding)
    kind = "markdown" if suffix in (".md", ".markdown") else "text"
    title = ""
    if kind == "markdown":
        for line in text.splitlines():
            if line.startswith("# "):
                title = line[2:].strip()
                break
    return Document(source, path, sha, text, kind, title, None, encoding)


def _decode(data: bytes) -> tuple[str, str]:
    for enc in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return data.decode(enc).replace("\r\n", "\n").replace("\r", "\n"), enc
        except UnicodeDecodeError:
            continue
    # Not UTF-8: cp1252 covers most Western files; mark it so the log says what happened.
    try:
        return data.decode("cp1252").replace("\r\n", "\n").replace("\r", "\n"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1").replace("\r\n", "\n").replace("\r", "\n"), "latin-1"


def _from_html(source: str, path: Path, sha: str, raw: str, encoding: str) -> Document:
    import trafilatura

    extracted = trafilatura.extract(raw, include_comments=False, include_tables=False, favor_precision=True) or ""
    meta = trafilatura.extract_metadata(raw)
    title = (meta.title if meta and meta.title else "") or ""
    if not extracted.strip():
        raise SkipFile("HTML page with no extractable article text")
    # Map each extracted line back to the first raw-HTML line that contains its opening words.
    raw_lines = [html_lib.unescape(line) for line in raw.splitlines()]
    line_map, cursor = [], 0
    for line in extracted.splitlines():
        probe = line.strip()[:40]
        found = None
        if probe:
            for i in range(cursor, len(raw_lines)):
                if probe in raw_lines[i]:
                    found = i
                    break
        if found is not None:
            cursor = found
        line_map.append(cursor + 1)
    return Document(source, path, sha, extracted, "html", title, tuple(line_map), encoding)


def load_corpus(corpus_dir: Path, max_file_mb: float) -> tuple[list[Document], list[Skipped]]:
    files, skipped = discover(corpus_dir)
    docs = []
    seen: dict[str, str] = {}
    for path in files:
        try:
            doc = read_document(path, Path(corpus_dir), int(max_file_mb * 2**20))
        except SkipFile as e:
            skipped.append(Skipped(path.relative_to(corpus_dir).as_posix(), str(e)))
            log.warning("skipped %s: %s", path.relative_to(corpus_dir).as_posix(), e)
            continue
        if doc.sha256 in seen:
            reason = f"same content as {seen[doc.sha256]}"
            skipped.append(Skipped(doc.source, reason))
            log.warning("skipped %s: %s", doc.source, reason)
            continue
        if doc.encoding not in ("utf-8-sig", "utf-8"):
            log.warning("%s is not UTF-8; decoded as %s", doc.source, doc.encoding)
        seen[doc.sha256] = doc.source
        docs.append(doc)
    return docs, skipped
