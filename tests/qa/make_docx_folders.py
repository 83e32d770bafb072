"""Writes real plain-text / Markdown / HTML documentation as Word documents with python-docx:
headings as Heading 1/2/3, bulleted and numbered lists as List Bullet / List Number, code as a
monospace "Code" style, Markdown pipe tables and HTML tables as Word tables, and e-mail headers as
memo lines (To:/From:/Cc:/Date:/Subject:).  Inline markup (backticks, asterisks, links) is removed.

usage: make_docx_folders.py text IN OUT.docx [--title T] [--memo] [--from-line A] [--to-line B]
       make_docx_folders.py html IN.html OUT.docx --sections N,M,... [--title T]
"""

import gzip
import re
import sys

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.shared import Pt


def new_doc():
    doc = Document()
    st = doc.styles.add_style("Code", WD_STYLE_TYPE.PARAGRAPH)
    st.base_style = doc.styles["Normal"]
    st.font.name = "Courier New"
    st.font.size = Pt(9)
    st.paragraph_format.space_after = Pt(0)
    return doc


def inline(s):
    s = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", s)
    s = re.sub(r"\[([^\]]+)\]\(([^)]*)\)", r"\1", s)
    s = re.sub(r"<(https?://[^>]+)>", r"\1", s)
    s = re.sub(r"\*\*([^*]+)\*\*", r"\1", s)
    s = re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"\1", s)
    s = re.sub(r"(?<!\w)__([^_]+)__(?!\w)", r"\1", s)
    s = re.sub(r"``([^`]+)``", r"\1", s)
    s = re.sub(r"`([^`]+)`", r"\1", s)
    s = s.replace("\\_", "_").replace("\\*", "*")
    s = re.sub(r"[ \t]+", " ", s)
    return s.strip()


def read(path):
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace").read()
    return open(path, encoding="utf-8", errors="replace").read()


def indent_of(line):
    line = line.expandtabs(8)
    return len(line) - len(line.lstrip())


BULLET = re.compile(r"^(\s*)([*+\-o])\s+(\S.*)$")
NUMBER = re.compile(r"^(\s*)(\d+)[.)]\s+(\S.*)$")
SETEXT = re.compile(r"^\s*(=+|-+|~+)\s*$")
HASH = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
CMD = re.compile(r"^(git|cd|make|for|done|\$>?|#|\./configure|\./autogen\.sh|/sbin/agetty) ")
HEADER = re.compile(r"^(From|To|Cc|Date|Subject|Message-ID|Abstract|Content-type):\s*(.*)$", re.I)


