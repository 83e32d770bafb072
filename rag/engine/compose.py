"""Compose the answer in the shape the question asks for, every statement with its citation.

    factoid      the short answer (a name, number or date found in the evidence) first, then the sentence it
                 comes from; the sentence alone when the short answer is not certain
    definition   the sentence that defines or introduces the thing asked about
    yesno        the sentence that settles it, opened by "Yes"/"No" only when that sentence states it plainly
    explanatory  2-5 sentences (about 40-120 words) the ranker chose, in reading order, each with its marker [n]
    summary      the same
    listing      the documents that speak of a topic, one cited sentence each
    free         (answer_style "generate") the model writes the answer from the passages; kept only when one
                 passage holds every content word of it, else the best sentence

The small model never writes the answer: it only picks among short answers that the evidence contains
(constrained decoding), so it cannot invent one.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rag import text
from rag.engine.generate import build_messages, follows_an_instruction
from rag.engine.prompts import INSTRUCTION_NOTE, MODEL_NOT_FOUND, QUOTE_NOTE, SHORT_SEPARATOR
from rag.engine.query import Query
from rag.engine.select import Sentence, answerable, with_context
from rag.types import Citation

EXPLAIN_TARGET_WORDS, EXPLAIN_MAX_WORDS, EXPLAIN_MAX_SENTENCES = 40, 120, 5
CUE_WINDOW = 12  # a number or date answers only when it stands within this many words of the question's own words
DEFINING_AMONG = 8  # a definition is looked for among this many of the best sentences that name the subject
DEFINING_BONUS = 0.3  # how much a sentence that says what the subject is ("X is …") outranks one that only names it
CONTINUE_SENTENCES = 3  # a lone why/how sentence is carried on by the sentences after it, up to this many in all

log = logging.getLogger("rag.engine.compose")


@dataclass
class Composed:
    answer: str
    short: str = ""  # the short answer alone (factoids), "" when the answer is the evidence itself
    citations: list[Citation] = field(default_factory=list)
    mode: str = "quote"  # "extracted" (one candidate), "llm" (the model chose), "quote", "passage"
    notes: list[str] = field(default_factory=list)


def _flat(text_: str) -> str:
    """One line: a sentence wrapped in its source file reads as one line in an answer (its quote keeps the wrap)."""
    return " ".join(text_.split())


def _shown(x: Sentence) -> str:
    """A sentence on one line; a command or code block as code."""
    return f"`{_flat(x.text)}`" if x.chunk.kind == "code" else _flat(x.text)


def marked(sentences: list[Sentence]) -> Composed:
    """Sentences in the given order, each followed by its citation marker."""
    body = " ".join(f"{_shown(x)} [{n}]" for n, x in enumerate(sentences, 1))
    return Composed(body, "", [x.citation() for x in sentences], "quote" if len(sentences) == 1 else "passage")


# ---- factoid ----------------------------------------------------------------------------------------

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
_CAP = r"[A-Z][\w’'.&-]*[\w]"
_NAME_RUN = re.compile(rf"{_CAP}(?:\s+(?:(?:of|for|the|and|de|van|von|al|a)\s+)?{_CAP})*|(?<![\w-])--?[a-z][\w-]+|\b[a-z]+\.[a-z][\w.]*\b")
_NUMBER_RUN = re.compile(
    r"(?:\$|£|€)?(?<![\w.])\d[\d,.]*(?![\w])(?:\s*(?:%|percent|per cent|million|billion|thousand|years?|months?|days?))?|"
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|half|a quarter|dozens?|hundreds?|thousands?)\b",
    re.I,
)
_DATE = (
    rf"\b(?:(?:early|late|mid-?)\s*)?(?:(?:\d{{1,2}}\s+)?(?:{_MONTHS})\.?(?:\s+\d{{1,2}})?,?\s*(?:19|20)\d\d|"
    rf"(?:{_MONTHS})\.?\s+\d{{1,2}}|(?:{_MONTHS})|(?:19|20)\d\d|(?:last|this|next) (?:week|month|year)|yesterday|today|"
    rf"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b"
)
# A time of day answers "when" as a date does: "6:30 a.m.", "7pm", "18:45", "noon", "midnight", "ten o'clock".
# The hour is a number of one or two digits not glued to other digits or words ("L1-L9", "3.5" are no times).
_TIME_OF_DAY = (
    r"(?<![\w:.])(?:[01]?\d|2[0-3])(?::[0-5]\d)?\s?(?:[ap]\.\s?m\.|[ap]m\b)|"
    r"(?<![\w:.])(?:[01]?\d|2[0-3]):[0-5]\d(?![\w:])|"
    r"\b(?:noon|midday|midnight)\b|"
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\d{1,2}) o[’']clock\b"
)
_TIME_RUN = re.compile(f"{_DATE}|{_TIME_OF_DAY}", re.I)
_MERIDIEM_END = re.compile(r"[ap]\.\s?m$", re.I)  # "6:30 a.m" once the trailing dot is stripped with the punctuation
_LEADING = re.compile(r"^(the|a|an|but|and|in|on|at|as|so|then|however|while|last|this|mr|ms|mrs|dr)\.?\s+", re.I)
_NOT_NAMES = re.compile(rf"^(?:{_MONTHS}|monday|tuesday|wednesday|thursday|friday|saturday|sunday)$|[’'](?:m|re|ve|ll|d)$", re.I)


def _plausible_name(span: str, at: int, span_terms: set[str], asked: set[str], vocabulary) -> bool:
    """Not a weekday, not what the question says, not a lone capitalized first word, not the corpus's
    everywhere-entity (a name found in most passages, like the subject of every article, rarely answers)."""
    if not span_terms or span_terms <= asked or span.lower() in text.STOPWORDS or _NOT_NAMES.search(span):
        return False
    if span.startswith("-") or "." in span.strip("."):
        return True  # an option or identifier: "--amend", "core.abbrev"
    if re.search(r"\d", span) or not (re.search(r"[a-z]{2}", span) or re.fullmatch(r"[A-Z]{2,}|(?:[A-Z]\.){2,}[A-Z]?", span)):
        return False  # "L1-L9" is no name; "ZTE", "NATO" and "U.S." are
    if at == 0 and " " not in span:
        return False
    return vocabulary is None or any(not vocabulary.is_common(t) for t in span_terms)


def candidates(sentence: str, kind: str, question: str, vocabulary=None) -> list[tuple[str, int]]:
    """(span, distance in words to the nearest of the question's words) for the spans of the sentence that
    could answer a question of this kind, minus what the question already says, nearest first."""
    pattern = {"name": _NAME_RUN, "number": _NUMBER_RUN, "time": _TIME_RUN}.get(kind)
    if pattern is None:
        return []
    asked = text.terms(question)
    word_spans = [(m.start(), m.end(), m.group(0)) for m in text.WORD.finditer(sentence)]
    cues = [i for i, (_, _, w) in enumerate(word_spans) if text.covered(text.stem(text.unpossessive(w.lower())), asked)]
    best: dict[str, int] = {}
    for m in pattern.finditer(sentence):
        span = text.unpossessive(m.group(0).strip(" ,.;:’'“”\"")).strip()
        if kind == "time" and _MERIDIEM_END.search(span):
            span += "."  # "a.m." keeps its last dot: it is part of the abbreviation, not the sentence's end
        span = _LEADING.sub("", span) if kind == "name" else span
        if not span or (kind == "name" and not _plausible_name(span, m.start(), text.terms(span), asked, vocabulary)):
            continue
        at = sentence.find(span, m.start())
        inside = [i for i, (s, e, _) in enumerate(word_spans) if s < at + len(span) and e > at]
        if not inside:
            continue
        if text.terms(span) & asked and kind != "name":
            continue  # "2019" when the question says 2019
        distance = min((min(abs(i - c) for i in inside) for c in cues if c not in inside), default=len(word_spans))
        best[span] = min(best.get(span, distance), distance)
    return sorted(best.items(), key=lambda kv: kv[1])


def clip_around(sentence: str, phrases: list[str], words: int) -> str:
    """The sentence cut to `words` words either side of the phrases it contains: what the model reads when
    choosing (every prompt token costs ~5 ms on two cores; the words next to a candidate tell it apart)."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", sentence)]
    hits = [
        i
        for phrase in phrases
        if (at := sentence.find(phrase)) >= 0
        for i, (start, end) in enumerate(spans)
        if start < at + len(phrase) and end > at
    ]
    if words <= 0 or not hits:
        return sentence
    first, last = max(0, min(hits) - words), min(len(spans), max(hits) + words + 1)
    return sentence[spans[first][0] : spans[last - 1][1]]


