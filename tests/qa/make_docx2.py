"""Writes a reStructuredText or (MyST) Markdown document as a Word document, the way a person would lay it
out in Word: section titles as Heading 1/2/3, bulleted and numbered lists in the List Bullet / List Number
styles (numbering restarting for each list), tables as Word tables, code samples in a monospace font, notes as
"Note:" paragraphs, and inline markup (``literal``, **strong**, roles, links) resolved to plain words.

    make_docx2.py rst|md SRC OUT.docx [--field 'From=...'] [--field 'Subject=...'] [--drop-section TITLE]

--field adds memo lines ("From: ...") under the document's title, in the order given.
reStructuredText is parsed with docutils (PYTHONPATH must reach it; make_docx2.sh unpacks its sdist), Markdown
with markdown-it-py; the Sphinx/MyST roles and directives that docutils does not know are resolved here.
"""

import argparse
import copy
import re
import sys
from pathlib import Path

from docx import Document
from docx.enum.text import WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, Cm

MONO = "Courier New"

# ---------------------------------------------------------------- roles (shared by rst and MyST)

CODE_ROLES = {"func", "class", "meth", "attr", "data", "exc", "mod", "obj", "option", "envvar", "setting",
              "djadmin", "djadminopt", "file", "command", "samp", "kbd", "program", "confval", "fixture",
              "py:func", "py:class", "py:meth", "py:attr", "py:data", "py:exc", "py:mod", "py:obj", "code",
              "lookup", "ttag", "tfilter", "mimetype", "makevar", "literal"}


def role_text(name: str, text: str) -> tuple[str, bool]:
    """The words Sphinx would show for :name:`text`, and whether they are code."""
    m = re.match(r"^(.*?)\s*<([^>]*)>$", text, re.S)
    shown = m.group(1) if m and m.group(1) else (m.group(2) if m else text)
    shown = shown.replace("\n", " ")
    if name in ("pep", "PEP"):
        return "PEP " + shown, False
    if name == "rfc":
        return "RFC " + shown, False
    if name == "ticket":
        return "ticket " + shown, False
    if name in ("issue", "issues", "gh", "pull", "pr"):
        return "issue " + shown, False
    if name in ("user", "ghuser"):
        return shown.lstrip("@"), False
    if shown.startswith("~"):
        shown = shown[1:].split(".")[-1]
    shown = shown.lstrip("!")
    if name in ("ref", "doc", "term", "abbr") and not m:
        shown = shown.split("/")[-1].replace("-", " ").replace("_", " ") if name != "term" else shown
    return shown, name in CODE_ROLES


# ---------------------------------------------------------------- Word writer

