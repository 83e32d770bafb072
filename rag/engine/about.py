"""Questions about a document rather than what it says. The document is named loosely, by its topic, headline
words, site, author ("the Reuters piece on X", "the story by Jane Doe"); it is picked first (retrieval over the
topic plus the title, site and author of its metadata), checked to really match the description, and only then
answered from:

    who wrote / when was / which site ran the article about X    its metadata (rag/index/parse/meta.py, stored in
                                                                the index manifest), cited to the document; else
                                                                a credit in its text (a sign-off, "Written by", a
                                                                copyright or signature line), cited where it stands
    summarize / tl;dr / what is the article about X about        its lead and key sentences, in reading order
    what does the section on Y say / the part of the X about Y   that section's first statement and key sentences
    which articles are by <author> / what did <site> publish     every such document, with its lead sentence

Bylines are never prose evidence, so metadata answers only this way. A document the folder does not hold is
declined as such ("no document in this folder is about X"), never stood in for by the nearest other one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import numpy as np

from rag import text
from rag.engine.compose import Composed, marked
from rag.engine.query import analyze, in_dictionary
from rag.engine.select import Sentence, answerable, split_sentences
from rag.index.clean import FRONT_MATTER, TRAIL_SEPARATOR
from rag.index.parse.meta import credits, dates_in
from rag.index.parse.pdf import RUNNING_FURNITURE
from rag.types import Citation

_NOUN = (r"(?:article|stor(?:y|ie)|piece|post|blog\s+post|report|news\s+story|document|paper|op-?ed|essay|column|"
         r"editorial|interview|review|feature|write-?up|item|round-?up|explainer|preview|recap|rundown|fact-?check|"
         r"announcement|thread|update|entr(?:y|ie)|guide|message|news|recipe|road\s+test|(?:press\s+)?release|"
         r"letter|memo|newsletter|tutorial|profile|obituar(?:y|ie)|list|analys[ie]s|wrap|how-?to|instructions|"
         r"guidelines?|notes|manual|handbook|faq|readme|paper|page|documentation|docs|primer|walkthrough|"
         r"overview|introduction|intro|chapter|note|notice|one|preprint|draft|thesis|slides|spec|specification|"
         r"proposal|white-?paper|doc|pdf|man\s*page|changelog|licen[cs]e|manifesto)s?")
_DOC = rf"(?:the\s+|that\s+|this\s+|an?\s+)?{_NOUN}"
_VENUE = (r"(?:site|website|web\s+site|publication|outlet|newspaper|magazine|blog|journal|periodical|conference|proceedings|"
          r"newsletter|venue)")
# how people ask for a document's metadata; `doc` is the document as they name it ("the AP preview of the debate")
_ASKS = (
    ("author", re.compile(r"^(?:who\s+(?:originally\s+)?(?:wrote|authored|penned|signed|reviewed|put\s+together|"
                          r"(?:is|was|'s|’s)\s+(?:the\s+(?:author|writer)\s+of|behind))|who[’']s\s+behind|"
                          r"who[’']s\s+the\s+(?:author|writer)\s+of|"
                          r"(?:which|what)\s+(?:writer|reporter|journalist|author|person|blogger)\s+(?:wrote|authored|penned|put\s+together)|"
                          r"whose\s+(?:name|byline)\s+is\s+(?:on|under|at\s+the\s+top\s+of))\s+(?P<doc>.+)$", re.I)),
    ("author", re.compile(r"^(?P<doc>.+?)\s*[-–—,:;]\s*who\s+(?:wrote|authored)\s+(?:it|this|that)$", re.I)),
    ("author", re.compile(r"^(?:who|which\s+(?:reporter|writer|journalist))\s+wrote\s+up\s+(?P<topic>.+)$", re.I)),
    ("author", re.compile(rf"^whose\s+{_NOUN}\s+(?:is|are|was|were)\s+(?P<doc>.+)$", re.I)),
    ("author", re.compile(r"^by\s+whom\s+(?:is|are|was|were)\s+(?P<doc>.+?)\s+(?:written|authored|signed|put\s+together)$", re.I)),
    ("published", re.compile(r"^when\s+(?:was|were)\s+(?P<doc>.+?)\s+(?:published|written|posted|released|put\s+(?:up|out)|out|run)$", re.I)),
    ("published", re.compile(r"^when\s+did\s+(?P<doc>.+?)\s+(?:come\s+out|appear|run|go\s+(?:up|online)|get\s+published)$", re.I)),
    ("published", re.compile(r"^(?:what|which)\s+(?:date|day|year|month)\s+(?:is|was|are|were)\s+(?P<doc>.+?)\s+from$", re.I)),
    ("published", re.compile(r"^when\s+(?:is|was|are|were)\s+(?P<doc>.+?)\s+dated$", re.I)),
    ("published", re.compile(r"^what\s+(?:date|year)\s+does\s+(?P<doc>.+?)\s+(?:carry|bear|give|show|have)$", re.I)),
    ("published", re.compile(r"^(?:what|which)\s+(?:date|day)\s+(?:is|was)\s+(?:on|given\s+(?:on|for)|shown\s+on)\s+(?P<doc>.+)$", re.I)),
    ("published", re.compile(r"^when\s+did\s+(?P<owner>\S.*?)\s+(?:put\s+(?:up|out)|publish|post|run)\s+(?:its|their|his|her|the)\s+"
                             r"(?P<doc>.+)$", re.I)),
    ("published", re.compile(r"^(?:(?:what\s+is|what[’']s)\s+the\s+)?(?:publication\s+|publishing\s+)?date\s+of\s+(?P<doc>.+)$", re.I)),
    ("site", re.compile(r"^(?:which|what)\s+(?:company[’']s\s+)?(?:site|website|web\s+site|publication|outlet|news\s+outlet|newspaper|"
                        r"paper|magazine|blog|news\s+(?:site|website|agency|organi[sz]ation)|agency|network|journal|periodical|"
                        r"conference|proceedings|newsletter)\s+"
                        r"(?:ran|published|carried|posted|put\s+out|printed)\s+(?P<doc>.+)$", re.I)),
    ("site", re.compile(r"^(?:which|what)\s+(?:company[’']s\s+)?(?:site|website|web\s+site|publication|outlet|newspaper|magazine|blog)"
                        r"\s+is\s+(?P<doc>.+?)\s+from$", re.I)),
    ("site", re.compile(r"^where\s+(?:was|were)\s+(?P<doc>.+?)\s+(?:published|posted|run|printed)$", re.I)),
    # "where did Henderson's introduction appear", "which journal did the paper on X come out in"
    ("site", re.compile(r"^where\s+did\s+(?P<doc>.+?)\s+(?:appear|run|come\s+out|get\s+published)$", re.I)),
    ("site", re.compile(rf"^(?:in\s+)?(?:which|what)\s+{_VENUE}\s+(?:did|was|were)\s+(?P<doc>.+?)\s+"
                        rf"(?:appear|run|come\s+out|published|printed|presented)(?:\s+in|\s+at)?$", re.I)),
)
# words that join a document to what it is about when no "about"/"on" does ("the piece where …", "the post announcing …")
_JOINS = re.compile(r"^\s*(?:,\s*)?(?:where|in\s+which|that|which|of|for|with|over|saying|that\s+says)\b\s*", re.I)
_TRAILING = re.compile(r"(?:,?\s+(?:for\s+me|please|in\s+brief|in\s+short|in\s+a\s+nutshell|briefly|roughly|quickly))+$", re.I)
FIELD_WORDS = {"author": "who wrote it", "published": "when it was published", "site": "where it was published"}

# "summarize the article about X", "tl;dr of the Reuters piece on Y", "what is the story by Jane Doe about"
_SUMMARIZE = (
    re.compile(r"^(?:(?:can|could|would)\s+you\s+|please\s+)*(?:summari[sz]e|sum\s+up|recap|brief\s+me\s+on|fill\s+me\s+in\s+on|"
               r"(?:give\s+(?:me\s+)?|what\s+(?:are|were|is)\s+)?(?:a\s+|an\s+|the\s+)?(?:short\s+|quick\s+|brief\s+|high-level\s+)?"
               r"(?:summary|gist|tl;?\s?dr|overview|rundown|main\s+points|key\s+points|short\s+version)\s+of|tl;?\s?dr:?(?:\s+of)?)"
               r"\s+(?P<doc>.+?)(?:,?\s+please)?$", re.I),
    re.compile(r"^what(?:'s|’s|\s+is|\s+was|\s+are|\s+were)\s+(?P<doc>.+?)\s+(?:basically\s+|really\s+)?(?:about|saying)$", re.I),
    re.compile(r"^what\s+(?:does|do|did)\s+(?P<doc>.+?)\s+(?:basically\s+|really\s+)?(?:say|argue|describe|cover|explain)"
               r"(?:\s+about\s+(?P<focus>.+))?$", re.I),
)
# "which articles are by Jane Doe", "which stories did Reuters publish", "what did the Guardian publish"
_LIST_BY = (
    re.compile(rf"^(?:(?:which|what)\s+(?:(?:ones?\s+)?of\s+(?:the|these|those|my|our)\s+)?(?:[\w-]+\s+){{0,2}}?{_NOUN}\s+"
               rf"(?:are|were|is|was)\s+|"
               rf"list\s+(?:the\s+|all\s+)?{_NOUN}\s+)"
               rf"(?P<how>by|from|written\s+by|published\s+by)\s+(?P<name>.+)$", re.I),
    re.compile(rf"^(?:which|what)\s+(?:{_NOUN}\s+)?(?:did|does|has|have)\s+(?P<name>.+?)\s+"
               rf"(?P<how>write|written|publish|published|run|post|posted)$", re.I),
    # "which of these news notes have entries signed by X", "which guides contain sections written by X"
    re.compile(rf"^(?:which|what)\s+(?:(?:ones?\s+)?of\s+(?:the|these|those|my|our)\s+)?(?:[\w-]+\s+){{0,2}}?{_NOUN}\s+"
               rf"(?:have|has|contain|include|carry)\s+(?:[\w-]+\s+){{0,2}}?(?P<how>signed\s+by|written\s+by|by)\s+(?P<name>.+)$", re.I),
    # "which of these papers appeared in TUGboat", "which articles ran in the Times"
    re.compile(rf"^(?:which|what)\s+(?:(?:ones?\s+)?of\s+(?:the|these|those|my|our)\s+)?(?:[\w-]+\s+){{0,2}}?{_NOUN}\s+"
               rf"(?:were\s+|was\s+)?(?P<how>appeared|ran|came\s+out|published|printed)\s+in(?:\s*,[^,]{{1,40}},)?\s+(?P<name>.+)$", re.I),
)
_MARKERS = re.compile(r"\s*\b(?P<m>by|from|in|about|on|regarding|concerning|covering)\s+", re.I)

# "what does the section on Y say", "summarize the chapter about X", "the part of the install guide about Y",
# "the contributing guide's part on Y", "its section on Y"
_SECTION_NOUN = r"(?:(?:sub-?)?(?:section|chapter|part|appendix|passage|bit|paragraph|table|tip)s?|entry|entries|note)\b"  # "notes" name a document
_SECTION = (rf"(?:the\s+|this\s+|that\s+|a\s+|its\s+|their\s+|(?:the\s+)?[^?]{{1,80}}?(?:'s|’s)\s+)?(?:[\w'’.-]+\s+){{0,4}}?"
            rf"{_SECTION_NOUN}")
_SECTION_ASKS = (
    re.compile(rf"^(?:(?:can|could|would)\s+you\s+|please\s+)*(?:summari[sz]e|sum\s+up|recap|explain|"
               rf"(?:give\s+(?:me\s+)?|what\s+(?:are|were|is)\s+)?(?:a\s+|the\s+)?(?:short\s+|quick\s+)?(?:summary|gist|tl;?\s?dr|"
               rf"overview|rundown|main\s+points?|key\s+points?|upshot)\s+of|tl;?\s?dr:?(?:\s+of)?)\s+(?P<sec>{_SECTION}.*?)"
               rf"(?:,?\s+please)?$", re.I),
    re.compile(rf"^what(?:'s|’s|\s+is|\s+was)\s+(?P<sec>{_SECTION}.+?)\s+(?:basically\s+|really\s+|all\s+)?about$", re.I),
    re.compile(rf"^what\s+(?:does|do|did)\s+(?P<sec>{_SECTION}.+?)\s+(?:basically\s+|really\s+)?"
               rf"(?:say|cover|explain|describe|discuss|tell\s+(?:me|us)|recommend|advise|argue|deal\s+with|go\s+over)"
               rf"(?:\s+about\s+(?P<focus>.+))?$", re.I),
    re.compile(rf"^what(?:'s|’s|\s+is|\s+are)\s+(?:in|covered\s+in|said\s+in)\s+(?P<sec>{_SECTION}.+)$", re.I),
    # "what does the pull request howto advise in its section on sending it"
    re.compile(rf"^what\s+(?:does|do|did)\s+(?P<doc>.+?)\s+(?:say|advise|recommend|explain|cover|suggest|tell\s+(?:me|us))\s+"
               rf"(?:in|under)\s+(?P<sec>{_SECTION}.+)$", re.I),
)
# "In the debugging howto, what is the part on X about?": the document named first, then the question
_IN_DOCUMENT = re.compile(rf"^(?:in|from|within)\s+(?P<doc>(?:the|this|that|your|my)\s+[^,]*?\b{_NOUN}\b[^,]*?),\s*(?P<q>.+)$", re.I)
_GIVE_BRIEFLY = re.compile(r"^(?:give\s+me|tell\s+me|show\s+me|explain)\s+(?P<doc>.+?),?\s+(?:in\s+(?:a\s+nutshell|brief|short|a\s+few\s+"
                           r"(?:words|sentences|lines))|briefly|summari[sz]ed)$", re.I)
# "what does the contribution guide (chmod's manual) say about X": a document, then the part of it asked about
_SAYS_ABOUT = re.compile(rf"^what\s+(?:does|do|did)\s+(?P<doc>(?:(?:the|this|that)\s+)?.*?\b{_NOUN}\b.*?)\s+"
                         rf"(?:say|said|advise|recommend|tell\s+(?:me|us)|explain|suggest)\s+(?:about|on|regarding)\s+(?P<topic>.+)$", re.I)
# a question, then a request to summarize the document or section that answers it: "how do I make a new revision?
# summarize that section", "why use Flit? give me the short version of that rationale page"
_FOLLOWED = re.compile(rf"^(?P<topic>[^?]{{3,}})\?\s+(?P<ask>.*?\b(?:that|this|the)\s+(?P<hint>(?:[\w'’-]+\s+){{0,3}}?)"
                       rf"(?P<noun>{_SECTION_NOUN}|{_NOUN}).*)$", re.I)
_ASKS_SUMMARY = re.compile(r"\b(?:summari[sz]e|sum\s+(?:it\s+)?up|gist|overview|tl;?\s?dr|brief|short\s+version|explain|nutshell|"
                           r"what\s+(?:does|do|did)\b.*\bsay)\b", re.I)
_WH = re.compile(r"^(?:how|what|why|which|when|where|who|whether|on)\b", re.I)  # "summarize how X works": content
# what joins a section to its topic: "the section on Y", "the part about Y", "the chapter that covers Y"
_SECTION_TOPIC = re.compile(r"^\s*(?:s\s+)?(?:(?:of|in)\s+(?P<doc>.+?)\s+)?(?:on|about|regarding|concerning|covering|for|"
                            r"defining|explaining|describing|listing|introducing|dealing\s+with|that\s+(?:covers|deals\s+with|explains|describes|discusses|is\s+about)|"
                            r"which\s+(?:covers|deals\s+with|explains|describes|discusses)|where|with)\s+(?P<topic>.+)$", re.I)

TITLED_MIN = 0.99  # "who wrote X" without a document noun asks for a document's author only if X is all in a title
MATCH_MIN = 0.5  # idf-weighted share of the topic's terms the title and lead must hold: less, and the nearest
# document is about something else, unless it is the one the description paraphrases (below)
BODY_MATCH_MIN = 0.85  # ... or this share of them anywhere in the document that retrieval ranks first for the topic
SIMILAR_MIN = 0.30  # cosine of the description to a document's title and lead for a paraphrase ("the explainer on
# import duties" for a piece on tariffs; on the dev folder the documents asked for scored 0.31-0.79, the nearest
# document of a description naming none 0.14-0.49) ...
SIMILAR_MARGIN = 0.10  # ... and clearly nearer than the next one: the document meant, not one of several alike
PARAPHRASE_CANDIDATES = 8  # the documents retrieval and titles rank first: a paraphrase is looked for among these
NAMES_MISSING_MAX = 0.25  # at most this share of the names, numbers and months a description gives may be missing
# from the document: "the story on the Eagles' reunion tour" is not the one on another band's ("Eagles" is in none
# of it), while one name of four ("the AP preview of the November debate in Atlanta") may be the reader's own
TITLE_WEIGHT = 0.5  # a title naming the topic's terms outweighs a stray passage elsewhere when picking the document
LEAD_SENTENCES = 3  # a news lead says what the story is about in its first few statements
TOP_CHUNKS = 5  # a name printed under a title stands in the document's first few passages
TITLE_BLOCK_SENTENCES = 12  # an abstract among a document's first statements ends its title block
LEAD_MIN_WORDS = 8  # a shorter first statement is a caption, kicker or credit, not the lead
KEY_SENTENCES = 5  # besides the lead: a summary, not the article (with four, it more often missed a point people chose)
SUMMARY_MAX_WORDS = 200  # and short enough to read at a glance
PART_OPENING = 0.1  # a part's first statement says what the part is about: a little more central
SUMMING_UP = 0.1  # ... and a statement in a part headed "Summary" or "Conclusion" too
SUMMARY_RELEVANCE = 0.6  # how much a key sentence's centrality counts against its overlap with those chosen
SECTION_SUPPORT_WEIGHT = 0.5  # retrieval's say in which of the headings naming a topic is the section meant
SECTION_NAMES_MORE = 0.05  # a subsection is meant over its chapter only where its heading names more of the topic
PART_MATCH_MIN = 0.75  # a summary request names a part of its document when a heading holds this share of the words
# (idf-weighted) that the document's title does not: "summarize the recommendations in the pip security report"
ENTRY_HEAD_CHARS = 60  # a changelog entry gives its version within its first line
WHOLE_PART_MIN = 0.4  # a section asked about is a part, not the whole document, where a part's heading holds this share
SECTION_MIN_WORDS = 4  # a section is short: its brief statements ("-h, --help is required.") count in its summary
COMMAND_MAX_CHARS = 80  # a one-line code block under a statement that introduces it is a command, brought along
SECTION_AROUND = 2  # a passage without a heading: the chunks on either side of it are its section
OUTLINE_MAX_WORDS = 90  # a summary names the parts under it (their headings, widest first) up to this many words
OUTLINE_PART_WORDS = 15  # a longer "heading" is a contents run or a question-sized title line, not a part's name


@dataclass(frozen=True)
class Described:
    """A document as a question names it: what it is about, who wrote or ran it."""

    topic: str = ""
    by: str = ""  # "by X": an author, or a site
    site: str = ""  # "from X", "in X", or words before the noun that name a site ("the Reuters piece")
    hint: str = ""  # words before the noun ("the ex-diplomat article"): a site or author when one matches, else topic
    chapter: bool = False  # a section called a chapter: the whole chapter, not the subsection that names it best
    noun: str = ""  # what the question calls it ("manifesto", "man page"): a title may say so too

    @property
    def named(self) -> str:
        """How the decline names it: "about X", "by Y"."""
        about = " ".join(w for w in (self.hint, self.topic) if w)
        parts = [f"about {about}" if about else ""]
        parts += [f"by {self.by}" if self.by else "", f"from {self.site}" if self.site else ""]
        return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class DocumentQuestion:
    """What a question about a document asks: a metadata `field`, a "summary", or a "listing" of documents."""

    asks: str
    described: Described
    nouned: bool = True  # the question calls it a document ("which articles did X write", not "what did X publish")


_LEADING = re.compile(r"^(?:in\s+(?:a\s+nutshell|short|brief|a\s+few\s+words)|briefly|quickly|tl;?\s?dr)\s*[,:]\s*", re.I)


_CUE = re.compile(r"\b(?:in\s+a\s+nutshell|tl;?\s?dr|in\s+brief|briefly)\b", re.I)
# with a summary cue, "what is X (about)" and "what does X do" ask what a document on X says as a whole
_WHAT_ABOUT = re.compile(r"^what(?:'s|’s|\s+is|\s+are)\s+(?P<doc>.+?)(?:\s+about)?$|^what\s+(?:does|do)\s+(?P<does>.+?)\s+"
                         r"(?:do|contain|cover|list|say)$", re.I)


def without_cue(question: str) -> str:
    """The question without "in a nutshell", "tl;dr", "briefly": how short the answer should be, not what about."""
    left = " ".join(re.sub(rf",?\s*{_CUE.pattern}\s*,?", " ", question, flags=re.I).split())
    return re.sub(r"\s+([?.!])", r"\1", left).strip(" ,:") or question


def _clean(q: str) -> str:
    q = _LEADING.sub("", " ".join(q.split()).strip())
    return _TRAILING.sub("", q.rstrip("?!. ")).strip()


def described(phrase: str) -> Described | None:
    """"the Reuters piece on Y" -> Described(topic="Y", site-or-topic hint "Reuters"); None without a document
    noun (then the question is about content, not about a document)."""
    m = re.match(rf"^(?:the|this|that|an?)?\s*(?:(?P<owner>[^\s]+(?:\s+[^\s]+)?)(?:'s|’s)\s+)?(?P<hint>.*?)\s*\b(?P<noun>{_NOUN})\b(?P<rest>.*)$",
                 phrase.strip(), re.I)
    if not m:
        return None
    by, site, topic = "", "", ""
    rest = re.sub(r"^(?:'s|’s)\s+", " about ", m.group("rest"))  # "the Perl style guide's advice": the guide, about its advice
    pieces = list(_MARKERS.finditer(rest))
    head = rest[: pieces[0].start()] if pieces else rest
    if head.strip(" ,"):  # "the piece where the coach concedes …", "the post announcing …": the rest is the topic
        joined = _JOINS.match(head)
        topic = rest[joined.end() if joined else 0:].strip(" ,")
        pieces = []
    for i, p in enumerate(pieces):
        marker, value = p.group("m").lower(), _segment(rest, pieces, i)
        if marker in ("about", "on", "regarding", "concerning", "covering"):
            topic = rest[p.end():].strip()
            break
        if marker == "by":
            by = value.strip()
        else:
            site = value.strip()
    # "GiveWell's open thread": the owner is a site or an author when one matches (pick() decides), as a hint is
    topic = re.sub(r"^(?:its|their|his|her)\s+", "", topic, flags=re.I)  # "the howto about its test suite"
    words_before = re.sub(r"^(?:the|this|that|an?)\s+", "", m.group("hint").strip(), flags=re.I)
    hint = " ".join(w for w in ((m.group("owner") or "").strip(), words_before) if w)
    return Described(topic, by, site, hint, noun=m.group("noun"))


def _segment(rest: str, pieces: list, i: int) -> str:
    end = pieces[i + 1].start() if i + 1 < len(pieces) else len(rest)
    return rest[pieces[i].end(): end]


def section_described(phrase: str, document: str = "") -> Described | None:
    """"the section on Y" -> Described(topic="Y"); "the part of the install guide about Y" and "the install
    guide's part on Y" -> topic "Y", with the document's words as a hint; None when the phrase names no topic."""
    m = re.match(rf"^(?P<pre>.*?)\b{_SECTION_NOUN}", phrase.strip(), re.I)
    if not m:
        return None
    pre = m.group("pre").strip()
    chapter = m.group(0)[m.end("pre"):].lower().startswith("chapter")
    owner = re.sub(r"^(?:the|this|that|its|their|a)\b\s*|(?:'s|’s)\s*$", "", pre, flags=re.I).strip()
    rest = phrase.strip()[m.end():]
    if not (t := _SECTION_TOPIC.match(rest)):
        # "the DSelect chapter of the APT guide": the words before the noun are its topic, what follows its document
        of = re.match(r"^\s*(?:of|in|from)\s+(?P<doc>.+)$", rest, re.I)
        if not owner or re.search(r"(?:'s|’s)$", pre) or (rest.strip() and not of):
            return None
        return Described(topic=owner, hint=_strip_article(" ".join(w for w in (document, of.group("doc") if of else "") if w)),
                         chapter=chapter)
    hint = " ".join(w for w in (document, owner, t.group("doc") or "") if w and w.lower() not in ("its", "their"))
    return Described(topic=t.group("topic").strip(" ,"), hint=_strip_article(hint), chapter=chapter)


def _strip_article(phrase: str) -> str:
    return re.sub(r"^(?:the|this|that|your|my)\s+", "", phrase.strip(), flags=re.I)


def document_question(question: str) -> DocumentQuestion | None:
    """What a question about a document (not its content) asks, or None."""
    if m := _FOLLOWED.match(" ".join(question.split())):  # "why use Flit? give me the short version of that page"
        if _ASKS_SUMMARY.search(m.group("ask")):
            section = bool(re.match(_SECTION_NOUN, m.group("noun"), re.I))
            return DocumentQuestion("section" if section else "summary",
                                    Described(topic=_clean(m.group("topic")), hint="" if section else m.group("hint").strip()))
    q, document = _clean(question), ""
    if m := _GIVE_BRIEFLY.match(" ".join(question.split()).rstrip("?!. ")):  # "give me the FAQ's chapter on X in a nutshell"
        q = f"summarize {m.group('doc')}"
    if m := _IN_DOCUMENT.match(q):
        q, document = m.group("q"), m.group("doc")
    for pattern in _SECTION_ASKS:
        if (m := pattern.match(q)) and (d := section_described(m.group("sec"), m.groupdict().get("doc") or document)):
            focus = m.groupdict().get("focus") or ""
            return DocumentQuestion("section", Described(f"{d.topic} {focus}".strip(), hint=d.hint, chapter=d.chapter and not focus))
    if m := _SAYS_ABOUT.match(q):  # the part of a named document about a topic: a section of it
        return DocumentQuestion("section", Described(m.group("topic"), hint=_strip_article(m.group("doc"))))
    if document:  # "In the X guide, who wrote it" is rare; the question reads on as if the document came last
        q = f"{q} in {document}"
    for field, pattern in _ASKS:
        if (m := pattern.match(q)) and m.groupdict().get("topic"):  # "who wrote up X": the write-up of X, no noun
            return DocumentQuestion(field, Described(topic=m.group("topic")))
        doc = m.group("doc") if m else ""
        if m and m.groupdict().get("owner"):  # "when did comwrap put up its announcement": comwrap's announcement
            doc = f"{m.group('owner')}'s {doc}"
        if m and (d := described(doc)) is not None and (d.topic or d.hint or d.by or d.site):
            return DocumentQuestion(field, d)
        if m and doc.strip() and field != "site":  # "who wrote Git Magic": a document named by its title alone, if one is
            return DocumentQuestion(field, Described(topic=_strip_article(doc)), nouned=False)
    for pattern in _LIST_BY:
        if m := pattern.match(q):
            name = re.sub(r"^the\s+", "", m.group("name").strip(), flags=re.I)
            how = m.group("how").lower()
            return DocumentQuestion("listing", Described(by=name) if "writ" in how or "sign" in how or how == "by" else Described(site=name),
                                    bool(re.search(rf"\b{_NOUN}\b", m.group(0), re.I)))
    for n, pattern in enumerate(_SUMMARIZE):
        if not (m := pattern.match(q)):
            continue
        doc = re.sub(r"^what\s+(.+?)\s+(?:covers|says|contains|is\s+about|does)$", r"\1", m.group("doc"), flags=re.I)  # "an overview of what X covers"
        d = described(doc)
        if d is None and n == 0 and not _WH.match(doc):  # "tl;dr git worktree": a summary request may name its document
            d = Described(topic=_strip_article(doc))  # by topic alone ("summarize how X works" asks about content)
        if d is not None and (d.topic or d.by or d.site or d.hint or m.groupdict().get("focus")):
            focus = m.groupdict().get("focus") or ""
            return DocumentQuestion("summary", Described(d.topic or focus, d.by, d.site, d.hint) if focus else d)
    if _CUE.search(question) and (m := _WHAT_ABOUT.match(q)):  # "in a nutshell, what does the CC0 dedication do?"
        topic = re.split(r"\s+and\s+(?:how|what|why|when|where)\b", m.group("doc") or m.group("does"))[0]
        return DocumentQuestion("summary", described(topic) or Described(topic=_strip_article(topic)))
    return None


def byline(meta: dict) -> str:
    """"Jane Doe, 2019-03-05": what a citation's source line says of its document ("" when nothing is known)."""
    return ", ".join(v for v in ((meta or {}).get("author"), (meta or {}).get("published")) if v)