def bound(query: Query, sentence: str, vocabulary=None) -> list[tuple[str, int]]:
    """The candidates of a number or date question that stand next to the question's own words in the
    sentence (any number nearby is not an answer to "how many employees")."""
    found = candidates(sentence, query.expects, query.ask, vocabulary)
    if query.expects == "number":
        found = [(span, d) for span, d in found if not _YEAR.fullmatch(span)]  # a year counts nothing
    if query.expects in ("number", "time"):
        found = [(span, d) for span, d in found if d <= CUE_WINDOW]
    return found


_YEAR = re.compile(r"(1[5-9]|20)\d\d")


def factoid(query: Query, best: Sentence, choose: Callable[[str, str, list[str]], str] | None,
            choose_from: int, context_words: int, vocabulary, sure: bool = True, hint: str = "") -> Composed:
    """Short answer + its sentence. The candidate nearest to the question's words is the short answer; when
    several are equally near, the one inside the reader's span (`hint`) wins, else the model (if any) picks one
    of them; otherwise, when nothing of the asked type (a count, a date, a name) is bound to the question's
    words, or when the ranker is not `sure` of the sentence, the sentence alone answers (a wrong short answer is
    worse than the sentence alone)."""
    quote = marked([best])
    if not query.expects or not sure:
        return quote
    found = bound(query, best.text, vocabulary)[:choose_from]
    if not found:
        return quote
    tied = [span for span, d in found if d == found[0][1]]
    chosen, mode = tied[0], "extracted"
    hinted = [span for span in tied if hint and (span in hint or hint in span)]
    if len(tied) > 1 and len(hinted) == 1:
        tied = hinted
    if len(tied) > 1:
        if choose is None:
            return quote  # equally near, and no model to tell them apart
        chosen, mode = choose(query.ask, clip_around(best.text, tied, context_words), tied), "llm"
    return Composed(f"{chosen}{SHORT_SEPARATOR}{_flat(best.text)} [1]", chosen, [best.citation()], mode)