class Writer:
    def __init__(self):
        self.doc = Document()
        st = self.doc.styles["Normal"]
        st.font.name, st.font.size = "Calibri", Pt(11)
        self.title_done = False
        self.fields: list[tuple[str, str]] = []

    def heading(self, text: str, level: int):
        level = max(1, min(level, 4))
        self.doc.add_heading(text.strip(), level)
        if not self.title_done:
            self.title_done = True
            for k, v in self.fields:
                p = self.doc.add_paragraph()
                p.add_run(k + ": ").bold = True
                p.add_run(v)

    def para(self, runs, style=None, indent=0):
        runs = normalise(runs)
        if not runs:
            return None
        p = self.doc.add_paragraph(style=style)
        for text, bold, italic, mono in runs:
            r = p.add_run(text)
            r.bold, r.italic = bold or None, italic or None
            if mono:
                r.font.name = MONO
        if indent:
            p.paragraph_format.left_indent = Cm(indent)
        return p

    def code(self, text: str, indent=0):
        lines = text.rstrip("\n").split("\n")
        if not any(x.strip() for x in lines):
            return
        p = self.doc.add_paragraph()
        p.paragraph_format.left_indent = Cm(0.75 + indent)
        for i, line in enumerate(lines):
            r = p.add_run(line)
            r.font.name, r.font.size = MONO, Pt(9)
            if i < len(lines) - 1:
                r.add_break(WD_BREAK.LINE)

    def table(self, rows: list[list[list]], header: bool):
        rows = [r for r in rows if r]
        if not rows:
            return
        ncol = max(len(r) for r in rows)
        t = self.doc.add_table(rows=len(rows), cols=ncol)
        t.style = "Table Grid"
        for i, row in enumerate(rows):
            for j in range(ncol):
                cell = t.cell(i, j)
                runs = normalise(row[j]) if j < len(row) else []
                p = cell.paragraphs[0]
                for text, bold, italic, mono in runs:
                    r = p.add_run(text)
                    r.bold = True if (header and i == 0) or bold else None
                    r.italic = italic or None
                    if mono:
                        r.font.name = MONO
        self.doc.add_paragraph()

    def new_numbering(self) -> int:
        """A fresh w:num on the List Number abstract numbering, restarting at 1."""
        numbering = self.doc.part.numbering_part.element
        style = self.doc.styles["List Number"].element
        base_num = style.pPr.numPr.numId.val
        abstract = None
        for num in numbering.findall(qn("w:num")):
            if num.get(qn("w:numId")) == str(base_num):
                abstract = num.find(qn("w:abstractNumId")).get(qn("w:val"))
        ids = [int(n.get(qn("w:numId"))) for n in numbering.findall(qn("w:num"))]
        new_id = max(ids) + 1
        num = OxmlElement("w:num")
        num.set(qn("w:numId"), str(new_id))
        a = OxmlElement("w:abstractNumId")
        a.set(qn("w:val"), abstract)
        num.append(a)
        for lvl in range(2):
            ov = OxmlElement("w:lvlOverride")
            ov.set(qn("w:ilvl"), str(lvl))
            so = OxmlElement("w:startOverride")
            so.set(qn("w:val"), "1")
            ov.append(so)
            num.append(ov)
        numbering.append(num)
        return new_id

    def set_num(self, p, num_id: int, level: int):
        pPr = p._p.get_or_add_pPr()
        numPr = OxmlElement("w:numPr")
        il = OxmlElement("w:ilvl")
        il.set(qn("w:val"), str(level))
        ni = OxmlElement("w:numId")
        ni.set(qn("w:val"), str(num_id))
        numPr.append(il)
        numPr.append(ni)
        pPr.append(numPr)


def normalise(runs):
    """Merge runs, turn newlines into spaces, trim the ends."""
    out = []
    for text, bold, italic, mono in runs:
        text = re.sub(r"\s*\n\s*", " ", text)
        if not text:
            continue
        if out and out[-1][1:] == (bold, italic, mono):
            out[-1] = (out[-1][0] + text, bold, italic, mono)
        else:
            out.append((text, bold, italic, mono))
    while out and not out[0][0].strip():
        out.pop(0)
    while out and not out[-1][0].strip():
        out.pop()
    if out:
        out[0] = (out[0][0].lstrip(),) + out[0][1:]
        out[-1] = (out[-1][0].rstrip(),) + out[-1][1:]
    return [r for r in out if r[0]]


LIST_STYLES = {("bullet", 0): "List Bullet", ("bullet", 1): "List Bullet 2", ("bullet", 2): "List Bullet 3",
               ("number", 0): "List Number", ("number", 1): "List Number 2", ("number", 2): "List Number 3"}

ADMONITION_LABEL = {"note": "Note", "warning": "Warning", "tip": "Tip", "hint": "Hint", "caution": "Caution",
                    "important": "Important", "attention": "Attention", "danger": "Danger", "error": "Error",
                    "seealso": "See also"}


# ---------------------------------------------------------------- reStructuredText through docutils