def metadata_answer(field: str, value: str, title: str) -> str:
    named = f"“{title}”" if title else "The document"
    if field == "author":
        return f"{value} wrote {named}."
    if field == "site":
        return f"{named} was published by {value}."
    if re.fullmatch(r"\d{4}-\d\d-\d\d", value):  # an ISO date is also said the way people write it
        day = date.fromisoformat(value)
        return f"{named} was published on {day.day} {day.strftime('%B %Y')} ({value})."
    return f"{named} is dated {value}."


def name_matches(name: str, value: str) -> bool:
    """Every word of the name as typed is a word of the metadata value ("Carter" ~ "Tony Carter")."""
    asked = set(text.words(name.lower())) - text.STOPWORDS
    return bool(asked) and asked <= set(text.words((value or "").lower()))


# ---- picking the document ---------------------------------------------------------------------------


@dataclass
class Picked:
    """The document a description names, or why there is none."""

    source: str = ""
    reason: str = ""  # why no document matches; "" when one does
    found: object = None  # the Evidence retrieval gathered for the topic (shown as the answer's passages)
    query: object = None
    heading: str = ""  # a section: its heading trail ("Chapter › Section"); "" for a whole document
    around: object = None  # a section without a heading: the passage it is around (else retrieval's first hit there)


class Documents:
    """The documents of one index generation, as questions name them: metadata, lead, sentences."""

    def __init__(self, data, evidence, decider, vocabulary, dictionary=frozenset()):
        self.files = data.manifest.get("files", {})
        self.evidence = evidence
        self.decider = decider
        self.vocabulary = vocabulary
        self.dictionary = dictionary
        self.chunks: dict[str, list] = {}
        self._credited: dict[str, list[str]] = {}
        self._terms: dict[str, set[str]] = {}
        self._title_terms: dict[str, set[str]] = {}
        for c in data.chunks:
            self.chunks.setdefault(c.source, []).append(c)

    def claims(self, asked: DocumentQuestion) -> bool:
        """Whether the question is about documents here: "what did the commission publish" names no document,
        so it is about documents only when some document's site or author is the one named (else about content)."""
        d = asked.described
        if asked.nouned:
            return True
        if asked.asks in FIELD_WORDS:  # "who wrote Git Magic": only where a document is titled so
            return bool(self.titled(d.topic))
        return bool(self.by_name(d.by or d.site, ("site", "author")))

    def titled(self, phrase: str) -> list[str]:
        """The documents whose title (or file name) holds every term of the phrase."""
        asked = set(text.terms(phrase))
        return [s for s in self.chunks if asked and text.coverage(asked, self.title_terms(s)) >= TITLED_MIN]

    def meta(self, source: str) -> dict:
        return (self.files.get(source) or {}).get("meta") or {}

    def title(self, source: str) -> str:
        chunks = self.chunks.get(source) or []
        return self.meta(source).get("title") or (chunks[0].title if chunks else "")

    def named_as(self, source: str) -> str:
        """What a person may call a document by: its title and its file name's words ("adduser NEWS Debian")."""
        return f"{self.title(source)} {re.sub(r'[-_.]+', ' ', source.rsplit('/', 1)[-1].rsplit('.', 1)[0])}"

    def title_terms(self, source: str) -> set[str]:
        """The terms of named_as(source), kept: every document question weighs them for every document."""
        if source not in self._title_terms:
            self._title_terms[source] = text.terms(self.named_as(source))
        return self._title_terms[source]

    def headings(self, source: str) -> str:
        """Its section headings, once each: what its parts are about."""
        return " ".join(dict.fromkeys(c.heading for c in self.chunks.get(source, []) if c.heading))

    def sentences(self, source: str) -> list[Sentence]:
        """The document's statements, in reading order."""
        return [x for c in self.chunks.get(source, []) if c.kind == "text" for x in split_sentences(c) if answerable(x)]

    def lead(self, source: str) -> list[Sentence]:
        """Its first statements long enough to be the lead, not a caption or credit."""
        sentences = self.sentences(source)
        # a paper's title block (its title, authors and their affiliations) stands above its abstract: the abstract leads
        abstract = next((i for i, x in enumerate(sentences[:TITLE_BLOCK_SENTENCES])
                         if _ABSTRACT.match(x.text) or _ABSTRACT.match(_last(x.chunk.heading))), 0)
        return [x for x in sentences[abstract:] if len(x.text.split()) >= LEAD_MIN_WORDS and not contents_line(x.text)
                and not credit_line(x.text)][:LEAD_SENTENCES]

    def by_name(self, name: str, fields: tuple[str, ...]) -> list[str]:
        """The documents whose metadata (or, for an author, a credit in the text) carries the name."""
        def named(s: str, f: str) -> bool:
            if name_matches(name, self.meta(s).get(f) or ""):
                return True
            credited = self.credited(s)  # one name each, or all together ("the note by Mittelbach and Rowley")
            return f == "author" and any(name_matches(name, who) for who in [*credited, " ".join(credited)])

        return sorted(s for s in self.chunks if any(named(s, f) for f in fields))

    def credited(self, source: str) -> list[str]:
        """Every name a credit in the document's text gives (sign-offs, "Written by", copyright lines)."""
        if source not in self._credited:
            self._credited[source] = [n for c in self.chunks.get(source, []) for names, _, _, _ in credits(c.text)
                                      for n in names.split("; ") if n]
        return self._credited[source]

    def matches(self, source: str, topic_terms: set[str]) -> bool:
        """The topic's key terms are in the document's title and lead: it really is the document about it."""
        said = text.terms(" ".join([self.named_as(source), self.meta(source).get("site") or "", self.headings(source),
                                    *(x.text for x in self.lead(source))]))
        return text.coverage(topic_terms, said, self.vocabulary) >= MATCH_MIN

    def pick(self, d: Described) -> Picked:
        """The one document the description names: filtered by the author or site named, then the best by
        retrieval over the topic plus its title's share of the topic's terms; checked to match."""
        candidates = sorted(self.chunks)
        topic = d.topic
        if d.hint:  # "the Reuters piece": its first words a site or author when they match one, the rest topic
            named, rest = self.owner(d.hint)
            candidates, topic = named or candidates, f"{rest} {topic}".strip()
        if d.by:
            candidates = [s for s in candidates if s in self.by_name(d.by, ("author", "site"))]
        if d.site:  # "from X", "in X": a site when one is, else words that name the document ("in the git notes")
            if sited := [s for s in candidates if s in self.by_name(d.site, ("site",))]:
                candidates = sited
            else:
                topic = f"{topic} {d.site}".strip()
        if (versioned := self.versioned(candidates, versions_in(f"{d.hint} {d.topic} {d.site}"))) is not None:
            candidates = versioned
        if not candidates:
            return Picked(reason=f"no document in this folder is {d.named}")
        if not topic:
            return Picked(candidates[0])
        query = analyze(topic, (), self.vocabulary, self.dictionary)
        found = self.evidence.gather(query, read=False)  # is the topic in the folder at all (the ten-feature score)
        best_hit: dict[str, float] = {}
        for h in found.hits:
            best_hit[h.chunk.source] = max(best_hit.get(h.chunk.source, h.score), h.score)
        terms = set(query.terms)
        titled = terms | text.terms(d.noun)  # "the Debian manifesto": "The Debian Linux Manifesto" over the constitution

        def score(s: str) -> float:
            title = text.coverage(titled, self.title_terms(s), self.vocabulary) if terms else 0.0
            return best_hit.get(s, 0.0) + TITLE_WEIGHT * title

        source = max(candidates, key=score)
        verdict = self.decider.decide(query, found)
        if (verdict.declined and source not in best_hit) or not self.matches(source, terms):
            ranked = sorted(candidates, key=score, reverse=True)
            # the description's words all in one document's text, which retrieval found too: that document, though its
            # title and lead say it otherwise ("the paper about MetaPlot" for one whose title block is not its title)
            body = ranked[0] if not verdict.declined and self.mentions(ranked[0], terms) else None
            source = body or self.paraphrased(topic, ranked[:PARAPHRASE_CANDIDATES])
        if source is None or not self.holds(source, names_in(topic, self.dictionary)):
            return Picked(reason=f"no document in this folder is {d.named}", found=found, query=query)
        return Picked(source, found=found, query=query)

    def owner(self, hint: str) -> tuple[list[str], str]:
        """The documents of the site or author a hint's first words name ("Reuters", "Roegel his 3D animation
        article"), and the hint's other words; ([], hint) when it names none."""
        words = hint.split()
        if self.titled(hint):  # "the Perl Unicode tutorial" is titled so: "Perl" is no author here, though a credit says "The Perl Journal"
            return [], hint
        for n in range(len(words), 0, -1):
            if named := self.by_name(" ".join(words[:n]), ("site", "author")):
                return named, " ".join(words[n:])
        return [], hint

    def versioned(self, candidates: list[str], versions: list[str]) -> list[str] | None:
        """The candidates that give every version number a description does (versions_in: "the pytest 2.3
        announcement"), those whose title or file name gives them first; None when it gives none. Word terms cannot
        tell 2.3 from 3.2."""
        if not versions:
            return None
        having = [s for s in candidates if says_versions(" ".join([self.title(s), s, self.headings(s),
                                                                    *(c.text for c in self.chunks.get(s, []))]), versions)]
        return [s for s in having if says_versions(f"{self.title(s)} {s}", versions)] or having

    def mentions(self, source: str, topic_terms: set[str]) -> bool:
        """Nearly all of the topic's key terms (idf-weighted) are somewhere in the document."""
        if source not in self._terms:
            self._terms[source] = text.terms(" ".join([self.named_as(source), self.headings(source),
                                                       *(c.text for c in self.chunks.get(source, []))]))
        return bool(topic_terms) and text.coverage(topic_terms, self._terms[source], self.vocabulary) >= BODY_MATCH_MIN

    def paraphrased(self, topic: str, candidates: list[str]) -> str | None:
        """The candidate whose title and lead mean what the description says, in other words: near enough to it
        and clearly nearer than the next candidate; None when no candidate is."""
        about = [" ".join([self.title(s), *(x.text for x in self.lead(s))]) for s in candidates]
        # each embedded alone: int8 vectors depend a little on the batch they are made in (its activations'
        # scale), so a description's similarity must not depend on which other candidates came with it
        vectors = np.stack([self.evidence.embedder.encode([a])[0] for a in about]) if about else np.zeros((0, 1))
        sims = vectors @ self.evidence.embedder.encode_query(topic) if about else np.zeros(0)
        order = np.argsort(-sims)
        runner_up = float(sims[order[1]]) if len(order) > 1 else 0.0
        best = float(sims[order[0]]) if len(order) else 0.0
        return candidates[order[0]] if best >= SIMILAR_MIN and best - runner_up >= SIMILAR_MARGIN else None

    def dropped(self, source: str) -> list[list]:
        """What cleaning kept out of the document's prose, as the manifest records it: [start_line, end_line,
        reason, text shown, page] each."""
        return (self.files.get(source) or {}).get("dropped") or []

    def furniture(self, source: str) -> list[str]:
        """What the file prints on every page but is not its prose: running heads ("TUGboat, Volume 18 (1997)")."""
        return [shown for _, _, reason, shown, _ in self.dropped(source) if reason == RUNNING_FURNITURE]

    def holds(self, source: str, names: list[str]) -> bool:
        """The names (numbers, months) are in the document, its title or metadata, but for NAMES_MISSING_MAX of
        them; an acronym counts where the words it stands for are ("ESA": the European Space Agency), a language
        where the document is written in it ("the Italian post")."""
        meta = self.meta(source)
        language = (meta.get("language") or "").split("-")[0].lower()
        names = [n for n in names if not (language and LANGUAGES.get(n.lower()) == language)]
        if not names:
            return True
        said = " ".join([self.named_as(source), meta.get("author") or "", meta.get("site") or "", self.headings(source),
                         (meta.get("published") or "").replace("-", " "),  # "the 1999 note": its date's year
                         *(c.text for c in self.chunks.get(source, [])), *self.furniture(source)])
        have, acronyms = text.terms(said), text.acronyms(said)
        found = sum(1 for name in names if name.upper() in acronyms
                    or all(text.covered(t, have) for t in text.terms(name)))
        return (len(names) - found) / len(names) <= NAMES_MISSING_MAX

    def section(self, d: Described) -> Picked:
        """The section a description names ("the chapter on Y"): the heading whose words, with its document's
        title, hold the topic's terms, retrieval over the topic breaking ties; else the heading over the passage
        retrieval finds for the topic, if the topic is in the folder at all."""
        query = analyze(d.topic, (), self.vocabulary, self.dictionary)
        found = self.evidence.gather(query, read=False)
        terms = set(query.terms) | (set(text.terms(d.hint)) if d.hint else set())
        support: dict[tuple[str, str], float] = {}
        top = max((h.score for h in found.hits), default=0.0) or 1.0
        for h in found.hits:
            for node in _trail(h.chunk.heading):
                key = (h.chunk.source, node)
                support[key] = max(support.get(key, 0.0), h.score / top)
        # "Roegel's article": the section is sought in the documents of the author (or site) the description names; a
        # document named by its words ("the Debian FAQ") may be many files, so those words only weigh in its headings
        meant = self.owner(d.hint)[0] if d.hint else []
        versions = versions_in(f"{d.hint} {d.topic}")
        if (versioned := self.versioned(meant or sorted(self.chunks), versions)) is not None:
            if not versioned:  # "the zstd v1.5.4 entry" where no document gives 1.5.4
                return Picked(reason=f"no section of these documents is about {d.topic}", found=found, query=query)
            meant = versioned
        best, best_score = None, 0.0
        for source in meant or sorted(self.chunks):
            said: dict[str, float] = {"": 0.0}
            for node in dict.fromkeys(n for c in self.chunks[source] for n in _trail(c.heading)):
                named = text.coverage(terms, text.terms(f"{self.named_as(source)} {node}"), self.vocabulary) if terms else 0.0
                said[node] = named
                parent = node.rsplit(TRAIL_SEPARATOR, 1)[0] if TRAIL_SEPARATOR in node else ""
                if parent and named < said.get(parent, 0.0) + SECTION_NAMES_MORE:
                    continue  # a subsection whose heading names no more of the topic: its chapter is the section meant
                score = named + SECTION_SUPPORT_WEIGHT * support.get((source, node), 0.0)
                if named >= MATCH_MIN and score > best_score + 1e-9:  # retrieval breaks ties between headings
                    best, best_score = (source, node), score
        hits = [h for h in found.hits if not meant or h.chunk.source in meant]
        around = None
        if best is None and versions:  # "the v1.5.4 entry": the passage giving it
            giving = [c for s in meant for c in self.chunks[s] if says_versions(f"{c.heading} {c.text}", versions)]
            # an entry opens with its version ("v1.5.4 (Feb 2023)", "* Noteworthy changes in release 3.4"); a later
            # passage may only mention it ("bug introduced in 3.4")
            around = next((c for c in giving if says_versions(f"{c.heading} {c.text[:ENTRY_HEAD_CHARS]}", versions)),
                          giving[0] if giving else None)
            best = (around.source, around.heading) if around is not None else None
        if best is None and hits and not self.decider.decide(query, found).declined:
            around = hits[0].chunk  # no heading names it, but a passage does: the section around that passage
            best = (around.source, around.heading)
        if best is not None and not d.chapter and best[1] in self.spanning(best[0]):
            # the heading over the whole document was picked because its title names the topic: a part's heading that
            # names it too is the section meant
            best = (best[0], self.part(best[0], d.topic, beyond_whole=False, least=WHOLE_PART_MIN) or best[1])
        if best is None or not self.holds(best[0], names_in(d.topic, self.dictionary)):
            return Picked(reason=f"no section of these documents is about {d.topic}", found=found, query=query)
        if d.chapter:  # "the chapter on Y": the chapter (a heading that says so) holding the part that names Y best
            best = (best[0], next((n for n in reversed(_trail(best[1])) if _CHAPTER.match(_last(n))),
                                  best[1]))
        return Picked(best[0], found=found, query=query, heading=best[1], around=around)

    # ---- answers --------------------------------------------------------------------------------------

    def spanning(self, source: str) -> set[str]:
        """The headings over the whole document (its title as a heading): every passage with a heading is under them,
        a preamble above the title (a byline) aside."""
        trails = [set(_trail(c.heading)) for c in self.chunks.get(source, []) if c.heading]
        return set.intersection(*trails) if trails else set()

    def part(self, source: str, description: str, beyond_whole: bool = True, least: float = PART_MATCH_MIN) -> str:
        """The part of a document that a summary request names besides the document itself ("summarize the
        recommendations in the pip security report", "Trio's high-level design principles"): the widest heading
        that holds the description's terms that neither the title nor the lead, author or site hold ("pino's page
        on asynchronous logging" names no part); "" when they hold them all or no heading does. Not `beyond_whole`:
        the heading that holds the description's terms, though the title holds them too ("what does the MacBook
        review say about the keyboard", titled "… The keyboard is probably enough …", has a part "Keyboard")."""
        meta = self.meta(source)  # what names the whole document: its title, lead, author and site
        whole = self.title_terms(source) | text.terms(" ".join([meta.get("author") or "", meta.get("site") or "",
                                                                 *self.credited(source), *(x.text for x in self.lead(source))]))
        rest = {t for t in text.terms(description) if not (beyond_whole and text.covered(t, whole))}
        chunks = self.chunks.get(source, [])
        if not rest or not chunks:
            return ""
        nodes = list(dict.fromkeys(n for c in chunks for n in _trail(c.heading)))
        whole_document = self.spanning(source)
        best, best_named = "", 0.0
        for node in nodes:
            name = _last(node)
            if node in whole_document or len(name.split()) > OUTLINE_PART_WORDS or contents_line(name):
                continue  # the heading over the whole document is the document; a contents run names no one part
            named = text.coverage(rest, text.terms(name), self.vocabulary)
            if named >= least and named > best_named + 1e-9:  # widest first: a chapter over its subsection
                best, best_named = node, named
        return best

    def section_summary(self, picked: Picked, topic: str) -> tuple[Composed | None, str]:
        """The section's first statement and its key sentences, cited; a section without a heading is the
        passage retrieval found and the statements around it."""
        source, node = picked.source, picked.heading
        if node:
            chunks = [c for c in self.chunks.get(source, []) if _under(c.heading, node)]
        else:
            around = picked.around or next(h.chunk for h in picked.found.hits if h.chunk.source == source)
            ordinal = [c.id for c in self.chunks[source]].index(around.id)
            chunks = self.chunks[source][max(0, ordinal - SECTION_AROUND): ordinal + SECTION_AROUND + 1]
        sentences, commands = statements(chunks)
        name = _last(node) if node else ""
        where = f"“{name}” in {source}" if name else source
        if not sentences:
            return None, f"{where} holds no statements to summarize, only code or tables"
        # under a heading: its first statement leads; a passage without one: what is nearest the topic
        out = self._summarize(sentences, sentences[:1] if node else [], topic, commands, SECTION_MIN_WORDS)
        out.answer = f"{where}: {out.answer}{self.outline(source, node)}"
        return out, ""

    def summary(self, source: str, topic: str) -> Composed:
        """The document's lead and its key sentences, at most KEY_SENTENCES, in reading order, each cited."""
        sentences, commands = statements(self.chunks.get(source, []))
        lead = self.lead(source)[:1] or [x for x in sentences if x.chunk.kind == "text"][:1]
        out = self._summarize(sentences, lead, topic, commands)
        title = self.title(source)
        out.answer = (f"“{title}” ({source}): " if title else f"{source}: ") + out.answer + self.outline(source)
        return out

    def outline(self, source: str, node: str = "") -> str:
        """The parts under a section (or the document): their headings as the file gives them, widest first
        within OUTLINE_MAX_WORDS, shown in reading order ("\nParts: 9.1. … · 9.1.1. aptitude"); "" for none.
        A summary of five sentences cannot say everything, so it says what else is there and where."""
        nodes = [n for n in dict.fromkeys(n for c in self.chunks.get(source, []) for n in _trail(c.heading))
                 if (n.startswith(node + TRAIL_SEPARATOR) if node else True)]
        names = {n: _last(n).strip() for n in nodes}
        nodes = [n for n in nodes if 0 < len(names[n].split()) <= OUTLINE_PART_WORDS and not contents_line(names[n])
                 and not names[n].endswith(":")]  # "You probably can:" introduces a list; it names no part
        def depth(n: str) -> int:
            return n.count(TRAIL_SEPARATOR)

        while nodes and depth(nodes[0]) == min(map(depth, nodes)) and [depth(n) for n in nodes].count(depth(nodes[0])) == 1:
            nodes = nodes[1:]  # one part holding all the rest is the document's own title (a chapter heading)
        chosen, words = set(), 0
        for n in sorted(nodes, key=depth):  # stable: reading order within a depth
            w = len(names[n].split())
            if words + w > OUTLINE_MAX_WORDS:
                break
            chosen.add(n)
            words += w
        parts = [names[n] for n in nodes if n in chosen]
        return f"\nParts: {' · '.join(parts)}" if len(parts) > 1 else ""

    def _summarize(self, sentences: list[Sentence], lead: list[Sentence], topic: str, commands: dict | None = None,
                   min_words: int = LEAD_MIN_WORDS) -> Composed:
        """The lead and key sentences, in reading order. Key sentences are chosen one at a time for being central
        (near the centroid, and the topic) and unlike those already chosen (maximal marginal relevance): a summary
        covers the document's several points, not its main one five times. A chosen sentence that introduces a
        command ("configure it as:") brings the command with it."""
        commands = commands or {}
        pool = [x for x in sentences if (len(x.text.split()) >= min_words or id(x) in commands) and x not in lead
                and not contents_line(x.text) and not credit_line(x.text) and not _CAPTION.match(x.text)]
        # thanks, credits and pointers are no point of the document, unless they are all there is (the "Credits" part)
        pool = [x for x in pool if not _BACK_MATTER.match(_last(x.chunk.heading))] or pool
        chosen, words = list(lead), sum(len(x.text.split()) for x in lead)
        chosen += [commands[id(x)] for x in lead if id(x) in commands]
        if pool:
            # embedded apart, not through the ranking's cache: int8 vectors depend a little on the batch they were
            # made in, so a document's sentences cached in one batch here would move other questions' rankings
            vectors = self.evidence.embedder.encode([x.text for x in pool + chosen])
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
            centroid = vectors[: len(pool)].mean(axis=0)
            relevance = vectors[: len(pool)] @ (centroid / (np.linalg.norm(centroid) or 1.0))
            if topic:
                relevance = relevance + vectors[: len(pool)] @ self.evidence.embedder.encode_query(topic)
            # a part's first statement says what the part is about: the parts' openings are the outline in prose
            heads = [x.chunk.heading for x in sentences]
            opening = {id(x) for i, x in enumerate(sentences) if x.chunk.heading and (i == 0 or heads[i - 1] != heads[i])}
            relevance = relevance + PART_OPENING * np.array([id(x) in opening or id(x) in commands for x in pool], dtype=float)
            # a part that sums the document up ("Summary", "Conclusion") says its points
            relevance = relevance + SUMMING_UP * np.array([bool(_SUMMING_UP.match(_last(x.chunk.heading))) for x in pool],
                                                          dtype=float)
            picked = list(range(len(pool), len(pool) + len(chosen)))  # the lead counts as already said
            left, keys = set(range(len(pool))), 0
            while left and keys < KEY_SENTENCES:
                said = vectors[picked] if picked else None
                def gain(i: int) -> float:
                    overlap = float((said @ vectors[i]).max()) if said is not None else 0.0
                    return SUMMARY_RELEVANCE * float(relevance[i]) - (1 - SUMMARY_RELEVANCE) * overlap
                best = max(left, key=gain)
                left.discard(best)
                x = pool[best]
                shown = [x, commands[id(x)]] if id(x) in commands else [x]
                n = sum(len(y.text.split()) for y in shown)
                if words + n > SUMMARY_MAX_WORDS or text_of(x) in map(text_of, chosen):
                    continue
                chosen += shown
                picked.append(best)
                words += n
                keys += 1
        chosen.sort(key=lambda x: x.start_char)
        out = marked(chosen)
        out.mode = "summary"
        return out

    def credit(self, source: str, field: str) -> tuple[str, Citation] | None:
        """The first credit in the document's text that names its author or date (a sign-off, "Written by", a
        copyright or a signature line), with its citation; None when there is none."""
        for c in self.chunks.get(source, []):
            for names, when, start, end in credits(c.text):
                value = names if field == "author" else when
                if value:
                    first = c.start_line + c.text.count("\n", 0, start)
                    quote = " ".join(c.text[start:end].split())
                    return value, Citation(source, first, first + c.text.count("\n", start, end), quote, c.title, c.page,
                                           c.heading)
        return None

    def printed(self, source: str, day: str) -> Citation | None:
        """Where the document's text writes the day (an ISO date), if it does: the first line that does."""
        for c in self.chunks.get(source, []):
            for n, line in enumerate(c.text.split("\n")):
                if day in dates_in(line):
                    return Citation(source, c.start_line + n, c.start_line + n, " ".join(line.split()), c.title, c.page,
                                    c.heading)
        # a dateline the cleaner kept out of the prose as metadata (the index manifest records where it stood)
        for start, end, _reason, shown, page in self.dropped(source):
            if day in dates_in(shown):
                return Citation(source, start, end, shown, self.title(source), page or 0)
        return None

    def shown_where(self, source: str, name: str, running: bool = False) -> Citation | None:
        """Where the file prints a name, cited: its byline or title block ("By Jane Holloway", "©1995–1999 Frank
        Mittelbach and Chris Rowley"), a name line among its first passages, or (`running`: a journal) a running
        head ("274 TUGboat, Volume 18 (1997), No. 4"), which repeats on every page; None when none names it."""
        dropped = self.dropped(source)
        for start, end, reason, shown, page in dropped:
            if reason == FRONT_MATTER and name_matches(name, shown):
                return Citation(source, start, end, shown, self.title(source), page or 0)
        for c in self.chunks.get(source, [])[:TOP_CHUNKS]:  # a name line the title block kept ("Brooks Moses")
            for n, line in enumerate(c.text.split("\n")):
                if name_matches(name, line):
                    return Citation(source, c.start_line + n, c.start_line + n, " ".join(line.split()), c.title, c.page,
                                    c.heading)
        for start, end, reason, shown, page in dropped if running else []:
            if reason == RUNNING_FURNITURE and name_matches(name, shown):
                return Citation(source, start, end, shown, self.title(source), page or 0)
        return None

    def field(self, source: str, field: str, topic: str) -> tuple[Composed | None, str]:
        """A metadata answer cited where the file prints it (else to the document's lead), else a credit in its text
        cited to where it stands; (None, why) when neither says. A PDF's or Word file's own date is when the file was made, not the
        document: it is said, but as the file's, and the question is declined."""
        value, title = self.meta(source).get(field), self.title(source)
        file_dated = field == "published" and source.lower().endswith((".pdf", ".docx"))
        if value and file_dated and (printed := self.printed(source, value)):  # the file's date, printed on it too
            return Composed(metadata_answer(field, value, title), value, [printed], "metadata"), ""
        if value and not file_dated:
            if shown := self.shown_where(source, value, running=field == "site"):  # cited where the file prints it
                return Composed(metadata_answer(field, value, title), value, [shown], "metadata"), ""
            cited = (self.lead(source) or self.sentences(source))[:1]
            return Composed(metadata_answer(field, value, title), value, [x.citation() for x in cited], "metadata"), ""
        if field != "site" and (found := self.credit(source, field)):
            credited, cited = found
            return Composed(metadata_answer(field, credited, title), credited, [cited], "metadata"), ""
        why = f"{source}, the document about {topic}, does not say {FIELD_WORDS[field]}" if topic else \
            f"{source} does not say {FIELD_WORDS[field]}"
        if value and file_dated:
            why += f" (its file properties say the file was made on {value})"
        return None, why

    def listing(self, d: Described) -> tuple[Composed | None, str]:
        """Every document by the author or from the site named, with its lead sentence cited."""
        name, fields = (d.by, ("author",)) if d.by else (d.site, ("site", "author"))
        sources = [s for s in self.by_name(name, fields) if self.sentences(s)]
        if not sources:
            return None, f"no document in this folder is {'by' if d.by else 'from'} {name}"
        leads = [(self.lead(s) or self.sentences(s))[0] for s in sources]
        items = "\n".join(f"- {s} (“{self.title(s)}”): {text_of(x)} [{n}]" for n, (s, x) in enumerate(zip(sources, leads), 1))
        plural = "s" if len(sources) > 1 else ""
        return Composed(f"{len(sources)} document{plural}:\n{items}", "", [x.citation() for x in leads], "list"), ""