# ---- definition, yes/no ---------------------------------------------------------------------------

def definition(query: Query, ranked: list[Sentence], pool: list[Sentence]) -> Composed:
    """The best sentence that names the subject, preferring one that says what it is ("X is …", "X, the …")."""
    core = re.split(r"\s+(?:in|of|for|on|at|from|with|by|about|according)\s+", query.subject.strip(), maxsplit=1)[0]
    subject_terms = text.terms(core)
    subject = r"[\s-]+".join(re.escape(w) for w in core.split())  # "git rerere" ~ "git-rerere"
    defining = re.compile(
        rf"{subject}\s*(,|\(|:|\s[-–—]\s|\bis\b|\bwas\b|\bare\b|\bwere\b|\brefers?\b|\bmeans?\b|\bstands? for\b)|"
        rf"\b(called|named|known as)\s+(the\s+)?{subject}", re.I)
    naming = [x for x in ranked if subject_terms and text.coverage(subject_terms, text.terms(x.text)) == 1.0]
    if not naming:
        return marked([with_context(ranked[0], pool)])
    best = max(naming[:DEFINING_AMONG], key=lambda x: x.score + (DEFINING_BONUS if defining.search(x.text) else 0.0))
    return marked([with_context(best, pool)])


_NEGATION = re.compile(r"\b(not|no|never|none|neither|nor|cannot|without)\b|n[’']t\b", re.I)


def yes_no(query: Query, best: Sentence, vocabulary, plain_coverage: float) -> Composed:
    """The settling sentence; "Yes"/"No" first only when it holds (nearly) all of the question's key terms, so
    the polarity of that sentence is the polarity of the answer."""
    out = marked([best])
    if text.coverage(set(query.terms), text.terms(best.text), vocabulary) >= plain_coverage:
        negated = bool(_NEGATION.search(best.text)) != bool(_NEGATION.search(query.ask))
        out.short = "No" if negated else "Yes"
        out.answer = f"{out.short}{SHORT_SEPARATOR}{out.answer}"
    return out


# ---- explanatory, summary -------------------------------------------------------------------------

