"""Tokenization and keyphrases for Korean and English text.

Korean goes through kiwipiepy's morphological analyser (its model ships on PyPI as
``kiwipiepy_model``): particles and endings are dropped, content morphemes are kept. English
goes through a small regular-expression tokenizer with a stopword list. Keyphrases are surface
forms cut out of the original text (never stems), so they can be pasted into push titles: whole
noun phrases, from kiwipiepy's part-of-speech tags in Korean and from rules over word lists
(``recsys.text_lexicon``) in English; never ending in a particle, an ending, a number without its
unit, a single Latin letter or a dangling modifier (see the comment above ``_Unit``).

Public API::

    detect_language(text) -> "ko" | "en"
    tokenize(text, language=None) -> list[str]
    extract_keyphrases(title, body="", language=None, k=5) -> list[str]
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache

from recsys.text_lexicon import (
    TOKEN_STOP,
    EN_DETERMINERS,
    EN_GENERIC,
    EN_IRREGULAR_PLURALS,
    EN_NO_END,
    EN_NOT_VERB,
    EN_PLURAL_NOUNS,
    EN_STOP,
    EN_TITLE_LABELS,
    EN_VERB_CONTEXT,
    EN_VERB_FORMS,
    KO_DEMONSTRATIVES,
    KO_GENERIC,
    KO_PREDICATE_NOUNS,
    KO_STOP,
    KO_TIME_COUNTERS,
)

__all__ = ["detect_language", "tokenize", "extract_keyphrases", "LANGUAGES"]

LANGUAGES = ("ko", "en")

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LATIN = re.compile(r"[A-Za-z]")
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:['\u2019\-][A-Za-z0-9]+)*|\d+(?:[.,]\d+)*")

# Function words and reporting verbs: never tokens. (Key phrases use the longer lists of
# recsys.text_lexicon; tokens keep this one, which the trained text models were built on.)
_EN_STOP = TOKEN_STOP

# Kiwi tags kept as tokens: nouns, verb/adjective stems, roots, foreign words, hanja, numbers.
_KO_TOKEN_TAGS = frozenset({"NNG", "NNP", "NR", "VV", "VA", "XR", "SL", "SH", "SN"})
_KO_STOP = frozenset({"것", "수", "등", "때", "중", "및", "이", "그", "저", "년", "월", "일", "경우", "위하"})


def detect_language(text: str) -> str:
    """``"ko"`` when Hangul makes up at least a fifth of the letters, else ``"en"``."""
    ko = len(_HANGUL.findall(text))
    en = len(_LATIN.findall(text))
    return "ko" if ko and ko >= 0.2 * (ko + en) else "en"


_kiwi_lock = threading.Lock()


@lru_cache(maxsize=1)
def _kiwi():
    from kiwipiepy import Kiwi  # imported lazily: loading the model takes a second or two

    return Kiwi(num_workers=1)


@dataclass(frozen=True)
class _Morph:
    form: str
    tag: str
    start: int
    end: int


def _analyse_ko(text: str) -> list[_Morph]:
    kiwi = _kiwi()
    with _kiwi_lock:
        tokens = kiwi.tokenize(text)
    return [_Morph(t.form, t.tag.split("-")[0], t.start, t.start + t.len) for t in tokens]


def _check_language(language: str | None, text: str) -> str:
    if language is None:
        return detect_language(text)
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES} or None, got {language!r}")
    return language


def tokenize(text: str, language: str | None = None) -> list[str]:
    """Content tokens of ``text``, lower-cased; the language is detected when None.

    Korean: kiwipiepy morphemes (nouns, verb and adjective stems, roots, foreign words),
    particles and endings dropped. English: words without stopwords or possessive ``'s``.
    """
    if not text or not text.strip():
        return []
    language = _check_language(language, text)
    if language == "ko":
        out = []
        for m in _analyse_ko(text):
            if m.tag not in _KO_TOKEN_TAGS or m.form in _KO_STOP:
                continue
            form = m.form.lower()
            if m.tag == "SL" and (len(form) < 2 or form in _EN_STOP):
                continue
            out.append(form)
        return out
    return [w for w, _, _ in _en_words(text) if w not in _EN_STOP and len(w) > 1]


def _en_words(text: str):
    """(lower-cased word, start, end) of every English word, possessive 's stripped."""
    for m in _EN_WORD.finditer(text):
        word, end = m.group(0), m.end()
        low = word.lower().replace("\u2019", "'")
        if low.endswith("'s"):
            low, end = low[:-2], end - 2
        yield low, m.start(), end