_NAME = re.compile(r"(?<![\w'’])(?:[A-Z][\w'’.&-]*|\d[\w.,/:-]*)")
_MONTHS = re.compile(r"\b(?:january|february|march|april|may|june|july|august|september|october|november|december)\b", re.I)


# a language a description names a document by ("the Italian post"), and its ISO 639-1 code: matched against the
# document's language, not its words (an Italian page does not say "Italian")
LANGUAGES = {"english": "en", "german": "de", "french": "fr", "spanish": "es", "italian": "it", "portuguese": "pt",
             "dutch": "nl", "russian": "ru", "polish": "pl", "czech": "cs", "swedish": "sv", "norwegian": "no",
             "danish": "da", "finnish": "fi", "greek": "el", "turkish": "tr", "arabic": "ar", "hebrew": "he",
             "persian": "fa", "hindi": "hi", "indonesian": "id", "malay": "ms", "vietnamese": "vi", "thai": "th",
             "chinese": "zh", "japanese": "ja", "korean": "ko", "ukrainian": "uk", "romanian": "ro", "hungarian": "hu"}


RARE_ZIPF = 2.5  # below this Zipf frequency (wordfreq: 3 = once per million words) a word is jargon or a name:
# "mgetty" 0, "sudo" 2.4, "tmux" 1.5; a paraphrase's plain words are above ("glut" 2.8, "unannounced" 3.1)