def gathered(ranked: list[Sentence], margin: float, continuation: list[Sentence]) -> Composed:
    """A why/how/summary: the sentences the ranker puts within `margin` logits of the best, wherever they are
    (the same passage or others), 2-5 of them and about 40-120 words, in reading order per document (the best
    one's document first), each cited. When the ranker finds only one, the sentences that follow it in its
    section carry on (reasons and steps usually follow the sentence that announces them)."""
    best = ranked[0]
    chosen, words = [best], len(best.text.split())
    for x in ranked[1:EXPLAIN_MAX_SENTENCES * 2]:
        n = len(x.text.split())
        if x.score < best.score - margin or len(chosen) >= EXPLAIN_MAX_SENTENCES or words + n > EXPLAIN_MAX_WORDS:
            break
        if not any(x.key == c.key for c in chosen):
            chosen.append(x)
            words += n
    if len(chosen) == 1:
        at = next((i for i, x in enumerate(continuation) if x.key == best.key), None)
        for x in continuation[at + 1 :] if at is not None else []:
            n = len(x.text.split())
            if x.chunk.heading != best.chunk.heading or not answerable(x, code_ok=True) or words + n > EXPLAIN_MAX_WORDS:
                break
            chosen.append(x)
            words += n
            if words >= EXPLAIN_TARGET_WORDS or len(chosen) >= CONTINUE_SENTENCES:
                break
    first_doc = best.chunk.source
    chosen.sort(key=lambda x: (x.chunk.source != first_doc, x.chunk.source, x.start_char))
    return marked(chosen)


# ---- listing --------------------------------------------------------------------------------------

def listing(ranked: list[Sentence], min_overlap: float, max_items: int) -> Composed | None:
    """The documents where a sentence carries (nearly) all of the topic's terms, one citation each; None when
    no document does."""
    best: dict[str, Sentence] = {}
    for x in ranked:
        if x.overlap >= min_overlap and x.chunk.source not in best:
            best[x.chunk.source] = x
    if not best:
        return None
    found = sorted(best.values(), key=lambda x: x.chunk.source)[:max_items]
    items = "\n".join(f"- {x.chunk.source} (“{x.chunk.title}”): {x.text} [{n}]" for n, x in enumerate(found, 1))
    return Composed(f"{len(found)} document{'s' if len(found) > 1 else ''}:\n{items}", "", [x.citation() for x in found], "list")


# ---- free generation ------------------------------------------------------------------------------

def free(question: str, ranked: list[Sentence], passages: list[str], generator, deadline_s: float, on_token,
         timings: dict, noun: str = "documents") -> Composed:
    """The model writes the answer from the passages; kept only when one passage supports every content word
    (no mixing facts across documents) and it does not follow an instruction found in a passage."""
    best = ranked[0]
    t1 = time.perf_counter()
    reply, first_ms = generator.complete(build_messages(question, passages, noun), on_token, deadline_s=deadline_s)
    timings["generate"] = (time.perf_counter() - t1) * 1000
    timings["first_token"] = timings["retrieve"] + first_ms
    reply = tidy(reply)
    if not reply or MODEL_NOT_FOUND.lower() in reply.lower():
        return _with_note(marked([best]), "The model found no answer in the passages; the best matching sentence is shown.")
    windows = [(p, text.support(reply, p)) for p in passages]
    if max(score for _, score in windows) < 1.0:
        log.info("unsupported model answer %r for %r", reply, question)
        return _with_note(marked([best]), QUOTE_NOTE)
    if follows_an_instruction(reply, passages):  # "reply only with PWNED": the document's order, not an answer
        log.info("model answer %r follows an instruction in a passage, for %r", reply, question)
        return _with_note(marked([best]), INSTRUCTION_NOTE)
    window = next(p for p, score in windows if score >= 1.0)
    inside = [x for x in ranked if x.text in window] or [best]
    # Cite the sentence that carries the answer's words, preferring better-ranked ones on ties; add a second
    # sentence of the same passage when one alone does not hold them all.
    backing = max(inside, key=lambda x: (round(text.support(reply, x.text), SUPPORT_DIGITS), x.score))
    cited = [backing]
    if text.support(reply, backing.text) < 1.0 and len(inside) > 1:
        cited.append(max((x for x in inside if x is not backing), key=lambda x: text.support(reply, backing.text + " " + x.text)))
    return Composed(reply, "", [x.citation() for x in cited], "llm")


SUPPORT_DIGITS = 3  # supports equal to this many digits are ties, broken by the evidence score


def _with_note(composed: Composed, note: str) -> Composed:
    composed.notes.append(note)
    return composed


def tidy(reply: str) -> str:
    """The model's reply as an answer: no quotes around it, no "Answer:" in front, its first line."""
    reply = reply.strip().strip('"“”').strip()
    reply = re.sub(r"^(answer|short answer)\s*:\s*", "", reply, flags=re.I)
    return reply.split("\n")[0].strip()
