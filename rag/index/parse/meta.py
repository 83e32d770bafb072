"""A document's metadata: title, author(s), publication date, site, language.

HTML: trafilatura's metadata extraction (<title>, meta tags, OpenGraph, JSON-LD, the visible byline; dates by
htmldate). PDF: the document information dictionary. Word: the core properties. Plain text: the headline,
byline and dateline lines at its top. Bylines and datelines are recognized here once, for every format: the
cleaner leaves them out of the indexed prose (rag/index/clean.py), since they answer "who wrote / when" from
metadata, never as evidence for what an article says.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from rag.index.parse.base import DocMeta

BYLINE_MAX_WORDS = 16  # "By Jane Doe and John Roe, Staff Writers | jane@example.com": longer is a sentence
DATELINE_MAX_WORDS = 14  # "Published 7:07 PM EST Tuesday, January 4, 2019": longer is a sentence with a date
TOP_LINES = 12  # a plain text's headline, byline and dateline are among its first non-blank lines
YEAR_MIN, YEAR_MAX = 1900, 2100  # dates outside this are not publication dates ("page 2300")

_EMAIL = re.compile(r"\S+@\S+\.\w+")
_BYLINE = re.compile(r"^(?:(?:written|posted|reported|words|story|text)\s+)?by[:\s]+(?P<names>[^\W\d_][^|]*?)\s*(?:\||$)",
                     re.I)
_NAME_WORD = re.compile(r"^(?:[A-Z][\w'’.-]*|and|&|de|van|von|der|la|le|da|di|bin|al|el)$")
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
          r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DATE = re.compile(
    rf"\b(?:(?P<y1>(?:19|20)\d\d)-(?P<m1>\d\d)-(?P<d1>\d\d)"
    rf"|(?P<mon2>{_MONTH})\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y2>(?:19|20)\d\d)"
    rf"|(?P<d3>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mon3>{_MONTH}),?\s+(?P<y3>(?:19|20)\d\d))\b",
    re.I,
)
_DATELINE_WORDS = re.compile(
    r"^(?:(?:published|updated|posted|last updated|first published|modified|date)\b[:\s]*)?"
    r"(?:(?:on|at)\s+)?(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?,?\s+)?", re.I)
_TIME = re.compile(r"\b\d{1,2}[:.]\d\d\s*(?:[ap]\.?m\.?)?(?:\s*[A-Z]{2,4})?\b", re.I)
_SENTENCE_VERB = re.compile(r"\b(?:is|are|was|were|said|says|has|have|had|will|would)\b", re.I)
# what trafilatura's author field sometimes carries past the names: "Phil Helsel is a reporter", "… wire services Published"
_AUTHOR_TAIL = re.compile(r"\s+(?:(?:is|was)\s+an?\b|(?:published|updated|posted)\b).*$", re.I)
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
# a byline's label before the names, in the languages of saved pages ("Text: Jane Doe", "Por Juan Pérez")
_AUTHOR_LABEL = re.compile(r"^(?:(?:analysis|opinion|commentary|review|story|words|photos?)\s+by|by|text|texto|testo|"
                           r"texte|текст|автор|author|autor|auteur|por|par|von|di|door|av|af)\b[:\s]+(?=\S)", re.I)
# a piece of the author field that is a role, not a name ("CNN Editor-at-large", "Staff Writer")
_AUTHOR_ROLE = re.compile(r"\b(?:editor|reporter|correspondent|writer|columnist|contributor|staff|producer|"
                          r"analyst)\b", re.I)
# what a page's date leaves in trafilatura's author field: "Jeff Foust Monday; November"
_AUTHOR_DATE_WORD = re.compile(rf"(?:\s+|^)(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?|{_MONTH})$", re.I)


# what a file's properties say when nobody set them: its generator's template or the account that saved it. A
# template's own author comes with the template's own dates (python-docx's: 2013-12-23), no more the document's
PLACEHOLDER_AUTHORS = {"python-docx", "microsoft office user", "windows user", "user", "owner", "author", "unknown",
                       "administrator"}
TEMPLATE_AUTHORS = {"python-docx"}

_BYLINE_DATE = re.compile(r"\s+(?:on|at|updated|published|posted)\b\s*", re.I)
_HEADLINE = "h1"


def visible(root) -> tuple[str, str]:
    """(names, date) of the first byline and dateline a reader sees under the page's headline ("By Jane Doe on
    Monday, November 18th, 2019"; "Nov 19, 2019, 10:31 pm CST"), or before it when none follows. The page shows
    its own local date; meta tags often hold a UTC one, a day off."""
    names, when, after = ["", ""], ["", ""], False
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag == _HEADLINE:
            after = True
            continue
        if el.tag not in ("p", "div", "span", "address", "li", "time") or len(el) > 6:
            continue
        line = " ".join(el.text_content()[:400].split())
        who = byline(line)
        at = dateline(_BYLINE_DATE.split(line, maxsplit=1)[-1] if who else line)
        names[after] = names[after] or who
        when[after] = when[after] or at
        if after and names[1] and when[1]:
            break
    return names[1] or names[0], when[1] or when[0]


def byline(text: str) -> str:
    """The author names of a byline line ("By Jane Doe jane@example.com" -> "Jane Doe"), "" when it is not one."""
    text = " ".join(text.split())
    if len(text.split()) > BYLINE_MAX_WORDS:
        return ""
    m = _BYLINE.match(_EMAIL.sub(" ", text).strip())
    if not m:
        return ""
    # "By Jane Doe on Monday, November 18th, 2019 at 11:04 a.m.": the names end where the date begins
    names = _BYLINE_DATE.split(m.group("names"), maxsplit=1)[0]
    names = re.split(r"\s*(?:,|;|\band\b|&)\s*", names.strip(" ,;-–—"), flags=re.I)
    names = [n for n in names if n and all(_NAME_WORD.match(w) for w in n.split())]
    # "By the way, …" or "By 2030 the …" are sentences: every name word must be capitalized
    return "; ".join(names) if names and names[0][:1].isupper() else ""


def iso_date(text: str) -> str:
    """The first calendar date written in `text`, as YYYY-MM-DD ("" when none)."""
    for m in _DATE.finditer(text):
        g = m.groupdict()
        try:
            if g["y1"]:
                d = date(int(g["y1"]), int(g["m1"]), int(g["d1"]))
            else:
                mon = g["mon2"] or g["mon3"]
                d = date(int(g["y2"] or g["y3"]), _MONTHS.index(mon[:3].lower()) + 1, int(g["d2"] or g["d3"]))
        except ValueError:
            continue
        if YEAR_MIN <= d.year <= YEAR_MAX:
            return d.isoformat()
    return ""


def dates_in(text: str) -> set[str]:
    """Every calendar date written in `text`, as YYYY-MM-DD."""
    return {d for m in _DATE.finditer(text) if (d := iso_date(m.group(0)))}


def dateline(text: str) -> str:
    """The date of a dateline or timestamp line ("Published 7:07 PM EST Jan 4, 2019"), "" when it is not one:
    a short line that is a date with at most a label, a weekday and a time around it."""
    text = " ".join(text.split())
    if len(text.split()) > DATELINE_MAX_WORDS or _SENTENCE_VERB.search(text):
        return ""
    found = iso_date(text)
    if not found:
        return ""
    rest = _TIME.sub(" ", _DATE.sub(" ", _DATELINE_WORDS.sub("", text, count=1)))
    rest = re.sub(r"\b(?:updated|published|posted|at|on|(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*)\b", " ",
                  rest, flags=re.I)
    # what is left besides the date, the time, labels and separators: a dateline leaves (almost) nothing
    return found if len(re.findall(r"[^\W\d_]+", rest)) <= 2 else ""


# credits inside a document's text, where no byline heads it: a sign-off ("-- Jane Doe <jane@example.org>  Sun, 28
# Jul 2013 …", as Debian changelogs and NEWS files and mails end), "Written by Jane Doe", a copyright line, or a
# signature of a name and a month ("Happy hacking! Jane Doe, August 2011")
_SIGN_OFF = re.compile(r"^[ \t]*(?:--[ \t]+|(?P<dated>\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4})[ \t]+)?(?P<names>[^<>\n]{2,60}?)[ \t]+"
                       r"<[^<>\s]+@[^<>\s]+>[ \t]*,?[ \t]*(?P<when>[^\n]*)$", re.M)
_WRITTEN_BY = re.compile(r"\b(?:[Ww]ritten|[Mm]aintained|[Cc]ompiled|[Pp]repared|[Aa]uthored|[Ee]dited)\s+by\s+"
                         r"(?P<names>[A-Z][^.\n;:()<>]{2,80})")
_COPYRIGHT = re.compile(r"(?:\b[Cc]opyright\s*(?:©|\([Cc]\))?|©)\s*(?P<when>(?:19|20)\d\d(?:\s*[-–/,]\s*(?:19|20)?\d\d)*)\s*,?\s*"
                        r"(?:by\s+)?(?P<names>[A-Z][^.\n;:()<>,]{2,60})")
# a header field, as PEPs, reStructuredText documents and RFC-822-style notes give it: "Author: David Goodger"
_AUTHOR_FIELD = re.compile(r"^[ \t]*(?:Authors?|Author\(s\))[ \t]*:[ \t]*(?P<names>[A-Z][^\n;:()<>]{2,80}?)(?=[ \t]*(?:[;(<\n]|$))", re.M)
_SIGNATURE = re.compile(rf"(?P<names>(?:[A-Z][\w'’.-]+\s+){{1,3}}[A-Z][\w'’.-]+),\s+"
                        rf"(?P<when>(?i:{_MONTH})\s+(?:\d{{1,2}},?\s+)?(?:19|20)\d\d)\s*$", re.M)


def credits(text: str) -> list[tuple[str, str, int, int]]:
    """(names, date as written, start, end) of each credit in `text`, in reading order; names or date may be ""."""
    found = []
    for pattern in (_SIGN_OFF, _WRITTEN_BY, _AUTHOR_FIELD, _COPYRIGHT, _SIGNATURE):
        for m in pattern.finditer(text):
            names = byline("By " + m.group("names").strip())
            when = (m.groupdict().get("when") or m.groupdict().get("dated") or "").strip()
            if names or when:
                found.append((names, when, m.start(), m.end()))
    return sorted(found, key=lambda c: c[2])


# where a paper's title block ends: its abstract, introduction or contents
_BLOCK_END = re.compile(r"^(?:abstract|summary|contents|(?:1\.?\s+)?introduction)\b", re.I)
TITLE_BLOCK_LINES = 8  # the author's name stands within this many lines above the abstract (affiliations between)
_AFFILIATION = re.compile(r"\b(?:university|department|dept|institute|academy|college|school|laborator(?:y|ies)|cent(?:er|re)|"
                          r"faculty|division|corporation|company|inc|ltd|gmbh|society|association|foundation|group|team|"
                          r"project|sciences?|engineering|research)\b", re.I)


def title_block_author(lines: list[str]) -> str:
    """A paper's author as its first page prints it: the nearest line above the abstract or introduction that is
    a name and nothing else ("Denis Roegel"), passing over affiliation lines (digits, punctuation, or words such as
    University or Department) and the e-mail between."""
    lines = [" ".join(line.split()) for line in lines]
    end = next((i for i, line in enumerate(lines) if _BLOCK_END.match(line)), None)
    if end is None:
        return ""
    for line in reversed(lines[max(0, end - TITLE_BLOCK_LINES): end]):
        words = line.split()
        if (2 <= len(words) <= 4 and not re.search(r"[\d,;:@]", line) and not _AFFILIATION.search(line)
                and all(_NAME_WORD.match(w) for w in words)
                and sum(w[:1].isupper() for w in words) >= 2):
            return line
    return ""


# a title that is the name of the file it was made from ("tb57roeg.dvi", "Microsoft Word - report.docx")
_FILE_TITLE = re.compile(r"^(?:\S+\.(?:dvi|tex|ps|pdf|docx?|rtf|odt|txt|html?|indd|qxd)|Microsoft Word - .*)$", re.I)
_TITLE_STOP = re.compile(r"\b(?:19|20)\d\d\b|\bvolume\b|\bvol\.|\bno\.\s*\d|\bpage\s+\d", re.I)  # a running head's words


def usable_title(title: str) -> str:
    """The information dictionary's title, unless it is empty or names the file it was made from."""
    title = " ".join((title or "").split())
    return "" if _FILE_TITLE.match(title) else title


