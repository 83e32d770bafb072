"""The question corpus of tests/qa/: questions written from documents alone, over many folders, and the checker
that holds every record to its file.

Each folder of tests/qa/folders/ has its questions in tests/qa/<folder>.jsonl, one JSON record per line:

    id        "<folder>-<n>"
    question  as a person would type it
    kind      factoid | definition | yesno | why | how | summary | listing | followup | unanswerable
    answers   the short answer and its aliases ([] when the answer is a sentence or more)
    facts     must-have facts, each a list of aliases, every one found in the evidence
    sources   the gold file(s), relative to the folder
    evidence  the sentence(s) stating the answer, verbatim from the file
    pages     for a PDF, the 1-based page of each evidence quote
    history   earlier questions, for a follow-up
    partial   (optional) true when the evidence answers only part of the question
    near      (optional, unanswerable) the sentence the near miss was written against, verbatim from `near_source`
    miss      (optional, unanswerable) how it misses: attribute | sibling | premise | omitted | offtopic | absent
              (absent: the document or section the question names is not in the folder)

tests/qa/documents/<folder>.jsonl holds questions about a document or a section as a whole, over the same folders and
in the same format, with the kinds doc-author | doc-date | doc-site (who wrote it, when it came out, which site or
publisher ran it: the evidence is where the page shows it), doc-summary | doc-section (what a document, or one of its
sections, is about: `facts` its key points), doc-listing (which documents say X: every one in `sources`, a quote
from each) and unanswerable.

The checker reads the files with general libraries only (lxml, pypdfium2, python-docx), never with the engine's
own parsers, so a record cannot be shaped by what the engine extracts. It adds `lines` (the line range of each
quote in the file's source, where the format has lines) and rejects a record whose quote is not in its file,
whose short answer is not in its quote, or whose fields are malformed.

Folders are split before anything is tuned: `train` folders teach the models, `dev` folders choose settings,
`test` folders are measured and never looked at while building. Python's documentation, Debian's history and
R's manuals are held out by others and never appear here.
"""

from __future__ import annotations

import html
import json
import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rag.config import ROOT

QA_DIR = ROOT / "tests" / "qa"
FOLDERS_DIR = QA_DIR / "folders"
MISSES = ("attribute", "sibling", "premise", "omitted", "offtopic", "absent")
KINDS = ("factoid", "definition", "yesno", "why", "how", "summary", "listing", "followup", "unanswerable")
# Questions about a document or a section as a whole (tests/qa/documents/<folder>.jsonl, over the same folders)
DOC_KINDS = ("doc-author", "doc-date", "doc-site", "doc-summary", "doc-section", "doc-listing")
DOCUMENTS_DIR = QA_DIR / "documents"

# Split by folder (genre and format apart), fixed before any model was trained or setting chosen.
SPLITS = {
    # train: what the ranker and the reader learn from
    "git-man": "train", "sqlite-html": "train", "devref-docx": "train", "licenses": "train", "handbook-pdf": "train",
    "news-a-html": "train", "news-b-html": "train", "news-d-html": "train", "tables-pdf": "train", "guide-pdf": "train",
    "policy-html": "train", "charter-txt": "train", "book-html": "train", "essays-md": "train", "longtext-txt": "train",
    "tutorial-html": "train", "changes-txt": "train", "tables-md": "train", "valgrind-html": "train", "cli-md": "train",
    "manpages-txt": "train", "cli-pdf": "train", "memo-docx": "train", "policy-docx": "train", "handbook-docx": "train",
    "report-docx": "train",
    # dev: where settings and designs are chosen
    "debian-faq": "dev", "pino-md": "dev", "mail-txt": "dev", "guide-docx": "dev", "papers-pdf": "dev", "howto-html": "dev",
    # test (issue 22, fixed before the reader was trained): one folder per genre and format, never trained or tuned on;
    # the five articles of corpus/ are one of them
    "articles": "test", "bash-pdf": "test", "pg-tutorial": "test", "news-c-html": "test", "notes-docx": "test",
    "faq-md": "test", "legal-txt": "test", "report2col-pdf": "test",
}
HELD_OUT_BY_OTHERS = re.compile(r"python3(\.\d+)?-doc|debian-history|r-doc-", re.I)

_BLOCKS = {"p", "div", "li", "dt", "dd", "pre", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "br",
           "table", "ul", "ol", "dl", "blockquote", "section", "article", "title", "caption", "figcaption"}