def setup_docutils():
    from docutils import nodes
    from docutils.parsers.rst import Directive, directives, roles

    def generic_role(name, rawtext, text, lineno, inliner, options=None, content=None):
        from docutils.utils import unescape
        shown, is_code = role_text(name, unescape(text))
        node = nodes.literal(rawtext, shown) if is_code else nodes.inline(rawtext, shown)
        return [node], []

    orig_role = roles.role

    def role(role_name, language_module, lineno, reporter):
        if role_name in ("emphasis", "strong", "literal", "sub", "sup", "subscript", "superscript",
                         "title-reference", "title"):
            return orig_role(role_name, language_module, lineno, reporter)
        return (lambda *a, **k: generic_role(role_name, *a[1:], **k)), []

    roles.role = role

    class Code(Directive):
        has_content, optional_arguments, final_argument_whitespace = True, 3, True
        option_spec = None

        def run(self):
            return [nodes.literal_block("", "\n".join(self.content))]

    class Drop(Directive):
        has_content, optional_arguments, final_argument_whitespace = True, 10, True

        def run(self):
            return []

    class Content(Directive):  # only::, container-like: keep the body
        has_content, optional_arguments, final_argument_whitespace = True, 10, True

        def run(self):
            node = nodes.container()
            self.state.nested_parse(self.content, self.content_offset, node)
            return list(node.children)

    class Versioned(Directive):
        has_content, optional_arguments, final_argument_whitespace = True, 2, True
        LABEL = {"versionadded": "Added in version {}.", "versionchanged": "Changed in version {}:",
                 "deprecated": "Deprecated since version {}:", "versionremoved": "Removed in version {}:"}

        def run(self):
            version = self.arguments[0].split()[0] if self.arguments else ""
            label = self.LABEL[self.name].format(version)
            rest = " ".join(self.arguments[0].split()[1:]) if self.arguments else ""
            node = nodes.container()
            self.state.nested_parse(self.content, self.content_offset, node)
            first = nodes.paragraph()
            first += nodes.emphasis("", label.rstrip(":") + ("." if label.endswith(":") and not (rest or node.children) else ""))
            if rest or node.children:
                if label.endswith(":"):
                    first[0] = nodes.emphasis("", label)
                if rest:
                    first += nodes.Text(" " + rest)
                elif node.children and isinstance(node.children[0], nodes.paragraph):
                    first += nodes.Text(" ")
                    first.extend(node.children[0].children)
                    node.children = node.children[1:]
            return [first] + list(node.children)

    class Rubric(Directive):
        has_content, required_arguments, final_argument_whitespace = False, 1, True

        def run(self):
            p = nodes.paragraph()
            p += nodes.strong("", self.arguments[0])
            return [p]

    class SeeAlso(Directive):
        has_content, optional_arguments, final_argument_whitespace = True, 1, True

        def run(self):
            node = nodes.note()
            node["classes"].append("seealso")
            if self.arguments:
                text = self.arguments[0]
                self.content.insert(0, text, "", 0) if not self.content else None
            self.state.nested_parse(self.content, self.content_offset, node)
            if self.arguments and len(node.children) == 0:
                node += nodes.paragraph("", self.arguments[0])
            return [node]

    special = {"code-block": Code, "sourcecode": Code, "code": Code, "console": Code, "click:example": Code,
               "doctest": Code, "testcode": Code, "testoutput": Code, "parsed-literal": Code,
               "versionadded": Versioned, "versionchanged": Versioned, "deprecated": Versioned,
               "versionremoved": Versioned, "rubric": Rubric, "seealso": SeeAlso, "only": Content,
               "container": Content, "glossary": Content, "tab": Content, "tabs": Content,
               "admonition-content": Content}
    drop = {"toctree", "contents", "currentmodule", "module", "highlight", "index", "image", "figure", "include",
            "literalinclude", "raw", "sectnum", "click:run", "autoclass", "autofunction", "automodule", "autodata",
            "autoexception", "automethod", "django-admin", "django-admin-option", "setting", "templatetag",
            "templatefilter", "fieldlookup", "default-role", "role", "meta", "pytest-plugin", "footer",
            "header", "class", "target-notes", "program", "option", "envvar", "describe", "method", "function",
            "attribute"}
    orig_directive = directives.directive

    def directive(name, language_module, document):
        if name in special:
            return special[name], []
        if name in drop:
            return Drop, []
        cls, msgs = orig_directive(name, language_module, document)
        return (cls or Drop), msgs

    directives.directive = directive
    return nodes


def rst_tree(text: str):
    from docutils.core import publish_doctree
    nodes = setup_docutils()
    text = pep_header(text)
    settings = {"report_level": 5, "halt_level": 5, "file_insertion_enabled": False, "raw_enabled": False,
                "doctitle_xform": False, "sectsubtitle_xform": False, "input_encoding": "unicode",
                "warning_stream": False}
    return nodes, publish_doctree(text, settings_overrides=settings)


