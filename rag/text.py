"""Words: the one tokenizer, stemmer and stopword list that every stage shares.

BM25 (retrieve.py), question analysis (query.py), evidence selection (select.py) and answer composition
(compose.py) all see the same terms, so "threatened" in a question meets "threaten" in a passage everywhere
or nowhere.
"""

from __future__ import annotations

import difflib
import math
import re
from collections import Counter
from functools import lru_cache

def _stopwords() -> frozenset[str]:
    """NLTK's English list (as bm25s ships it), a few modal and light verbs, and the same without apostrophes as
    people type them ("isnt")."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    ours = "would could may might must shall also within without whose many much get got make made done".split()
    base = set(STOPWORDS_EN_PLUS) | set(ours)
    return frozenset(base | {w.replace("'", "") for w in base})


STOPWORDS = _stopwords()
WORD = re.compile(r"[\w’'-]+", re.UNICODE)
_POSSESSIVE = re.compile(r"[’']s$")


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer

        return Stemmer.Stemmer("english").stemWord
    except ImportError:  # stemming helps ("threatened" ~ "threaten") but is optional
        return lambda w: w.rstrip("s")


def stem(word: str) -> str:
    return _stemmer()(word)


def unpossessive(word: str) -> str:
    """The word without its possessive ending ("Huawei’s" -> "Huawei")."""
    return _POSSESSIVE.sub("", word)


def words(text: str) -> list[str]:
    """Lower-cased words, in order, with their possessive kept ("huawei’s")."""
    return [w.strip("’'-").lower() for w in WORD.findall(text) if w.strip("’'-")]


def tokens(text: str) -> list[str]:
    """Stemmed content words in order, repeats kept (what BM25 counts); possessives folded, hyphenated words
    also split ("Huawei’s" -> "huawei"; "low-cost" -> "low-cost", "low", "cost")."""
    out = []
    for w in words(text):
        w = unpossessive(w)
        for part in (w, *w.split("-")) if "-" in w else (w,):
            if part and part not in STOPWORDS:
                out.append(stem(part))
    return out


def terms(text: str) -> set[str]:
    """The set of stemmed content words of a text."""
    return set(tokens(text))


def covered(term: str, among: set[str]) -> bool:
    """The term, or a longer or shorter form of it (a derivation the stemmer does not fold), is among the terms."""
    if term in among:
        return True
    return len(term) >= 4 and any(len(t) >= 4 and (t.startswith(term) or term.startswith(t)) for t in among)


_CAPITALISED_RUN = re.compile(r"[A-Z][\w'’-]*(?:\s+(?:(?:of|the|and|for|de|du|la|&)\s+)*[A-Z][\w'’-]*)+")
_MINOR = {"of", "the", "and", "for", "de", "du", "la", "&"}


def acronyms(text: str, longest: int = 6) -> set[str]:
    """The acronyms a text spells out: the initials of each run of capitalised words ("European Space Agency":
    ESA, and its parts ES, SA), so that "the ESA study" is found in a text that never abbreviates it."""
    found = set()
    for run in _CAPITALISED_RUN.finditer(text):
        initials = "".join(w[0] for w in run.group(0).split() if w.lower() not in _MINOR).upper()
        for i in range(len(initials)):
            for j in range(i + 2, min(len(initials), i + longest) + 1):
                found.add(initials[i:j])
    return found


def coverage(asked: set[str], found: set[str], weight=None) -> float:
    """idf-weighted share of the asked terms that the found terms cover (1.0 when nothing is asked)."""
    if not asked:
        return 1.0
    weight = weight or (lambda term: 1.0)
    total = sum(weight(t) for t in asked) or 1.0
    return sum(weight(t) for t in asked if covered(t, found)) / total


def support(answer: str, evidence: str) -> float:
    """Share of the answer's content terms that occur in the evidence (1.0 = every one)."""
    asked = terms(answer)
    if not asked:
        return 0.0
    return len(asked & terms(evidence)) / len(asked)


class Vocabulary:
    """What the indexed corpus says: document frequency of each term (idf weights: rare words say more) and
    its surface words (to tell a typo from a word no document uses)."""

    COMMON = 0.25  # a term in more than this share of passages is "everywhere"

    def __init__(self, texts: list[str]):
        df: Counter = Counter()
        surface: set[str] = set()
        for t in texts:
            df.update(terms(t))
            surface.update(unpossessive(w) for w in words(t))
        self.n = len(texts)
        self.df = df
        self.surface = surface
        # a word no document uses tells nothing about which passage answers: it weighs like a typical word
        # (not like the rarest, which would let any paraphrase sink the evidence)
        idfs = sorted(math.log((self.n + 1) / (d + 0.5)) for d in df.values())
        self.unseen_weight = idfs[len(idfs) // 2] if idfs else 1.0
        self._by_length: dict[int, list[str]] = {}
        for w in surface:
            self._by_length.setdefault(len(w), []).append(w)

    def __call__(self, term: str) -> float:
        d = self.df.get(term, 0)
        return math.log((self.n + 1) / (d + 0.5)) if d else self.unseen_weight

    def knows(self, word: str, loose: bool = True) -> bool:
        """The corpus uses this word, a word of the same stem, or (loose) a word sharing all but its last three
        letters, at least five: an inflection or derivation the stemmer does not fold."""
        w = unpossessive(word.lower())
        if w in self.surface or stem(w) in self.df:
            return True
        if len(w) < 6 or not loose:
            return False
        head = w[: max(5, len(w) - 3)]
        return any(x.startswith(head) for k in range(len(w) - 3, len(w) + 4) for x in self._by_length.get(k, ()))

    def is_common(self, term: str) -> bool:
        return self.df.get(term, 0) > self.COMMON * self.n

    def correct(self, word: str) -> str:
        """A word the corpus does not use, spelled as the one corpus word it most likely meant ("zhengfie" ->
        "zhengfei"), or unchanged. Only words of five letters or more, one edit away (two for nine or more)."""
        w = word.lower()
        if len(w) < 5 or self.knows(w, loose=False) or not w.isalpha():
            return word
        cutoff = 1 - (2.2 if len(w) >= 9 else 1.2) / len(w)
        pool = [x for n in range(len(w) - 2, len(w) + 3) for x in self._by_length.get(n, ())]
        close = difflib.get_close_matches(w, pool, n=2, cutoff=cutoff)
        if not close or (len(close) > 1 and difflib.SequenceMatcher(None, w, close[1]).ratio()
                         == difflib.SequenceMatcher(None, w, close[0]).ratio()):
            return word  # no single likely word: leave it as typed
        return close[0]