def text_to_docx(src, out, title=None, memo=False, first=None, last=None, headings=(), code_indent=None):
    text = read(src).replace("\r\n", "\n")
    lines = text.split("\n")
    if first is not None or last is not None:
        lines = lines[(first or 1) - 1:last]
    doc = new_doc()
    headings = set(headings)
    i = 0
    if memo:
        # e-mail style header block at the top: written as memo lines
        hdr = []
        while i < len(lines) and lines[i].strip():
            m = HEADER.match(lines[i])
            if m:
                hdr.append([m.group(1), m.group(2).strip()])
            elif hdr and lines[i][:1].isspace():
                hdr[-1][1] += " " + lines[i].strip()
            i += 1
        if title:
            doc.add_heading(title, 0)
        else:
            doc.add_heading("Memo", 0)
        for k, v in hdr:
            key = k.capitalize() if k.lower() != "cc" else "Cc"
            if key in ("Message-id", "Content-type"):
                continue
            if key == "Abstract":
                p = doc.add_paragraph()
                p.add_run("Summary: ").bold = True
                p.add_run(v)
                continue
            p = doc.add_paragraph()
            p.paragraph_format.space_after = Pt(0)
            p.add_run(key + ":\t").bold = True
            p.add_run(v)
        doc.add_paragraph("")
    elif title:
        doc.add_heading(title, 0)

    # base indent of prose
    counts = {}
    for ln in lines[i:]:
        if ln.strip() and not BULLET.match(ln) and not NUMBER.match(ln):
            counts[indent_of(ln)] = counts.get(indent_of(ln), 0) + 1
    base = min(counts, key=lambda k: (-counts[k], k)) if counts else 0
    if code_indent is None:
        code_indent = base + 4

    para = []      # pending paragraph lines
    item = None    # (style, level, lines, indent)
    code = []
    fence = False

    def flush():
        nonlocal para, item, code
        if para:
            doc.add_paragraph(inline(" ".join(x.strip() for x in para)))
            para = []
        if item:
            style, level, buf, _ = item
            st = style if level == 0 else style + " 2"
            doc.add_paragraph(inline(" ".join(x.strip() for x in buf)), style=st)
            item = None
        if code:
            while code and not code[-1].strip():
                code.pop()
            mind = min(indent_of(c) for c in code if c.strip()) if code else 0
            for c in code:
                doc.add_paragraph(c.expandtabs(8)[mind:].rstrip(), style="Code")
            code = []

    n = len(lines)
    while i < n:
        ln = lines[i]
        s = ln.strip()
        nxt = lines[i + 1] if i + 1 < n else ""
        if s.startswith("```"):
            if fence:
                flush(); fence = False
            else:
                flush(); fence = True
            i += 1
            continue
        if fence:
            code.append(ln)
            i += 1
            continue
        if not s:
            if code:
                # keep blank lines inside code if code continues
                j = i + 1
                while j < n and not lines[j].strip():
                    j += 1
                if j < n and indent_of(lines[j]) >= code_indent and not item:
                    code.append("")
                    i += 1
                    continue
            flush()
            i += 1
            continue
        ind0 = indent_of(ln)
        m = HASH.match(s)
        if m and indent_of(ln) == 0 and ln.startswith("#"):
            flush()
            lvl = min(len(m.group(1)), 3)
            doc.add_heading(inline(m.group(2).rstrip(":")), lvl)
            i += 1
            continue
        if SETEXT.match(nxt) and not para and not item and len(s) < 90 and len(nxt.strip()) >= 3 and not BULLET.match(ln):
            flush()
            lvl = 1 if nxt.strip()[0] == "=" else 2
            doc.add_heading(inline(s), lvl)
            i += 2
            continue
        if (s in headings or (base >= 1 and ind0 == 0 and len(s) < 60 and not nxt.strip()
                                and not s.endswith((".", ",")) and not BULLET.match(ln))) and not para:
            flush()
            doc.add_heading(s.rstrip(":"), 1 if not s.endswith(":") else 2)
            i += 1
            continue
        if s.startswith("|") and s.endswith("|") and "|" in s[1:-1]:
            flush()
            rows = []
            while i < n and lines[i].strip().startswith("|"):
                cells = [inline(c) for c in lines[i].strip().strip("|").split("|")]
                if not all(re.fullmatch(r":?-+:?", c.strip()) for c in cells):
                    rows.append(cells)
                i += 1
            t = doc.add_table(rows=len(rows), cols=max(len(r) for r in rows))
            t.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    t.cell(r, c).text = cell
            continue
        mb = BULLET.match(ln)
        mn = NUMBER.match(ln)
        ind = indent_of(ln)
        if (mb or mn) and not (code and ind >= code_indent and not item):
            flush()
            m = mb or mn
            level = 0
            if ind > base + 1 and ind >= 4:
                level = 1 if ind - base >= 4 and (ind - base) >= 4 else 0
            if ind <= base + 3:
                level = 0
            style = "List Bullet" if mb else "List Number"
            item = (style, level, [m.group(3)], indent_of(ln) + len(m.group(2)) + 1)
            i += 1
            continue
        if item:
            if (ind >= item[3] - 1 and ind < item[3] + 4) or (lines[i - 1].strip() and not CMD.match(s)):
                item[2].append(ln)
                i += 1
                continue
            if ind >= item[3] + 4:
                # code inside a list item
                st, lv, buf, ii = item
                flush()
                code.append(ln)
                i += 1
                continue
            flush()
        if code and ind >= code_indent:
            code.append(ln)
            i += 1
            continue
        if ind >= code_indent and not para:
            flush()
            code.append(ln)
            i += 1
            continue
        if CMD.match(s) and not para:
            code.append(ln)
            i += 1
            continue
        if code:
            flush()
        para.append(ln)
        i += 1
    flush()
    doc.save(out)