def pep_header(text: str) -> str:
    """A PEP's RFC 2822 header becomes a field list under its title."""
    if not text.startswith("PEP: "):
        return text
    head, _, body = text.partition("\n\n")
    fields = dict(re.findall(r"^([\w-]+):\s*(.*(?:\n\s+.*)*)", head, re.M))
    title = f"PEP {fields['PEP']} -- {fields['Title']}"
    keep = [k for k in ("Author", "Discussions-To", "Status", "Type", "Requires", "Created", "Post-History",
                        "Replaces", "Superseded-By") if k in fields]
    lines = [title, "=" * len(title), ""] + [f":{k}: {' '.join(fields[k].split())}" for k in keep] + [""]
    # the PEP's own top-level sections sit under its title
    body = re.sub(r"^=+\n(.+)\n=+\n", lambda m: m.group(1).strip() + "\n" + "-" * len(m.group(1).strip()) + "\n",
                  body, flags=re.M)
    return "\n".join(lines) + "\n" + body


class RstWalker:
    def __init__(self, w: Writer, nodes):
        self.w, self.n = w, nodes

    def inline(self, node, bold=False, italic=False, mono=False):
        n = self.n
        out = []
        for c in node.children:
            if isinstance(c, n.Text):
                out.append((c.astext().replace("\x00", ""), bold, italic, mono))
            elif isinstance(c, n.strong):
                out += self.inline(c, True, italic, mono)
            elif isinstance(c, (n.emphasis, n.title_reference)):
                out += self.inline(c, bold, True, mono)
            elif isinstance(c, n.literal):
                out += self.inline(c, bold, italic, True)
            elif isinstance(c, n.target) and c.children:  # an inline _`target`: its words stay
                out += self.inline(c, bold, italic, mono)
            elif isinstance(c, n.problematic) and re.fullmatch(r"\|[^|]+\|", c.astext()):
                out.append((c.astext().strip("|"), bold, italic, mono))  # a substitution Sphinx defines in conf.py
            elif isinstance(c, (n.footnote_reference, n.citation_reference, n.target, n.substitution_definition,
                                n.image, n.problematic, n.system_message, n.raw, n.comment)):
                continue
            elif isinstance(c, n.reference):
                out += self.inline(c, bold, italic, mono)
            else:
                out += self.inline(c, bold, italic, mono)
        return out

    def text(self, node):
        return "".join(r[0] for r in self.inline(node))

    def walk(self, node, depth=0, list_level=0, indent=0.0):
        n, w = self.n, self.w
        for c in node.children:
            if isinstance(c, n.section):
                title = c.next_node(n.title)
                w.heading(self.text(title), depth + 1)
                self.walk(c, depth + 1, 0, indent)
            elif isinstance(c, n.title):
                if isinstance(node, (n.topic, n.sidebar, n.table)):
                    w.para([(self.text(c), True, False, False)], indent=indent)
            elif isinstance(c, (n.paragraph, n.rubric)):
                runs = self.inline(c)
                if isinstance(c, n.rubric):
                    runs = [(r[0], True, r[2], r[3]) for r in runs]
                w.para(runs, indent=indent)
            elif isinstance(c, (n.literal_block, n.doctest_block)):
                w.code(c.astext(), indent)
            elif isinstance(c, n.bullet_list):
                self.list(c, "bullet", list_level, indent)
            elif isinstance(c, n.enumerated_list):
                self.list(c, "number", list_level, indent)
            elif isinstance(c, n.definition_list):
                for item in c.children:
                    term = item.next_node(n.term)
                    w.para([(r[0], True, r[2], r[3]) for r in self.inline(term)], indent=indent)
                    for d in item.children:
                        if isinstance(d, n.definition):
                            self.walk(d, depth, list_level, indent + 1)
            elif isinstance(c, n.field_list):
                for f in c.children:
                    name = self.text(f.children[0])
                    body = f.children[1]
                    value = " ".join(self.text(p) for p in body.children)
                    if "$" in value:
                        continue
                    w.para([(name + ": ", True, False, False), (value, False, False, False)], indent=indent)
            elif isinstance(c, n.option_list):
                rows = [[[("Option", True, False, False)], [("Meaning", True, False, False)]]]
                for item in c.children:
                    opts = self.text(item.children[0])
                    desc = " ".join(self.text(p) for p in item.children[1].children)
                    rows.append([[(opts, False, False, True)], [(desc, False, False, False)]])
                w.table(rows, True)
            elif isinstance(c, n.table):
                self.table(c)
            elif isinstance(c, n.Admonition):
                label = ADMONITION_LABEL.get(c.tagname, "")
                if "seealso" in c.get("classes", []):
                    label = "See also"
                kids = list(c.children)
                if isinstance(c, n.admonition) and kids and isinstance(kids[0], n.title):
                    label = self.text(kids[0])
                    kids = kids[1:]
                first = True
                for k in kids:
                    if first and isinstance(k, n.paragraph):
                        w.para([(label + ": ", True, False, False)] + self.inline(k), indent=indent)
                    else:
                        if first:
                            w.para([(label + ":", True, False, False)], indent=indent)
                        holder = n.container()
                        holder += k.deepcopy()
                        self.walk(holder, depth, list_level, indent)
                    first = False
            elif isinstance(c, n.block_quote):
                self.walk(c, depth, list_level, indent + 1)
            elif isinstance(c, n.attribution):
                w.para([("— " + self.text(c), False, True, False)], indent=indent)
            elif isinstance(c, n.line_block):
                for line in c.findall(n.line):
                    w.para(self.inline(line), indent=indent)
            elif isinstance(c, (n.footnote, n.citation)):
                label = self.text(c.children[0])
                rest = [p for p in c.children[1:] if isinstance(p, n.paragraph)]
                if rest:
                    w.para([(f"[{label}] ", False, False, False)] + self.inline(rest[0]), indent=indent)
            elif isinstance(c, (n.topic, n.sidebar, n.container, n.compound)):
                self.walk(c, depth, list_level, indent)
            elif isinstance(c, (n.target, n.substitution_definition, n.comment, n.system_message, n.raw,
                                n.image, n.figure, n.transition, n.pending, n.docinfo)):
                continue
            elif isinstance(c, n.Element):
                self.walk(c, depth, list_level, indent)

    def list(self, lst, kind, level, indent):
        n, w = self.n, self.w
        num_id = w.new_numbering() if kind == "number" else None
        style = LIST_STYLES[(kind, min(level, 2))]
        for item in lst.children:
            first = True
            for k in item.children:
                if first and isinstance(k, n.paragraph):
                    p = w.para(self.inline(k), style=style)
                    if p is not None and num_id is not None:
                        w.set_num(p, num_id, min(level, 1))
                elif isinstance(k, n.bullet_list):
                    self.list(k, "bullet", level + 1, indent)
                elif isinstance(k, n.enumerated_list):
                    self.list(k, "number", level + 1, indent)
                elif isinstance(k, n.paragraph):
                    w.para(self.inline(k), indent=1.27 * (level + 1))
                elif isinstance(k, (n.literal_block, n.doctest_block)):
                    w.code(k.astext(), 1.27 * (level + 1))
                else:
                    holder = n.container()
                    holder += k.deepcopy()
                    self.walk(holder, 0, level + 1, 1.27 * (level + 1))
                first = False

    def table(self, t):
        n = self.n
        rows, header = [], False
        for title in t.children:
            if isinstance(title, n.title):
                self.w.para([(self.text(title), True, False, False)])
        for part in t.findall(n.thead):
            header = True
            for row in part.findall(n.row):
                rows.append([self.cell(e) for e in row.children])
        for part in t.findall(n.tbody):
            for row in part.findall(n.row):
                rows.append([self.cell(e) for e in row.children])
        self.w.table(rows, header)

    def cell(self, entry):
        out = []
        for k in entry.children:
            if isinstance(k, (self.n.system_message, self.n.comment, self.n.target)):
                continue
            if out:
                out.append((" ", False, False, False))
            if isinstance(k, (self.n.bullet_list, self.n.enumerated_list)):
                out.append(("; ".join(self.text(i) for i in k.children), False, False, False))
            else:
                out += self.inline(k) if isinstance(k, self.n.TextElement) else [(k.astext(), False, False, False)]
        return out


