"""Metadata found by `rag parse --json` against hand labels of the visible page (tests/eval/web-metadata.jsonl:
author, publication date and site of 40 pages of ../shared/web-articles/, labelled from the page alone by a
reader who never saw the code).

    .venv/bin/python docs/score_metadata.py        # from the project's root: the test labels
    .venv/bin/python docs/score_metadata.py tests/eval/web-metadata-dev.jsonl   # 30 other pages, for development

An author is right when a name of the label is among the names found; a date when it is the same day (and,
apart, within one day: pages show a local date, their metadata often a UTC one); a site when one name holds
the other, ignoring case, spaces and punctuation.
"""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT.parent / "shared" / "web-articles" / "pages"
LABELS = ROOT / "tests" / "eval" / "web-metadata.jsonl"


def norm(s: str | None) -> str:
    return re.sub(r"[^\w ]", "", (s or "").lower()).strip()


def names(s: str | None) -> set[str]:
    return {norm(x) for x in re.split(r";|,| and ", s or "") if norm(x)}


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else LABELS
    labels = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = subprocess.run([str(Path(sys.executable).parent / "rag"), "parse", "--json",
                          *(str(PAGES / f"{r['key']}.html") for r in labels)], capture_output=True, text=True, check=True)
    found = {Path(d["source"]).stem: d for d in map(json.loads, out.stdout.splitlines())}
    score = {"author": [0, 0], "published (same day)": [0, 0], "published (within a day)": [0, 0], "site": [0, 0]}
    misses = []
    for r in labels:
        got = found.get(r["key"], {})
        if r.get("author"):
            ok = bool(names(r["author"]) & names(got.get("author")))
            score["author"][0] += ok
            score["author"][1] += 1
            misses += [] if ok else [("author", r["key"][:8], r["author"], got.get("author"))]
        if r.get("published"):
            day = (got.get("published") or "")[:10]
            try:
                near = abs((datetime.date.fromisoformat(day) - datetime.date.fromisoformat(r["published"])).days) <= 1
            except ValueError:
                near = False
            score["published (same day)"][0] += day == r["published"]
            score["published (within a day)"][0] += near
            score["published (same day)"][1] += 1
            score["published (within a day)"][1] += 1
            misses += [] if day == r["published"] else [("published", r["key"][:8], r["published"], day)]
        if r.get("site"):
            a, b = norm(r["site"]).replace(" ", ""), norm(got.get("site")).replace(" ", "")
            ok = bool(b) and (a in b or b in a)
            score["site"][0] += ok
            score["site"][1] += 1
            misses += [] if ok else [("site", r["key"][:8], r["site"], got.get("site"))]
    for field, (right, n) in score.items():
        print(f"{field}: {right}/{n} = {right / n:.2f}")
    for miss in misses:
        print("miss:", *miss)


if __name__ == "__main__":
    main()