_FOLD = str.maketrans({"\u2212": "-", "\u2010": "-", "\u2011": "-", "\u2013": "-", "\u2014": "-", "\u02dc": "~",
                       "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " ", "\u00ad": "", "\ufffe": "-", "\x02": "-"})


def fold(text: str) -> str:
    """The form quotes are compared in: NFKC, ASCII dashes and quotes, single spaces."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).translate(_FOLD)).strip()


def _folded_with_map(text: str) -> tuple[str, list[int]]:
    """fold(), with the index in `text` of every character of the result."""
    out, where, space = [], [], False
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch).translate(_FOLD):
            if c.isspace():
                space = bool(out)
                continue
            if space:
                out.append(" ")
                where.append(i)
                space = False
            out.append(c)
            where.append(i)
    return "".join(out), where


@lru_cache(maxsize=256)
def pages(path: Path) -> tuple[str, ...]:
    """A document's visible text, one string per page (one page for formats without pages)."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        import pypdfium2

        doc = pypdfium2.PdfDocument(str(path))
        try:
            return tuple(doc[i].get_textpage().get_text_range().replace("\r\n", "\n") for i in range(len(doc)))
        finally:
            doc.close()
    if suffix in (".html", ".htm"):
        import lxml.html

        tree = lxml.html.fromstring(path.read_bytes())
        for bad in tree.xpath("//script|//style|//noscript"):
            bad.drop_tree()
        for el in tree.iter():
            if isinstance(el.tag, str) and el.tag.lower() in _BLOCKS:
                el.text = "\n" + (el.text or "")
                el.tail = "\n" + (el.tail or "")
        text = tree.text_content()
        return (re.sub(r"\n\s*\n+", "\n\n", re.sub(r"[ \t]+\n", "\n", text)).strip(),)
    if suffix == ".docx":
        import docx

        return ("\n\n".join(p.text for p in docx.Document(str(path)).paragraphs if p.text.strip()),)
    return (path.read_text(encoding="utf-8", errors="replace"),)


def _source_lines(path: Path) -> str | None:
    """The file's text with its own line breaks, for line numbers: markup removed but its newlines kept."""
    suffix = path.suffix.lower()
    if suffix in (".pdf", ".docx"):
        return None
    raw = path.read_text(encoding="utf-8", errors="replace")
    if suffix in (".html", ".htm"):
        raw = re.sub(r"<(script|style)\b.*?</\1\s*>", lambda m: "\n" * m.group(0).count("\n"), raw, flags=re.S | re.I)
        raw = re.sub(r"<[^>]*>", lambda m: "\n" * m.group(0).count("\n") or " ", raw)
        raw = html.unescape(raw)
    return raw


def locate(path: Path, quote: str) -> tuple[int | None, tuple[int, int] | None]:
    """(page, (first line, last line)) of a quote in a file; page is None when the quote is not found."""
    want = fold(quote)
    for n, page in enumerate(pages(path), 1):
        if want in fold(page):
            break
    else:
        return None, None
    source = _source_lines(path)
    if source is None:
        return n, None
    folded, where = _folded_with_map(source)
    at = folded.find(want)
    if at < 0:
        return n, None
    first = source.count("\n", 0, where[at]) + 1
    return n, (first, source.count("\n", 0, where[at + len(want) - 1]) + 1)


@dataclass
class Checked:
    record: dict
    errors: list[str]


def check(record: dict, folder: Path) -> Checked:
    """The record with `lines` (and `pages`) filled in from its files, and what is wrong with it."""
    r, errors = dict(record), []
    for key in ("id", "question", "kind"):
        if not isinstance(r.get(key), str) or not r[key].strip():
            errors.append(f"{key} missing")
    if r.get("kind") not in KINDS + DOC_KINDS:
        errors.append(f"kind {r.get('kind')!r} is not one of {', '.join(KINDS + DOC_KINDS)}")
    for key in ("answers", "sources", "evidence", "history", "facts", "pages"):
        r.setdefault(key, [])
        if not isinstance(r[key], list):
            errors.append(f"{key} must be a list")
            return Checked(r, errors)
    if len(r["question"]) > 500:
        errors.append("question over 500 characters")
    if r.get("kind") == "followup" and not r["history"]:
        errors.append("a follow-up needs its history")
    if "partial" in r and not isinstance(r["partial"], bool):
        errors.append("partial is true or false")
    if r.get("kind") == "unanswerable":
        if r["evidence"] or r["answers"] or r["facts"]:
            errors.append("an unanswerable question has no evidence, answers or facts")
        if r.get("miss") is not None and r["miss"] not in MISSES:
            errors.append(f"miss {r['miss']!r} is not one of {', '.join(MISSES)}")
        if r.get("near"):
            near = folder / str(r.get("near_source", ""))
            if not near.is_file() or folder.resolve() not in near.resolve().parents:
                errors.append(f"near_source {r.get('near_source')!r} is not a file of {folder.name}")
            elif locate(near, str(r["near"]))[0] is None:
                errors.append(f"near is not in {r['near_source']}: {str(r['near'])[:80]!r}")
        return Checked(r, errors)
    if not r["sources"] or not r["evidence"]:
        errors.append("an answerable question needs sources and evidence")
        return Checked(r, errors)
    files = []
    for s in r["sources"]:
        p = folder / s
        if not p.is_file() or folder.resolve() not in p.resolve().parents:
            errors.append(f"source {s!r} is not a file of {folder.name}")
        else:
            files.append(p)
    if errors:
        return Checked(r, errors)
    found_pages, lines, quote_of = [], [], {}
    for i, quote in enumerate(r["evidence"]):
        if not isinstance(quote, str) or len(fold(quote)) < 8:
            errors.append(f"evidence {i} is too short")
            continue
        for p in files:
            page, span = locate(p, quote)
            if page is not None:
                break
        if page is None:
            errors.append(f"evidence {i} is not in {', '.join(r['sources'])}: {quote[:80]!r}")
            continue
        if p.suffix.lower() == ".pdf":
            given = r["pages"][i] if i < len(r["pages"]) else None
            if given is not None and given != page:
                # a quote repeated on several pages is accepted on the page given, if it is there
                if not (isinstance(given, int) and 1 <= given <= len(pages(p)) and fold(quote) in fold(pages(p)[given - 1])):
                    errors.append(f"evidence {i} is on page {page}, not {given}")
                else:
                    page = given
        found_pages.append(page if p.suffix.lower() == ".pdf" else None)
        lines.append({"source": p.name, "start_line": span[0], "end_line": span[1]} if span else {"source": p.name})
        quote_of[i] = fold(quote)
    gold = " ".join(quote_of.values()).lower()
    for a in r["answers"]:
        if r.get("kind") != "yesno" and fold(str(a)).lower() not in gold:
            errors.append(f"short answer {a!r} is not in the evidence")
    for fact in r["facts"]:
        if not isinstance(fact, list) or not fact:
            errors.append("each fact is a non-empty list of aliases")
        elif not any(fold(str(a)).lower() in gold for a in fact):
            errors.append(f"no alias of fact {fact!r} is in the evidence")
    if r.get("kind") == "yesno" and not (r["answers"] and r["answers"][0] in ("Yes", "No")):
        errors.append("a yes/no question's first answer is Yes or No")
    if any(p is not None for p in found_pages):
        r["pages"] = found_pages
    r["lines"] = lines
    return Checked(r, errors)


def folder_of(set_file: Path) -> Path:
    return FOLDERS_DIR / set_file.stem


def set_file(folder: str, qa_dir: Path = QA_DIR, documents: bool = False) -> Path:
    """Where a folder's questions are: qa_dir/<folder>.jsonl, or with `documents` qa_dir/documents/<folder>.jsonl."""
    return qa_dir / ("documents" if documents else "") / f"{folder}.jsonl"


def load(folder: str, qa_dir: Path = QA_DIR, documents: bool = False) -> list[dict]:
    """The checked records of one folder's set_file() over qa_dir/folders/<folder>/, each with its folder and
    split; a record the checker rejects is left out."""
    path = set_file(folder, qa_dir, documents)
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            c = check(json.loads(line), qa_dir / "folders" / folder)
            if not c.errors:
                out.append({**c.record, "folder": folder, "split": SPLITS.get(folder, "train")})
    return out


def folders(split: str | None = None, documents: bool = False) -> list[str]:
    return [f for f, s in SPLITS.items() if (split is None or s == split) and set_file(f, documents=documents).exists()]


def main(argv: list[str]) -> int:
    """python -m rag.tools.questions check [SET.jsonl ...]   |   python -m rag.tools.questions dump FOLDER OUT_DIR"""
    if argv[:1] == ["dump"]:
        folder, out = Path(argv[1]), Path(argv[2])
        out.mkdir(parents=True, exist_ok=True)
        for p in sorted(folder.iterdir()):
            body = pages(p)
            text = body[0] if len(body) == 1 else "".join(f"\n=== page {n} ===\n{t}" for n, t in enumerate(body, 1))
            (out / (p.name + ".txt")).write_text(text, encoding="utf-8")
        return 0
    files = [Path(a) for a in argv[1:]] or sorted(QA_DIR.glob("*.jsonl")) + sorted(DOCUMENTS_DIR.glob("*.jsonl"))
    bad = total = 0
    for f in files:
        ids = set()
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            total += 1
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                print(f"{f.name}:{n}: not JSON ({e})")
                bad += 1
                continue
            c = check(rec, folder_of(f))
            if rec.get("id") in ids:
                c.errors.append("duplicate id")
            ids.add(rec.get("id"))
            if c.errors:
                bad += 1
                print(f"{f.name}:{n}: {rec.get('id')}: {'; '.join(c.errors)}")
    print(f"{total - bad} of {total} records pass")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