def convert_rst(text: str, w: Writer):
    nodes, tree = rst_tree(text)
    RstWalker(w, nodes).walk(tree)


# ---------------------------------------------------------------- MyST Markdown through markdown-it-py

def md_inline(tok, bold=False, italic=False):
    out = []
    kids = tok.children or []
    i = 0
    b, it = bold, italic
    while i < len(kids):
        k = kids[i]
        t = k.type
        if t == "text":
            m = re.search(r"\{([\w:-]+)\}$", k.content)
            if m and i + 1 < len(kids) and kids[i + 1].type == "code_inline":
                out.append((k.content[:m.start()], b, it, False))
                shown, is_code = role_text(m.group(1), kids[i + 1].content)
                out.append((shown, b, it, is_code))
                i += 2
                continue
            out.append((k.content, b, it, False))
        elif t == "code_inline":
            out.append((k.content, b, it, True))
        elif t == "strong_open":
            b = True
        elif t == "strong_close":
            b = bold
        elif t == "em_open":
            it = True
        elif t == "em_close":
            it = italic
        elif t in ("softbreak", "hardbreak"):
            out.append((" ", b, it, False))
        elif t in ("html_inline", "image"):
            pass
        i += 1
    return out


class MdWalker:
    def __init__(self, w: Writer, rst_w=None):
        self.w = w

    def run(self, text: str):
        from markdown_it import MarkdownIt
        text = re.sub(r"^\(([\w-]+)\)=\s*$", "", text, flags=re.M)  # MyST targets
        text = re.sub(r"^%.*$", "", text, flags=re.M)  # MyST comments
        md = MarkdownIt("commonmark").enable("table")
        toks = md.parse(text)
        self.toks, self.i = toks, 0
        self.block(level=0, indent=0)

    def block(self, level, indent, stop=None):
        w = self.w
        toks = self.toks
        while self.i < len(toks):
            t = toks[self.i]
            if stop and t.type == stop:
                return
            self.i += 1
            if t.type == "heading_open":
                inl = toks[self.i]
                w.heading("".join(r[0] for r in md_inline(inl)), int(t.tag[1]))
                self.i += 2
            elif t.type == "paragraph_open":
                inl = toks[self.i]
                w.para(md_inline(inl), indent=indent)
                self.i += 2
            elif t.type in ("bullet_list_open", "ordered_list_open"):
                self.list("bullet" if t.type == "bullet_list_open" else "number", level, indent)
            elif t.type == "fence":
                self.fence(t, indent)
            elif t.type == "code_block":
                w.code(t.content, indent)
            elif t.type == "table_open":
                self.table()
            elif t.type == "blockquote_open":
                self.block(level, indent + 1, stop="blockquote_close")
                self.i += 1
            elif t.type in ("html_block", "hr"):
                continue

    def list(self, kind, level, indent):
        w, toks = self.w, self.toks
        close = "bullet_list_close" if kind == "bullet" else "ordered_list_close"
        num_id = w.new_numbering() if kind == "number" else None
        style = LIST_STYLES[(kind, min(level, 2))]
        while toks[self.i].type != close:
            t = toks[self.i]
            self.i += 1
            if t.type != "list_item_open":
                continue
            first = True
            while toks[self.i].type != "list_item_close":
                u = toks[self.i]
                if u.type == "paragraph_open":
                    inl = toks[self.i + 1]
                    if first:
                        p = w.para(md_inline(inl), style=style)
                        if p is not None and num_id is not None:
                            w.set_num(p, num_id, min(level, 1))
                    else:
                        w.para(md_inline(inl), indent=1.27 * (level + 1))
                    self.i += 3
                elif u.type in ("bullet_list_open", "ordered_list_open"):
                    self.i += 1
                    self.list("bullet" if u.type == "bullet_list_open" else "number", level + 1, indent)
                elif u.type == "fence":
                    self.i += 1
                    self.fence(u, 1.27 * (level + 1))
                elif u.type == "code_block":
                    self.i += 1
                    w.code(u.content, 1.27 * (level + 1))
                else:
                    self.i += 1
                first = False
            self.i += 1
        self.i += 1

    def table(self):
        toks = self.toks
        rows, row, header = [], None, False
        while toks[self.i].type != "table_close":
            t = toks[self.i]
            if t.type == "thead_open":
                header = True
            elif t.type == "tr_open":
                row = []
            elif t.type == "tr_close":
                rows.append(row)
            elif t.type == "inline":
                row.append(md_inline(t))
            self.i += 1
        self.i += 1
        self.w.table(rows, header)

    def fence(self, t, indent):
        w = self.w
        info = t.info.strip()
        m = re.match(r"^\{([\w:-]+)\}\s*(.*)$", info)
        if not m:
            w.code(t.content, indent)
            return
        name, arg = m.group(1), m.group(2)
        body = re.sub(r"\A(?::[\w-]+:.*\n)+", "", t.content)  # directive options
        if name == "eval-rst":
            nodes, tree = rst_tree(body)
            RstWalker(w, nodes).walk(tree, depth=9, indent=indent)
        elif name in ("code-block", "code", "sourcecode"):
            w.code(body, indent)
        elif name in ADMONITION_LABEL or name == "admonition":
            label = arg if name == "admonition" else ADMONITION_LABEL[name]
            if name != "admonition" and arg:
                body = arg + "\n" + body
            sub = MdWalker(w)
            start = len(w.doc.paragraphs)
            sub.run(body)
            paras = w.doc.paragraphs[start:]
            if paras and paras[0].style.name == "Normal" and paras[0].runs:
                r = paras[0].runs[0]
                new = copy.deepcopy(r._r)
                r._r.addprevious(new)
                from docx.text.run import Run
                lab = Run(new, paras[0])
                lab.text, lab.bold, lab.italic = label + ": ", True, None
                lab.font.name = None
            else:
                w.para([(label + ":", True, False, False)], indent=indent)
        elif name in ("versionadded", "versionchanged", "deprecated"):
            ver = arg.split()[0] if arg else ""
            label = {"versionadded": f"Added in version {ver}.", "versionchanged": f"Changed in version {ver}:",
                     "deprecated": f"Deprecated since version {ver}:"}[name]
            from markdown_it import MarkdownIt
            runs = []
            for tok in MarkdownIt("commonmark").parse(body):
                if tok.type == "inline":
                    runs += ([(" ", False, False, False)] if runs else []) + md_inline(tok)
            if runs and name == "versionadded":
                label = label[:-1] + ":"
            w.para([(label + (" " if runs else ""), False, True, False)] + runs, indent=indent)
        # toctree, contents, currentmodule, image, include, literalinclude: nothing to show