# ---------------------------------------------------------------------------------- keyphrases
#
# A key phrase is a span of the original text made of consecutive *units*: the nominal part of a
# Korean eojeol (the space-separated word without its particles and endings) or an English content
# word. Units form *runs*; a particle, an ending, a verb, a stop word, punctuation or a line break
# ends a run. The candidates are the spans of a run that open and close on units allowed there
# (no phrase opens with a number or closes with a modifier); they are cut out of the text with its
# own spacing, scored, and the best ones that do not repeat each other are returned.

_MAX_UNITS = 4  # longest candidate, in units (eojeols / words)
_TITLE_WEIGHT = 3  # a word in the title counts as much as three in the body
_TITLE_BONUS = 2.0  # a phrase that occurs in the title
_LENGTH_EXPONENT = 0.5  # a phrase scores the salience of its units over len ** this
_GENERIC_FACTOR = 0.5  # a phrase that is only a generic news actor (정부, police)


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    words: tuple[str, ...]  # salience keys (content morphemes / words, lower-cased)
    first: bool = True  # may open a phrase
    last: bool = True  # may close a phrase
    tail: int = -1  # where the phrase ends when this unit closes it (a possessive's 's cut off)
    kind: str = "noun"  # "noun" | "qty" (a number with its unit) | "num" | "pred" | "mod" | "join" | "poss"
    adverbial: bool = False  # Korean: followed by an adverbial particle (서울에서, 서울서)
    key: str = ""  # English: the word as keys spell it (stemmed, lower-cased; "of" for a joiner)

    @property
    def close(self) -> int:
        return self.end if self.tail < 0 else self.tail


@dataclass(frozen=True)
class _Candidate:
    surface: str
    key: str  # identity: spacing-free for Korean, stemmed words for English
    units: tuple[_Unit, ...]


def _can_end(run: list[_Unit], j: int, language: str) -> bool:
    """Whether a phrase may end before ``run[j]``: at the head of the run (its last unit that may
    close a phrase: noun phrases are head-final in both languages), at an English possessor, or
    before a Korean adverbial noun. So a modifier is never left without its noun (서울 영하 | 15도,
    benchmark interest | rate)."""
    if j == len(run) or run[j - 1].kind == "poss" or not any(u.last for u in run[j:]):
        return True
    if language == "ko" and j > 0 and run[j].kind == "noun" and run[j - 1].last:
        # In a headline a noun just before the predicate, or marked as a place or time, is often
        # an adverbial, not the head: 개정안 | 국회 통과, 월드투어 | 서울서. Both readings count.
        rest = run[j + 1 :]
        return all(u.kind == "pred" for u in rest) and (bool(rest) or run[j].adverbial)
    return False


def _spans(text: str, runs: list[list[_Unit]], key, language: str) -> list[_Candidate]:
    out = []
    for run in runs:
        for i, first in enumerate(run):
            if not first.first:
                continue
            for j in range(i + 1, min(len(run), i + _MAX_UNITS) + 1):
                units = tuple(run[i:j])
                if not units[-1].last or not any(u.words for u in units) or not _can_end(run, j, language):
                    continue
                surface = text[first.start : units[-1].close]
                out.append(_Candidate(surface, key(surface, units), units))
    return out


# ------------------------------------------------------------------------------------ Korean

_KO_NOMINAL = frozenset({"NNG", "NNP", "NR", "SN", "NNB", "SL", "SH"})
_KO_NOUN = frozenset({"NNG", "NNP", "SL", "SH"})
_KO_NUMBER = frozenset({"SN", "NR"})
_KO_JOINERS = frozenset("·‧・ㆍ-‐")  # glued between two nominal morphemes: 원·달러, K-푸드, D-100
_KO_PREDICATIVE = frozenset({"XSV", "XSA", "VCP"})
_KO_CONTRACTED_PARTICLES = frozenset({"서"})