def rare_in_english(word: str) -> bool:
    from wordfreq import zipf_frequency  # imported here: its word lists load on first use, not at start-up

    return zipf_frequency(word, "en") < RARE_ZIPF


_VERSION = re.compile(r"(?<![\w.])v?(\d+(?:\.\d+)+)(?![\w.]*\w)")  # "pytest 2.3", "v1.5.4", "Linux 3.2"


def versions_in(description: str) -> list[str]:
    """The version numbers a description gives ("the pytest 2.3 announcement" -> ["2.3"])."""
    return list(dict.fromkeys(m.group(1) for m in _VERSION.finditer(description)))


def says_version(text_: str, version: str) -> bool:
    """The text gives that version, or a release of it ("2.3" in "pytest-2.3.0"), not another ("12.3", "2.30")."""
    return bool(re.search(rf"(?<![\d.]){re.escape(version)}(?:\.\d+)*(?!\.?\d)", text_))


def says_versions(text_: str, versions: list[str]) -> bool:
    """The text gives every one of the versions."""
    return all(says_version(text_, v) for v in versions)


def names_in(description: str, dictionary: frozenset[str] = frozenset()) -> list[str]:
    """The words of a description that name something (capitalised words, numbers, months, and words no
    dictionary knows: "mgetty", "biblatex"): the document must say them, where the rest of its words may be
    paraphrased. A compound that ends in a common word ("Czech-born", "Tokyo-based") describes rather than
    names, and is left out."""
    found = [m.group(0).rstrip(".,:'’") for m in _NAME.finditer(description)]
    found = [w for w in found if not re.search(r"-[a-z]+$", w)]
    found += [m.group(0) for m in _MONTHS.finditer(description) if not m.group(0)[0].isupper()]
    if dictionary:  # "the notes on modems with mgetty": a lowercase word that is no English word names a thing too
        found += [w for w in re.findall(r"(?<![\w'’-])[a-z]{3,}(?![\w'’-])", description)
                  if w not in text.STOPWORDS and not in_dictionary(w, dictionary) and rare_in_english(w)]
    return list(dict.fromkeys(w for w in found if text.terms(w)))