# ---------------------------------------------------------------- Debian NEWS.Debian entries as memos

NEWS_HEAD = re.compile(r"^(\S+) \(([^)]+)\) ([^;]+); urgency=(\w+)")
NEWS_SIGN = re.compile(r"^ -- (.+?)  (\w{3}, .+)$")


def convert_news(text: str, w: Writer):
    """Each entry becomes a memo: a Heading 1 naming the package and version, From and Date lines from the
    maintainer's signature, then the body with its paragraphs, bullets and indented examples."""
    entries, cur = [], None
    for line in text.splitlines():
        m = NEWS_HEAD.match(line)
        if m:
            cur = {"pkg": m.group(1), "ver": m.group(2), "dist": m.group(3), "body": []}
            entries.append(cur)
            continue
        s = NEWS_SIGN.match(line)
        if s and cur:
            cur["from"], cur["date"] = s.group(1), s.group(2)
            continue
        if cur is not None:
            cur["body"].append(line.rstrip())
    for e in entries:
        w.doc.add_heading(f"{e['pkg']} {e['ver']}", 1)
        for k, v in (("From", e.get("from")), ("Date", e.get("date")), ("Distribution", e["dist"])):
            if v:
                p = w.doc.add_paragraph()
                p.add_run(k + ": ").bold = True
                p.add_run(v)
        news_body(e["body"], w)


