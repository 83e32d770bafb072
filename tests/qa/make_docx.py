"""Writes each reStructuredText file as a DOCX (headings as Word headings, paragraphs, literal blocks as
monospace), so a folder of real Word documents can be made offline: make_docx.py OUT_DIR FILE.rst.txt..."""

import re
import sys
from pathlib import Path

from docx import Document
from docx.shared import Pt

UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")
LEVELS = {"=": 1, "-": 2, "~": 3, "^": 3}


def convert(src: Path, out_dir: Path) -> None:
    lines = src.read_text(encoding="utf-8").splitlines()
    doc = Document()
    para: list[str] = []
    literal = False

    def flush():
        text = " ".join(x.strip() for x in para).strip()
        para.clear()
        if not text:
            return
        if literal:
            run = doc.add_paragraph().add_run(text)
            run.font.name, run.font.size = "Courier New", Pt(9)
        else:
            text = re.sub(r":\w+:`([^`<]*?)(?:\s*<[^>]*>)?`", r"\1", text)  # :ref:`Title <target>` -> Title
            doc.add_paragraph(re.sub(r"`+([^`]*)`+_?", r"\1", text).replace("**", ""))

    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.startswith(".. ") or UNDERLINE.match(line):
            flush(); i += 1
            while i < len(lines) and lines[i].startswith("   ") and line.startswith(".. "):
                i += 1
            continue
        if line.strip() and UNDERLINE.match(nxt) and len(nxt.strip()) >= len(line.strip()) - 2:
            flush(); literal = False
            doc.add_heading(line.strip(), LEVELS.get(nxt[0], 3))
            i += 2
            continue
        if not line.strip():
            flush()
            if literal and not (nxt.startswith(" ") or not nxt.strip()):
                literal = False
        else:
            if literal and not line.startswith(" "):
                flush(); literal = False
            para.append(line)
            if line.rstrip().endswith("::"):
                para[-1] = line.rstrip()[:-1]
                flush(); literal = True
        i += 1
    flush()
    doc.save(out_dir / (src.name.replace(".rst.txt", "") + ".docx"))


if __name__ == "__main__":
    out = Path(sys.argv[1])
    for f in sys.argv[2:]:
        convert(Path(f), out)