def _ko_unit_sign(form: str) -> bool:
    return form in ("%", "%p", "‰", "℃", "℉", "°") or all("\u3380" <= c <= "\u33ff" for c in form)


def _ko_is_separator(morphs: list[_Morph], i: int) -> bool:
    """Punctuation that splits an eojeol; a joiner or a unit sign glued to its neighbours is not."""
    m = morphs[i]
    if m.tag.startswith("W_"):
        return True
    if not m.tag.startswith("S") or m.tag in ("SN", "SL", "SH"):
        return False
    prev = morphs[i - 1] if i else None
    nxt = morphs[i + 1] if i + 1 < len(morphs) else None
    glued_prev = prev is not None and prev.end >= m.start and prev.tag in _KO_NOMINAL
    glued_next = nxt is not None and nxt.start <= m.end and nxt.tag in _KO_NOMINAL
    if m.form in _KO_JOINERS and glued_prev and glued_next:
        return False
    if m.tag == "SW" and glued_prev and prev.tag == "SN" and _ko_unit_sign(m.form):
        return False
    return True


def _ko_groups(text: str, morphs: list[_Morph]) -> list[tuple[list[_Morph], bool]]:
    """Eojeols, split further at punctuation: (morphemes, a hard break before it)."""
    groups: list[tuple[list[_Morph], bool]] = []
    cur: list[_Morph] = []
    hard = True
    for i, m in enumerate(morphs):
        if i and m.start > morphs[i - 1].end:  # a gap: the eojeol ends
            gap = text[morphs[i - 1].end : m.start]
            if cur:
                groups.append((cur, hard))
                cur, hard = [], False
            hard = hard or "\n" in gap or bool(gap.strip())
        if _ko_is_separator(morphs, i):
            if cur:
                groups.append((cur, hard))
                cur = []
            hard = True
            continue
        cur.append(m)
    if cur:
        groups.append((cur, hard))
    return groups


def _ko_nominal_part(ms: list[_Morph]) -> list[_Morph]:
    """The longest start of an eojeol that reads as a noun phrase: nouns, numbers, counters, foreign
    words, hanja, suffixes after a noun, prefixes before one, joiners and unit signs between."""
    parts: list[_Morph] = []
    for i, m in enumerate(ms):
        nxt = ms[i + 1] if i + 1 < len(ms) else None
        if m.tag in _KO_NOMINAL or (m.tag == "XSN" and parts):
            parts.append(m)
        elif m.tag == "XPN" and nxt is not None and nxt.tag in _KO_NOMINAL:
            parts.append(m)
        elif m.tag == "MM" and not parts and nxt is not None and nxt.tag in _KO_NOUN:
            parts.append(m)  # a prefix kiwi tags as a determiner, glued to its noun: 온열, 고대역폭
        elif m.tag.startswith("S") and parts:  # a joiner or a unit sign the grouping kept
            parts.append(m)
        else:
            break
    while parts and parts[-1].tag in ("SP", "SO", "XPN", "MM"):
        parts.pop()
    if len(parts) > 1 and parts[-1].form in _KO_CONTRACTED_PARTICLES and parts[-1].tag == "NNG" \
            and parts[-2].tag in ("NNP", "NNG"):
        parts.pop()  # headline style 서울서 (= 서울에서): kiwi reads the particle as a noun
    return parts