def news_body(lines, w: Writer):
    lines = [x.expandtabs() for x in lines]
    base = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=2)
    lines = ["  " + x[base:] if x.strip() else "" for x in lines]  # the body's own margin is two spaces
    blocks, cur = [], []
    for line in lines:
        if not line.strip() or line.strip() == "." or re.fullmatch(r"\s*-{5,}\s*", line):
            if cur:
                blocks.append(cur)
            cur = []
        else:
            if cur and re.match(r"^\s*[*-] +\S", line):  # a new list item starts a block
                blocks.append(cur)
                cur = []
            cur.append(line.expandtabs())
    if cur:
        blocks.append(cur)
    ind = lambda s: len(s) - len(s.lstrip())
    text_indent = None  # where the text of the current list item starts
    level_of = {}
    for b in blocks:
        first = b[0]
        i = ind(first)
        m = re.match(r"^(\s*)([*-]) +", first)
        if m:
            mi = len(m.group(1))
            level = level_of.setdefault(mi, len(level_of)) if text_indent is not None else 0
            if text_indent is None:
                level_of.clear()
                level_of[mi] = 0
            text_indent = m.end()
            style = LIST_STYLES[("bullet", min(level, 2))]
            lines = [first[m.end():]] + b[1:]
            base = text_indent
            news_lines(lines, base, w, style=style, indent=1.27 * (level + 1))
            continue
        if text_indent is not None and i >= text_indent - 2 and i > 2:
            if i >= text_indent + 2:
                w.code("\n".join(x[text_indent:] for x in b), 1.27)
            else:
                news_lines(b, i, w, indent=1.27)
            continue
        if i > 2:
            w.code("\n".join(x[2:] for x in b))
            continue
        text_indent = None
        if len(b) > 1 and all(len(x) < 42 and not x.rstrip().endswith((".", ",", ":")) for x in b):
            w.code("\n".join(x[2:] for x in b))  # a few short lines: commands, not prose
            continue
        if all(re.match(r"^\s*\[\d+\]", x) for x in b):
            for x in b:
                w.para([(x.strip(), False, False, False)])
            continue
        news_lines(b, i, w)