def title_block_title(lines: list[str]) -> str:
    """A paper's title as its title block prints it, where its type is no larger than the text's: the line above
    the author's name, and the line above that when the title runs on ("Multilingual Bibliographies: Using and" /
    "extending the babelbib package"); never a running head (a volume, a year, a page)."""
    author = title_block_author(lines)
    lines = [" ".join(line.split()) for line in lines]
    if not author or author not in lines:
        return ""
    at = lines.index(author)
    above = [line for line in lines[max(0, at - 2): at] if line]
    if not above or _TITLE_STOP.search(above[-1]):
        return ""
    title = [above[-1]]
    if len(above) == 2 and above[-1][:1].islower() and not _TITLE_STOP.search(above[0]):
        title.insert(0, above[0])
    return " ".join(title)


def credited_author(lines: list[str]) -> str:
    """The names of the first credit among a first page's top lines ("©1995–1999 Frank Mittelbach and Chris
    Rowley" under a title): who wrote it, where no byline or name line says."""
    for line in lines[:TOP_LINES]:
        for names, _, _, _ in credits(line):
            if names:
                *rest, last = names.split("; ")
                return f"{', '.join(rest)} and {last}" if rest else last
    return ""


def text_meta(lines: list[str]) -> DocMeta:
    """Byline and dateline among a plain text's first lines."""
    author = published = ""
    for line in lines[:TOP_LINES]:
        author = author or byline(line)
        published = published or dateline(line)
    return DocMeta(author=author, published=published)