def _ko_items(text: str, morphs: list[_Morph], predicates: set[str]) -> list[tuple[str, _Unit | None, bool, bool]]:
    """(kind, unit, closes the run, hard break before) for every eojeol of ``text``."""
    items = []
    for ms, hard in _ko_groups(text, morphs):
        parts = _ko_nominal_part(ms)
        rest = ms[len(parts) :]
        closes = bool(rest)
        if parts and rest and rest[0].start < parts[-1].end:
            parts = []  # the next morpheme shares the noun's last syllable (르+ᆯ = 를): no cut there
        if not parts:
            if len(ms) == 1 and ms[0].tag == "MM" and ms[0].form not in KO_DEMONSTRATIVES:
                items.append(("mod", _Unit(ms[0].start, ms[0].end, (), last=False, kind="mod"), False, hard))
            else:
                items.append(("break", None, True, hard))
            continue
        start, end = parts[0].start, parts[-1].end
        surface = text[start:end]
        tags = [p.tag for p in parts]
        if tags[0] in _KO_NUMBER:
            k = next((i for i, t in enumerate(tags) if t not in _KO_NUMBER and t not in ("SP", "SO")), len(tags))
            counter = parts[k] if k < len(parts) else None
            if counter is None or (counter.tag == "XSN" and k == len(parts) - 1):
                items.append(("numeral", _Unit(start, end, (), first=False), closes, hard))
                continue
            if not (counter.tag == "SL" and counter.form.isupper()):  # 5G, 3D are names
                kind = "time" if counter.form in KO_TIME_COUNTERS else "qty"
                items.append((kind, _Unit(start, end, (), first=False, kind="qty"), closes, hard))
                continue
        elif tags[0] == "NNB" and not any(t in _KO_NOUN for t in tags[1:]):
            items.append(("counter", _Unit(start, end, (), first=False), closes, hard))
            continue
        if surface in KO_STOP or (len(parts) == 1 and tags[0] == "SL" and len(surface) < 2):
            items.append(("break", None, True, hard))
            continue
        words = tuple(p.form.lower() for p in parts if p.tag in _KO_NOUN)
        if not words:
            items.append(("break", None, True, hard))
            continue
        predicate = bool(rest) and rest[0].tag in _KO_PREDICATIVE
        if predicate or (len(parts) == 1 and tags[0] == "NNG" and surface in predicates):
            items.append(("pred", _Unit(start, end, words, first=False, last=False, kind="pred"), closes, hard))
            continue
        modifier = parts[-1].tag == "XSN" and parts[-1].form == "적"  # 경제적: only before a noun
        adverbial = bool(rest) and (rest[0].tag == "JKB" or rest[0].form in _KO_CONTRACTED_PARTICLES)
        items.append(("noun", _Unit(start, end, words, last=not modifier, adverbial=adverbial), closes, hard))
    return items


def _ko_runs(text: str, morphs: list[_Morph], predicates: set[str]) -> list[list[_Unit]]:
    items = _ko_items(text, morphs, predicates)
    # A number and its counter in the next eojeol are one quantity: 728조 원, 1,000만 명.
    merged: list[tuple[str, _Unit | None, bool, bool]] = []
    for kind, unit, closes, hard in items:
        if merged and not hard and merged[-1][0] == "numeral" and not merged[-1][2] and kind in ("counter", "numeral"):
            prev = merged[-1][1]
            joined = _Unit(prev.start, unit.end, (), first=False, kind="qty")
            counter = text[unit.start : unit.end]
            new_kind = "numeral" if kind == "numeral" else ("time" if counter in KO_TIME_COUNTERS else "qty")
            merged[-1] = (new_kind, joined, closes, merged[-1][3])
            continue
        merged.append((kind, unit, closes, hard))
    runs: list[list[_Unit]] = []
    cur: list[_Unit] = []
    for i, (kind, unit, closes, hard) in enumerate(merged):
        if hard and cur:
            runs.append(cur)
            cur = []
        nxt = merged[i + 1] if i + 1 < len(merged) else None
        if kind == "mod" and (nxt is None or nxt[0] != "noun" or nxt[3]):
            kind = "break"  # a determiner of a number (만 8세) or of nothing
        if kind in ("break", "time", "numeral", "counter"):  # a number without its unit breaks too
            if cur:
                runs.append(cur)
                cur = []
            continue
        cur.append(unit)
        if closes:
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return runs


def _ko_predicates(analyses: list[list[_Morph]]) -> set[str]:
    """Nouns used as verbs somewhere in the texts (동결했다, 인상한다) plus the headline ones."""
    out = set(KO_PREDICATE_NOUNS)
    for morphs in analyses:
        for a, b in zip(morphs, morphs[1:]):
            if a.tag == "NNG" and b.tag in ("XSV", "XSA") and b.start <= a.end:
                out.add(a.form)
    return out