_CONTENTS = re.compile(r"^\W*(?:table\s+of\s+)?contents\b", re.I)
CONTENTS_CAPITALISED = 0.75  # a run of headings ("Sending Patches Patching Process Email Format …") is this capitalised


def contents_line(sentence: str) -> bool:
    """A table of contents run into one line: never a document's lead or one of its key sentences."""
    words = [w for w in sentence.split() if w[:1].isalpha()]
    capitalised = sum(w[:1].isupper() for w in words) / len(words) if words else 0.0
    return bool(_CONTENTS.match(sentence)) or (len(words) >= LEAD_MIN_WORDS and capitalised >= CONTENTS_CAPITALISED)


def statements(chunks: list) -> tuple[list[Sentence], dict[int, Sentence]]:
    """A passage's statements in reading order, for a summary, and the one-line commands some of them introduce
    (id of the statement -> the command). A sentence ending in a colon is a statement here when it is long enough
    to say something ("Fastify comes bundled with Pino by default; use request.log …:") or introduces a command
    ("You need to configure it as:" `dpkg-reconfigure locales`): in technical documents the command is the point."""
    out, commands = [], {}
    for i, c in enumerate(chunks):
        if c.kind != "text":
            continue
        for x in split_sentences(c):
            if answerable(x):
                out.append(x)
            elif x.text.rstrip().endswith(":") and not contents_line(x.text):
                after = chunks[i + 1] if i + 1 < len(chunks) else None
                one_line = (after is not None and after.kind == "code" and c.text.rstrip().endswith(x.text.rstrip())
                            and "\n" not in after.text.strip() and len(after.text.strip()) <= COMMAND_MAX_CHARS)
                if one_line:
                    commands[id(x)] = split_sentences(after)[0]
                if one_line or len(x.text.split()) >= LEAD_MIN_WORDS:
                    out.append(x)
    return out, commands


