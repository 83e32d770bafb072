"""Understand the question: its form, the kind of answer it wants, its key terms and names, and whether it is a
follow-up that leans on the previous turn.

Every rule here is about English question syntax, never about one corpus: the same rules run on news articles
and on a software manual (tests/test_query.py runs the same forms on both).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rag import text
from rag.engine.prompts import CANNOT_ANSWER_PHRASE, SHORT_SEPARATOR

FORMS = ("factoid", "definition", "yesno", "explanatory", "summary", "listing")

_AUX = r"is|are|was|were|do|does|did|can|could|should|will|would|has|have|had|may|might|must|shall"
_YESNO = re.compile(rf"^({_AUX}|isn'?t|aren'?t|wasn'?t|doesn'?t|don'?t|didn'?t|can'?t|won'?t|hasn'?t|haven'?t)\b", re.I)
_EXPLAIN = re.compile(
    r"^(why|how come)\b|^how (do|does|did|can|could|should|would|to|is|are|was|were|will|has|have|had)\b|"
    r"^(explain|describe)\b|\bwhat (is|was|are|were) the (reasons?|causes?|purpose|motivation|rationale)\b|"
    r"^what (causes|caused|happens|happened|led to)\b",
    re.I,
)
# what a document is called (the names of a document's kind only in the plural: "which chapter covers X" asks for one)
_DOC = (r"(articles?|pieces?|stor(?:y|ies)|pages?|documents?|reports?|posts?|essays?|op-?eds?|docs?|texts?|guides|papers|"
        r"manuals|tutorials|chapters|notes|faqs|memos|changelogs|readmes|licen[cs]es|tables|announcements|man\s+pages|howtos)")
_SUMMARY = re.compile(
    r"\b(summari[sz]e|summary|sum up|overview|gist|tl;?dr|main (points?|ideas?|arguments?)|key (points?|takeaways?)|"
    rf"what (is|are) (the |this |that )?{_DOC} about|"
    rf"what does (the |this |that )?({_DOC}|author|writer)\b.{{0,200}}\b"  # bounded: linear in the question's length
    r"(say|argue|claim|recommend|suggest|conclude|propose)|\b(argue|argues|recommend|recommends)\b)",
    re.I,
)
_DOCUMENT_NOUNS = re.compile(rf"\b{_DOC}\b", re.I)
_LISTING = re.compile(
    rf"^(in )?(which|what)( (ones? )?of (the|these|those|my|our|your|all( the)?))?( [\w.-]+){{0,3}}? ({_DOC}|files?|sources?)\b\s*"
    r"((of|in|from) (the|these|this|my|our) [\w.'’ -]{1,40}? )??(here |in (this|the|my|our|your) ([\w-]+ )?folder )?(do |does |did )?(mentions?|discuss(es)?|talks? about|refers? to|covers?|quotes?|names?|"
    r"cites?|deals? with|(is|are) about|brings? up|touch(es)? on|(say|says|said) (anything|something) (about|on))"
    r"\s+(?P<topic>.+)$",
    re.I,
)
_DEFINE = re.compile(
    r"^(?:(?:who|what)(?:'s|’s|s| is| are| was| were)\s+(?P<a>.+?)(?:\s+(?:used\s+)?for)?|define\s+(?P<b>.+)|"
    r"what does\s+(?P<c>.+?)\s+(?:mean|do|stand for)\b.*|(?:the )?(?:meaning|purpose) of\s+(?P<d>.+))$",
    re.I,
)
_TIME_Q = re.compile(r"^(in |on |at |by )?(what|which) (year|date|day|month|time)\b|^when\b|^how long ago\b|^since when\b", re.I)
_NUMBER_Q = re.compile(r"^how (many|much|old|long|far|often|big|large)\b|^what (percentage|share|number|amount|proportion|fraction)\b", re.I)
_NAME_Q = re.compile(rf"^(who|whom|whose|where)\b|^((in|at|from|to|for|of|by|with) )?(which|what) (?!({_AUX})\b)[\w’'-]+", re.I)
_QUESTION_WORDS = frozenset(f"who whom whose what which when where why how {_AUX.replace('|', ' ')} please tell me".split())

# A third-person pronoun that the question itself does not resolve means it continues the conversation.
_PRONOUN = re.compile(r"\b(he|she|him|his|her|hers|they|them|their|theirs|it|its)\b", re.I)
_ELLIPSIS = re.compile(r"^(and|also|what about|how about|what else|and what about)\b", re.I)
_HOWTO = re.compile(r"^how\b(?! (many|much|long|old|often|far|big|large|come)\b)|\b(commands?|syntax|invocation|flags?|options?)\b", re.I)
DEFINITION_MAX_WORDS = 6  # "what is X" asks for a meaning only when X is a short noun phrase, not a clause
TYPO_MIN_CHARS = 5  # shorter unknown words are too often real words or names to read as a typo
ELLIPSIS_MAX_WORDS = 6  # "and Ericsson?" is a follow-up; a long question that opens with "and" stands alone
PRONOUN_ANSWER_MAX_WORDS = 5  # a previous short answer this short can stand in for the follow-up's pronoun
_NAME_TOKEN = re.compile(r"[A-Z][\w’'&.-]*|[a-z]+[A-Z][\w]*|\w*\d\w*|[\w-]*[._][\w.-]+|--?[\w-]+")


@dataclass(frozen=True)
class Query:
    text: str  # the question, normalized
    search: str  # what is searched: spelling fixed to the corpus, the previous turn joined for a follow-up
    ask: str  # the question as the model and the composer read it (a follow-up's pronoun replaced)
    form: str  # one of FORMS
    expects: str = ""  # factoid: "name", "number", "time" or "" (a phrase or a sentence)
    terms: frozenset[str] = frozenset()  # stemmed key terms, spelling fixed
    names: tuple[str, ...] = ()  # specific names as typed
    unknown: tuple[str, ...] = ()  # names (or words no dictionary knows) that no document mentions
    subject: str = ""  # definition: what is to be defined; listing: the topic
    followup: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def howto(self) -> bool:
        """A how-to ("how do I …", "what command …"): in technical documents a command may be its answer."""
        return bool(_HOWTO.match(self.ask))


def form_of(question: str) -> tuple[str, str]:
    """(form, subject) of a question by its syntax alone."""
    q = question.strip().rstrip("?!. ")
    if m := _LISTING.match(q):
        return "listing", m.group("topic").strip()
    if _SUMMARY.search(q):
        return "summary", ""
    if _EXPLAIN.search(q):
        return "explanatory", ""
    if _YESNO.match(q):
        return "yesno", ""
    if m := _DEFINE.match(q):
        subject = next(g for g in m.groups() if g).strip()
        # "what is the capital of Peru" asks for a thing's property; "what is a bare repository" for a meaning
        role = re.match(r"^(the|a|an) [\w’'-]+( [\w’'-]+)? (of|for|in|at|on|to|that|who|which|behind)\b", subject, re.I)
        if not role and len(subject.split()) <= DEFINITION_MAX_WORDS and not re.search(rf"\b({_AUX}|\w+ed)\b", subject.lower()):
            return "definition", re.sub(r"^(the|a|an) ", "", subject, flags=re.I)
    return "factoid", ""


def expected_type(question: str) -> str:
    """The kind of short answer a factoid wants: "time", "number", "name", or "" (anything)."""
    q = question.strip()
    if _TIME_Q.match(q):
        return "time"
    if _NUMBER_Q.match(q):
        return "number"
    if _NAME_Q.match(q):
        return "name"
    return ""


def names_in(question: str) -> list[str]:
    """Specific names as typed: runs of capitalized words (not the question's first word), acronyms, and
    identifiers such as "core.abbrev", "--amend" or "5G"."""
    out, run = [], []
    for i, m in enumerate(re.finditer(r"\S+", question)):
        word = m.group(0).strip("?!.,;:()\"“”‘’'")
        first = i == 0 or word.lower() in _QUESTION_WORDS
        is_name = bool(word) and bool(_NAME_TOKEN.fullmatch(word)) and not (first and word[:1].isupper() and word[1:].islower())
        if is_name and word.lower() not in text.STOPWORDS:
            run.append(text.unpossessive(word))
        else:
            if run:
                out.append(" ".join(run))
            run = []
    if run:
        out.append(" ".join(run))
    return out


def unknown_names(question: str, names: list[str], vocabulary, dictionary: frozenset[str] = frozenset()) -> list[str]:
    """Names no document mentions: the name's head (its last word) occurs nowhere in the corpus. In a question
    typed without capitals, a word that neither the corpus nor the embedding model's dictionary knows, in any
    inflection, counts as a name too (a dictionary word the corpus lacks may be a paraphrase; an unknown one is
    a name)."""
    out = [n for n in names if (parts := text.words(n)) and not vocabulary.knows(parts[-1])
           and not vocabulary.knows("".join(parts))]
    named = {w.lower() for n in names for w in n.split()}
    if dictionary:
        for w in text.words(question):
            w = text.unpossessive(w)
            if (w in named or len(w) < TYPO_MIN_CHARS or not w.isalpha() or w in text.STOPWORDS or vocabulary.knows(w)
                    or vocabulary.knows(vocabulary.correct(w)) or in_dictionary(w, dictionary)):
                continue
            out.append(w)
    return out


def in_dictionary(word: str, dictionary: frozenset[str]) -> bool:
    """The word or an inflection of it ("furthest" ~ "further", "summarize" ~ "summary") is a dictionary word."""
    if word in dictionary:
        return True
    head = word[: max(5, len(word) - 3)]
    return any(d.startswith(head) for d in dictionary)


def is_followup(question: str, history: Sequence[tuple[str, str]], names: list[str]) -> bool:
    """A question continues the conversation when it opens elliptically ("and Ericsson?") or has a third-person
    pronoun that nothing named before it in the question can resolve ("What did he say?"). A standalone
    question after a first turn is left alone."""
    if not history:
        return False
    if _ELLIPSIS.match(question.strip()) and len(question.split()) <= ELLIPSIS_MAX_WORDS:
        return True
    m = _PRONOUN.search(question)
    if not m:
        return False
    before = question[: m.start()]
    return not any(n in before for n in names)


def analyze(question: str, history: Sequence[tuple[str, str]] = (), vocabulary=None,
            dictionary: frozenset[str] = frozenset()) -> Query:
    """Everything the later stages need to know about the question."""
    form, subject = form_of(question)
    names = names_in(question)
    followup = is_followup(question, history, names)
    corrected, notes = question, []
    if vocabulary is not None:
        # a dictionary word is as the user meant it ("wrote" is not a typo of "write"); others may be typos
        typed = set(re.findall(r"\b[a-z][a-z’'-]{3,}\b", question)) - dictionary
        fixed = {w: c for w in typed if (c := vocabulary.correct(w)) != w}

        def respell(s: str) -> str:
            for w, c in fixed.items():
                s = re.sub(rf"\b{re.escape(w)}\b", c, s)
            return s

        corrected, subject = respell(question), respell(subject)
        if fixed:
            notes.append("Read " + ", ".join(f"“{w}” as “{c}”" for w, c in sorted(fixed.items())) + ".")
    search, ask = corrected, corrected
    if followup:
        prev_q, prev_a = history[-1]
        search = f"{prev_q} {corrected}"
        prev_a = "" if prev_a.startswith(CANNOT_ANSWER_PHRASE) else prev_a.split(SHORT_SEPARATOR)[0]
        if prev_a and len(prev_a.split()) <= PRONOUN_ANSWER_MAX_WORDS:
            ask = _PRONOUN.sub(prev_a.rstrip("."), corrected, count=1)
        else:
            prior = names_in(prev_q) or [x for x in [form_of(prev_q)[1]] if x]
            if prior:
                ask = _PRONOUN.sub(prior[0], corrected, count=1)
        if form == "factoid" and subject == "":
            refined = form_of(ask)[0]
            form = refined if refined != "definition" else form
    unknown = unknown_names(corrected, names, vocabulary, dictionary) if vocabulary is not None else []
    asked = ask
    if form == "summary":  # "summarize the op-ed on X": the instruction says how to answer, X what about
        asked = _SUMMARY.sub(" ", re.sub(_DOCUMENT_NOUNS, " ", ask))
    return Query(
        text=question, search=search, ask=ask, form=form,
        expects=expected_type(ask) if form == "factoid" else "",
        terms=frozenset(text.terms(asked)), names=tuple(names),
        unknown=tuple(dict.fromkeys(unknown)), subject=subject, followup=followup, notes=tuple(notes),
    )