def _ko_key(surface: str, units) -> str:
    return "".join(surface.split()).lower()


# ------------------------------------------------------------------------------------ English

_EN_TOKEN = re.compile(
    r"(?P<abbr>(?:[A-Z]\.){2,})"
    r"|(?P<num>[$€£¥₩]?\d+(?:[.,]\d+)*(?:%|(?:st|nd|rd|th)\b)?)"
    r"|(?P<word>[A-Za-z][A-Za-z0-9]*(?:[-'’&][A-Za-z0-9]+)*['’]?)"
    r"|(?P<punct>\S)"
)
_EN_TITLE_LABEL = re.compile(r"^\s*([A-Za-z]+(?: [A-Za-z]+)?)\s*[:|]\s+")
_EN_ING_ED = re.compile(r"^[a-z]{2,}(?:ing|ed)$")
# Lower-case words with an adjective's ending; before "and"/"or" they wait for the noun they share.
_EN_ADJECTIVE = re.compile(r"^[a-z]+(?:al|ic|ical|ous|ive|ful|less|able|ible|ary|ern|ese|ish)$")


@dataclass(frozen=True)
class _Token:
    kind: str  # "abbr" | "num" | "word" | "punct"
    text: str
    start: int
    end: int
    bare: str  # lower-cased, possessive or closing quote cut off
    bare_end: int
    possessive: bool


def _en_tokens(text: str) -> list[_Token]:
    out = []
    for m in _EN_TOKEN.finditer(text):
        kind = m.lastgroup
        tok, start, end = m.group(0), m.start(), m.end()
        bare, bare_end, possessive = tok, end, False
        if kind == "word":
            if tok.endswith(("'s", "’s")) and len(tok) > 2:
                bare, bare_end, possessive = tok[:-2], end - 2, True
            elif tok[-1] in "'’":
                bare, bare_end = tok[:-1], end - 1
                possessive = bare.lower().endswith("s")
        out.append(_Token(kind, tok, start, end, bare.lower(), bare_end, possessive))
    return out


_EN_PRONOUNS = frozenset("i you he she it we they who which that there".split())
_EN_MODALS = frozenset("to will would can could may might must should shall".split())