# what stands after a document's say: thanks, credits, pointers, licence terms. Never one of its points
_BACK_MATTER = re.compile(r"^\W*(?:[\dA-Z](?:\.\d+)*\.?\s+)?(?:acknowledge?ments?|thanks|credits|authors?|about\s+the\s+authors?|"
                          r"see\s+also|copyright|licen[cs]e|licensing|references|bibliography|further\s+reading|colophon|"
                          r"reporting\s+bugs|version\s+history|change\s*log)\W*$", re.I)
# where a document sums itself up: its points are most likely there
_SUMMING_UP = re.compile(r"^\W*(?:[\dA-Z](?:\.\d+)*\.?\s+)?(?:summary|in\s+summary|conclusions?|in\s+conclusion|tl;?\s?dr|"
                         r"key\s+(?:points|takeaways)|takeaways|the\s+bottom\s+line|verdict|wrapping\s+up)\W*$", re.I)
_CAPTION = re.compile(r"^\s*(?:figure|fig\.|table|listing|plate|exhibit)\s+\d+[.:]", re.I)  # a caption names a picture
_ABSTRACT = re.compile(r"^\s*abstract\b", re.I)
_CHAPTER = re.compile(r"^\s*(?:chapter|appendix)\b", re.I)


def credit_line(sentence: str) -> bool:
    """A sign-off, "Written by" or copyright line: who and when, never one of a summary's points."""
    covered = sum(end - start for _, _, start, end in credits(sentence))
    return covered >= len(sentence.strip()) / 2


def _under(heading: str, node: str) -> bool:
    """A chunk with this heading trail is in the section `node` (the node itself or a part below it)."""
    return heading == node or heading.startswith(node + TRAIL_SEPARATOR)


def _last(node: str) -> str:
    """"A › B › C" -> "C": the heading a section is named by."""
    return node.split(TRAIL_SEPARATOR)[-1]


def _trail(heading: str) -> list[str]:
    """"A › B › C" -> ["A", "A › B", "A › B › C"]: the sections a chunk is in, widest first."""
    parts = heading.split(TRAIL_SEPARATOR) if heading else []
    return [TRAIL_SEPARATOR.join(parts[: n + 1]) for n in range(len(parts))]


def text_of(x: Sentence) -> str:
    return " ".join(x.text.split())