# markup that states a page's publication date (OpenGraph, schema.org, Dublin Core, <meta name="date">, pubdate)
_DATE_MARKUP = re.compile(r"published_time|datePublished|dc\.date|dcterms\.(?:date|created|issued)|pubdate|"
                          r"name=[\"']?(?:date|publish[\w-]*date)[\"'\s>]", re.I)


def html_meta(raw: str, root, article: bool = True) -> DocMeta:
    """<title>, meta tags, OpenGraph, JSON-LD and the visible byline, by trafilatura (dates by htmldate). A page
    that is not an article (documentation, a FAQ) has a publication date only where it shows one under its
    headline or its markup states one: htmldate's guess from elsewhere on such a page is a copyright year or a
    change date."""
    from trafilatura.metadata import extract_metadata

    try:
        md = extract_metadata(raw)
    except Exception:  # noqa: BLE001 - metadata is a bonus: a page trafilatura cannot read still parses
        md = None
    language = (root.get("lang") or root.get("xml:lang") or "").strip()
    if not language:
        language = next((m.get("content", "") for m in root.iter("meta")
                         if (m.get("http-equiv") or "").lower() == "content-language"
                         or (m.get("property") or "").lower() == "og:locale"), "").replace("_", "-").strip()
    if md is None:
        return DocMeta(language=language)
    published = iso_date(md.date or "") or ""
    site = _one_line(md.sitename).strip(" _-–|·:") or (md.hostname or "").removeprefix("www.")
    shown_by, shown_on = visible(root)
    if shown_on and (not published or abs(date.fromisoformat(shown_on) - date.fromisoformat(published)).days <= 1):
        published = shown_on  # the day the page shows, where its meta tags give the same moment in UTC
    if not article and not _DATE_MARKUP.search(raw):
        published = shown_on
    shown = root.text_content() if md.author else ""
    return DocMeta(_one_line(md.title), as_shown(author_names(md.author), shown) or shown_by, published, site, language)