def _en_plural(word: str) -> bool:
    return word in EN_IRREGULAR_PLURALS or (
        len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")))


@lru_cache(maxsize=4096)
def _en_stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if _en_plural(word) and word not in EN_IRREGULAR_PLURALS else word


def _en_verb(tok: _Token, prev: _Token | None, prev_unit: _Unit | None, title_case: bool,
             nxt: _Token | None, noun_follows: bool = True) -> bool:
    """Whether ``tok`` reads as the verb of its clause (a cheap stand-in for a tagger)."""
    word = tok.text
    if not word.islower() and not (title_case and prev is not None and word[:1].isupper() and not word.isupper()):
        return False  # a name or an acronym
    low = tok.bare
    if prev is not None and prev.bare in _EN_MODALS:
        return True  # "to hear", "will carry": whatever the word, a verb
    if nxt is not None and nxt.bare in EN_VERB_CONTEXT and nxt.bare != "to":
        return False  # the subject's noun before its auxiliary: "security forces have", "talks were"
    form = EN_VERB_FORMS.get(low)
    if form is None and "-" not in low and low not in EN_NOT_VERB and _EN_ING_ED.match(low):
        form = "ing" if low.endswith("ing") else "ed"
    if form is None or prev is None:
        return False
    p = prev.bare
    if prev.kind == "num" or p in EN_DETERMINERS or prev.possessive:
        return False  # "the cut", "3 cuts", "Apple's plans"
    if p in EN_VERB_CONTEXT:
        return True  # "has eased", "is recalling"
    if prev_unit is None:  # opens a run, after a stop word or a verb: a modifier or a noun ...
        if p in _EN_PRONOUNS:
            return True  # ... but after a pronoun a verb: "it runs"
        if prev.kind == "punct" and prev.text == ",":
            return True  # ", citing inflation"; "adds 9 million subscribers, beats forecasts"
        if form in ("ing", "ed") and not noun_follows:
            return True  # a modifier needs its noun: "kept growing", "than expected."
        return form in ("s", "ed") and p in ("and", "but", "or")
    if form in ("ed", "ing"):
        return True  # "Fed raised", "prices falling"
    proper = not prev.text.islower()
    if form == "s":
        if proper:
            return True  # "Fed holds", "NASA delays"
        if low in EN_PLURAL_NOUNS:
            return False  # "climate talks", "premium plans"
        return not _en_plural(p)  # "outbreak spreads" (a plural before it: "rate cuts")
    return proper or _en_plural(p)  # base form: "prices jump", "United sack"; "rate cut" is a noun


def _en_joins(prev: _Token | None, prev_unit: _Unit | None, nxt: _Token | None, title_case: bool) -> bool:
    """Whether "of" or "&" stands between two parts of one name: Bank of Japan, Johnson & Johnson."""
    return (prev_unit is not None and prev is not None and prev.text[:1].isupper() and not title_case
            and nxt is not None and nxt.kind in ("word", "abbr") and nxt.text[:1].isupper()
            and nxt.bare not in EN_STOP)


def _en_title_case(tokens: list[_Token]) -> bool:
    words = [t.text for t in tokens if t.kind == "word" and len(t.bare) > 3 and t.bare not in EN_STOP]
    return len(words) >= 3 and sum(w[:1].isupper() for w in words) >= 0.8 * len(words)


def _en_runs(text: str, is_title: bool = False) -> list[list[_Unit]]:
    if is_title:
        label = _EN_TITLE_LABEL.match(text)
        if label and label.group(1).lower().split()[0] in EN_TITLE_LABELS:
            text = " " * label.end() + text[label.end() :]
    tokens = _en_tokens(text)
    title_case = is_title and _en_title_case(tokens)
    runs: list[list[_Unit]] = []
    cur: list[_Unit] = []
    prev: _Token | None = None

    def flush():
        nonlocal cur
        while cur and not cur[-1].words:  # a trailing joiner ("of")
            cur.pop()
        if cur:
            runs.append(cur)
        cur = []

    for i, tok in enumerate(tokens):
        gap = text[prev.end : tok.start] if prev is not None else ""
        if "\n" in gap:
            flush()
            prev = None
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        unit = None
        prev_unit = cur[-1] if cur and prev is not None and cur[-1].end >= prev.start else None
        if tok.kind == "punct":
            if tok.text == "&" and _en_joins(prev, prev_unit, nxt, title_case):
                cur.append(_Unit(tok.start, tok.end, (), first=False, last=False, kind="join"))  # A & B
            else:
                flush()
            prev = tok
            continue
        if tok.kind == "abbr":
            unit = _Unit(tok.start, tok.end, (tok.bare,), key=_en_stem(tok.bare))
        elif tok.kind == "num":
            plain = tok.text.isdigit()
            if plain and prev_unit is not None and not prev.text.islower() and gap == " ":
                unit = _Unit(tok.start, tok.end, (tok.text,), first=False, kind="num", key=tok.text)  # Boeing 737
        else:
            low = tok.bare
            if low == "of" and _en_joins(prev, prev_unit, nxt, title_case):
                unit = _Unit(tok.start, tok.end, (), first=False, last=False, kind="join", key="of")  # Bank of Japan
            elif low in EN_STOP or ("'" in low or "’" in low) or len(low) == 1:
                unit = None
            elif low.endswith("ly") and len(low) > 4 and tok.text.islower() and low not in EN_NOT_VERB:
                unit = None  # an adverb
            elif _en_verb(tok, prev, prev_unit, title_case, nxt, noun_follows=nxt is not None and nxt.kind != "punct"
                          and nxt.bare not in EN_STOP and text[tok.end : nxt.start].strip() == ""):
                unit = None
            else:
                stem = _en_stem(low)
                unit = _Unit(tok.start, tok.end, (stem,), last=low not in EN_NO_END,
                             tail=tok.bare_end if tok.bare_end != tok.end else -1,
                             kind="poss" if tok.possessive else "noun", key=stem)
        if unit is None:
            if tok.bare in ("and", "or") and cur and _EN_ADJECTIVE.search(text[cur[-1].start : cur[-1].end]):
                cur[-1] = replace(cur[-1], last=False)  # "political [and] economic crisis": no noun yet
            flush()
        else:
            cur.append(unit)
        prev = tok
    flush()
    return runs


def _en_key(surface: str, units) -> str:
    return " ".join(u.key for u in units if u.key)


# ------------------------------------------------------------------------------------ scoring


def _contains(a: str, b: str, language: str) -> bool:
    """Whether key ``a`` contains key ``b`` (as characters for Korean, as words for English)."""
    return b in a if language == "ko" else f" {b} " in f" {a} "


def _title_text(title: str, language: str) -> str:
    """The title in the form keys take, to test whether a phrase occurs in it."""
    if language == "ko":
        return "".join(c for c in title.lower() if c.isalnum())
    return " " + " ".join(_en_stem(t.bare) for t in _en_tokens(title) if t.kind != "punct") + " "


def _in_title(key: str, title_text: str, language: str) -> bool:
    if language == "ko":
        return "".join(c for c in key if c.isalnum()) in title_text
    return f" {key} " in title_text


def extract_keyphrases(title: str, body: str = "", language: str | None = None, k: int = 5) -> list[str]:
    """Up to ``k`` salient noun phrases, most salient first, cut out of the text as written.

    A candidate is a span of a run of noun-phrase units (see the comment above ``_Unit``). A content
    word weighs its frequency (title occurrences counted three times, predicates not counted); a
    phrase weighs the sum of its words over the square root of its length in units; a phrase of
    several units is multiplied by the square root of the number of places it occurs, a phrase
    that is only a generic news actor (정부, officials) halved; doubled when it occurs in the title.
    Ties go to the phrase that comes first. Phrases that repeat a better one (one contains the
    other) are dropped.
    """
    if k <= 0:
        return []
    text = f"{title}\n{body}" if body else title
    if not text.strip():
        return []
    language = _check_language(language, text)
    if language == "ko":
        title_m = _analyse_ko(title) if title.strip() else []
        body_m = _analyse_ko(body) if body.strip() else []
        predicates = _ko_predicates([title_m, body_m])
        title_runs = _ko_runs(title, title_m, predicates)
        body_runs = _ko_runs(body, body_m, predicates)
        key, generic = _ko_key, KO_GENERIC
    else:
        title_runs = _en_runs(title, is_title=True) if title else []
        body_runs = _en_runs(body) if body else []
        key, generic = _en_key, EN_GENERIC
    freq: Counter = Counter()
    for weight, runs in ((_TITLE_WEIGHT, title_runs), (1, body_runs)):
        for run in runs:
            for unit in run:
                if unit.kind != "pred":
                    for w in unit.words:
                        freq[w] += weight
    candidates = [(0, c) for c in _spans(title, title_runs, key, language)]
    candidates += [(1, c) for c in _spans(body, body_runs, key, language)]
    places = Counter(c.key for _, c in candidates)
    title_text = _title_text(title, language)
    best: dict[str, tuple[tuple[float, int, int], str]] = {}
    for where, c in candidates:
        salience = sum(freq[w] for u in c.units if u.kind != "pred" for w in u.words)
        score = salience / len(c.units) ** _LENGTH_EXPONENT
        if len(c.units) > 1:
            score *= places[c.key] ** 0.5  # words the text keeps together
        elif c.key in generic:
            score *= _GENERIC_FACTOR
        if _in_title(c.key, title_text, language):
            score *= _TITLE_BONUS
        rank = (-score, where, c.units[0].start)  # ties: the title first, then the earlier place
        if c.key not in best or rank < best[c.key][0]:
            best[c.key] = (rank, c.surface)
    chosen: list[tuple[str, str]] = []
    for ckey, (_, surface) in sorted(best.items(), key=lambda kv: kv[1]):
        if any(_contains(ckey, c, language) or _contains(c, ckey, language) for c, _ in chosen):
            continue
        chosen.append((ckey, surface))
        if len(chosen) == k:
            break
    return [surface for _, surface in chosen]