EMPH = re.compile(r"(?<![\w*])\*(\w[^*\n]*?)\*(?![\w*])|(?<![\w/])_([A-Za-z][^_\n]*?)_(?![\w/])")


def plain_emphasis(text: str):
    """Plain-text *emphasis* and _emphasis_ become italic runs, as a Word author would type them."""
    runs, pos = [], 0
    for m in EMPH.finditer(text):
        runs.append((text[pos:m.start()], False, False, False))
        runs.append((m.group(1) or m.group(2), False, True, False))
        pos = m.end()
    runs.append((text[pos:], False, False, False))
    return runs


def news_lines(lines, base, w: Writer, style=None, indent=0.0):
    """Lines of one block: prose at the base indent, deeper lines as an example in monospace."""
    prose, code = [], []
    ind = lambda s: len(s) - len(s.lstrip())

    def flush_prose():
        nonlocal style
        if prose:
            w.para(plain_emphasis(" ".join(x.strip() for x in prose)), style=style, indent=0 if style else indent)
            style = None
            prose.clear()

    for k, x in enumerate(lines):
        deeper = k > 0 and ind(x) > base + 1
        if deeper:
            if prose and not code:
                flush_prose()
            code.append(x)
        else:
            if code:
                w.code("\n".join(y[base:] for y in code), indent)
                code.clear()
            prose.append(x)
    flush_prose()
    if code:
        w.code("\n".join(y[base:] for y in code), indent)


# ---------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("fmt", choices=["rst", "md", "news"])
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--field", action="append", default=[], help="memo line NAME=VALUE under the title")
    ap.add_argument("--title", help="title (Heading 1) to put first, for a source without one")
    ap.add_argument("--cut-from", help="drop the source from the first line matching this regex on")
    a = ap.parse_args(argv)
    text = Path(a.src).read_text(encoding="utf-8")
    if a.cut_from:
        m = re.search(a.cut_from, text, re.M)
        if m:
            text = text[:m.start()]
    w = Writer()
    w.fields = [tuple(f.split("=", 1)) for f in a.field]
    if a.title:
        w.heading(a.title, 1)
    if a.fmt == "rst":
        convert_rst(text, w)
    elif a.fmt == "news":
        convert_news(text, w)
    else:
        MdWalker(w).run(text)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    w.doc.core_properties.title = next((p.text for p in w.doc.paragraphs if p.style.name.startswith("Heading")), "")
    w.doc.save(a.out)


if __name__ == "__main__":
    main()