def author_names(found: str | None) -> str:
    """trafilatura's author field as names: without a label before them or date words, times and roles after."""
    names = []
    for name in _one_line(found).split(";"):
        name = _AUTHOR_TAIL.sub("", _AUTHOR_LABEL.sub("", name.strip()))
        # a trailing weekday or month after a full name ("Andrew June" keeps his), or a piece that is only one
        while (len(name.split()) > 2 or len(name.split()) == 1) and (cut := _AUTHOR_DATE_WORD.sub("", name)) != name:
            name = cut
        if name.strip():
            names.append(name.strip())
    people = [n for n in names if not _AUTHOR_ROLE.search(n)]
    return "; ".join(people or names)  # a role beside names is dropped; a desk's byline alone is kept


def as_shown(names: str, page_text: str) -> str:
    """Each name as the page writes it: trafilatura title-cases a name and drops its digits ("rmb8090" -> "Rmb");
    a word of the page that is the name and digits, ignoring case, is the name the reader saw (a name glued to the
    next word in the page's text, "jdadminVisitors", is left as it was)."""
    out = []
    for name in filter(None, (n.strip() for n in names.split(";"))):
        if name not in page_text and (m := re.search(rf"(?<!\w){re.escape(name)}\d*(?![^\W\d_])", page_text, re.I)):
            name = m.group(0)
        out.append(name)
    return "; ".join(out)


def pdf_meta(info: dict, title: str) -> DocMeta:
    """From a PDF's document information dictionary (pypdfium2's get_metadata_dict)."""
    created = info.get("CreationDate") or info.get("ModDate") or ""
    m = re.match(r"D?:?((?:19|20)\d\d)(\d\d)(\d\d)", created)
    published = ""
    if m:
        try:
            published = date(*map(int, m.groups())).isoformat()
        except ValueError:
            published = ""
    author = _one_line(info.get("Author"))
    return DocMeta(title, "" if author.lower() in PLACEHOLDER_AUTHORS else author, published)


def docx_meta(props, title: str, first_lines: list[str] = ()) -> DocMeta:
    """From a Word file's core properties (python-docx), but for placeholders; else a byline or dateline among
    its first lines (its title block)."""
    author = _one_line(props.author)
    when = props.created or props.modified
    published = when.date().isoformat() if isinstance(when, datetime) and author not in TEMPLATE_AUTHORS else ""
    author = "" if author.lower() in PLACEHOLDER_AUTHORS else author
    seen = text_meta(list(first_lines))
    return DocMeta(title, author or seen.author, seen.published or published, "", _one_line(props.language))


def _one_line(value) -> str:
    return " ".join(str(value).split()) if value else ""