# ---------------------------------------------------------------- HTML (Sphinx) sources
def html_to_docx(src, out, sections, title=None):
    from lxml import html as LH
    tree = LH.fromstring(read(src))
    doc = new_doc()
    if title:
        doc.add_heading(title, 0)
    body = tree.xpath('//div[@itemprop="articleBody"] | //div[@role="main"] | //div[@class="body"]')[0]
    secs = body.xpath('./section/section | ./div[@class="section"]/div[@class="section"]')

    def txt(el):
        t = el.text_content().replace("\u00b6", "")
        return re.sub(r"\s+", " ", t).strip()

    def walk(el, depth, list_level=0):
        for ch in el:
            tag = ch.tag if isinstance(ch.tag, str) else ""
            if tag in ("h1", "h2", "h3", "h4"):
                doc.add_heading(txt(ch), min(depth, 3))
            elif tag in ("section",) or (tag == "div" and "section" in (ch.get("class") or "")):
                walk(ch, depth + 1)
            elif tag == "p":
                doc.add_paragraph(txt(ch))
            elif tag in ("ul", "ol"):
                style = "List Bullet" if tag == "ul" else "List Number"
                if list_level:
                    style += " 2"
                for li in ch.xpath("./li"):
                    sub = li.xpath("./ul|./ol|./div|./pre")
                    paras = li.xpath("./p")
                    if paras:
                        first = txt(paras[0])
                    else:
                        clone = LH.fromstring(LH.tostring(li))
                        for s in clone.xpath("./ul|./ol|./div|./pre"):
                            s.getparent().remove(s)
                        first = txt(clone)
                    doc.add_paragraph(first, style=style)
                    for p in paras[1:]:
                        doc.add_paragraph(txt(p))
                    for s in sub:
                        walk_one(s, depth, list_level + 1)
            elif tag == "pre" or (tag == "div" and "highlight" in (ch.get("class") or "")):
                pre = ch if tag == "pre" else ch.xpath(".//pre")[0]
                for line in pre.text_content().rstrip("\n").split("\n"):
                    doc.add_paragraph(line.rstrip(), style="Code")
            elif tag == "div":
                walk(ch, depth, list_level)
            elif tag == "dl":
                for dt in ch.xpath("./dt"):
                    dd = dt.getnext()
                    p = doc.add_paragraph()
                    p.add_run(txt(dt)).bold = True
                    if dd is not None:
                        walk(dd, depth, list_level)
            elif tag == "table":
                rows = ch.xpath(".//tr")
                data = [[txt(c) for c in r.xpath("./th|./td")] for r in rows]
                t = doc.add_table(rows=len(data), cols=max(len(r) for r in data))
                t.style = "Table Grid"
                for r, row in enumerate(data):
                    for c, cell in enumerate(row):
                        t.cell(r, c).text = cell
            elif tag == "blockquote":
                walk(ch, depth, list_level)

    def walk_one(el, depth, list_level):
        wrapper = LH.fromstring("<div></div>")
        wrapper.append(LH.fromstring(LH.tostring(el)))
        walk(wrapper, depth, list_level)

    for k in sections:
        walk_one(secs[k], 1, 0)
    doc.save(out)


if __name__ == "__main__":
    a = sys.argv[1:]
    opts = {}
    pos = []
    j = 0
    while j < len(a):
        if a[j].startswith("--"):
            if a[j] == "--memo":
                opts["memo"] = True
            else:
                opts[a[j][2:]] = a[j + 1]
                j += 1
        else:
            pos.append(a[j])
        j += 1
    mode, src, out = pos
    if mode == "text":
        text_to_docx(src, out, title=opts.get("title"), memo=opts.get("memo", False),
                     first=int(opts["from-line"]) if "from-line" in opts else None,
                     last=int(opts["to-line"]) if "to-line" in opts else None,
                     headings=[h for h in opts.get("headings", "").split("|") if h],
                     code_indent=int(opts["code-indent"]) if "code-indent" in opts else None)
    else:
        html_to_docx(src, out, [int(x) for x in opts["sections"].split(",")], title=opts.get("title"))
