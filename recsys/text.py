"""Tokenization and keyphrases for Korean and English text.

Korean goes through kiwipiepy's morphological analyser (its model ships on PyPI as
``kiwipiepy_model``): particles and endings are dropped, content morphemes are kept. English
goes through a small regular-expression tokenizer with a stopword list. Keyphrases are surface
forms cut out of the original text (never stems), so they can be pasted into push titles.

Public API::

    detect_language(text) -> "ko" | "en"
    tokenize(text, language=None) -> list[str]
    extract_keyphrases(title, body="", language=None, k=5) -> list[str]
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["detect_language", "tokenize", "extract_keyphrases", "LANGUAGES"]

LANGUAGES = ("ko", "en")

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LATIN = re.compile(r"[A-Za-z]")
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:['\u2019\-][A-Za-z0-9]+)*|\d+(?:[.,]\d+)*")

# Function words and reporting verbs: never tokens, never inside a keyphrase.
_EN_STOP = frozenset(
    """a about above after again against all almost also although am among an and another any are
    aren't around as at be became because become been before being below between both but by can
    cannot could couldn't did didn't do does doesn't doing don't down during each either else even
    ever every few for from further get gets got had hadn't has hasn't have haven't having he her
    here hers herself him himself his how however i if in into is isn't it it's its itself just
    least less like made make many may me might more most much must my myself neither no nor not
    now of off often on once one only or other others our ours ourselves out over own per perhaps
    rather really said same say says several she should shouldn't since so some still such than
    that that's the their theirs them themselves then there there's these they this those though
    through thus to too told under until up upon us very via was wasn't we well were weren't what
    when where whether which while who whom whose why will with within without would wouldn't yet
    you your yours yourself yourselves s t re ve ll d m mr mrs ms according including today
    yesterday tomorrow across along amid behind beyond despite inside near onto outside toward
    towards whoever whatever whichever two three four five six seven eight nine ten hundred
    thousand million billion""".split()
)
# Lower-case words ending like a participle break a phrase (a cheap stand-in for a POS tagger).
_EN_VERBISH = re.compile(r"^[a-z][a-z\-]{2,}(?:ed|ing)$")

# Kiwi tags kept as tokens: nouns, verb/adjective stems, roots, foreign words, hanja, numbers.
_KO_TOKEN_TAGS = frozenset({"NNG", "NNP", "NR", "VV", "VA", "XR", "SL", "SH", "SN"})
# Tags that may form a noun phrase (a run of these, adjacent in the text).
_KO_PHRASE_TAGS = frozenset({"NNG", "NNP", "SL", "SH", "SN", "XSN"})
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

_BREAK = re.compile(r"[.,;:!?()\[\]{}\"“”‘’«»|/\n\t·…]|\s[-–—]\s")


def _en_candidates(text: str) -> list[tuple[str, list[str]]]:
    """RAKE-style candidates: maximal runs of non-stopwords inside one clause."""
    out = []
    for clause in _split_clauses(text):
        run: list[tuple[str, int, int]] = []
        for word, start, end in list(_en_words(clause)) + [("", -1, -1)]:
            surface_word = clause[start:end] if word else ""
            verbish = bool(_EN_VERBISH.match(surface_word))
            if word and word not in _EN_STOP and not word.isdigit() and not verbish:
                run.append((word, start, end))
                continue
            # split over-long runs into pieces of at most 4 words
            for i in range(0, len(run), 4):
                piece = run[i : i + 4]
                surface = clause[piece[0][1] : piece[-1][2]]
                out.append((surface, [w for w, _, _ in piece]))
            run = []
    return out


def _split_clauses(text: str) -> list[str]:
    return [c for c in _BREAK.split(text) if c and c.strip()]


def _ko_candidates(text: str) -> list[tuple[str, list[str]]]:
    """Noun phrases: runs of adjacent noun-like morphemes, cut from the original text."""
    out = []
    for clause in _split_clauses(text):
        morphs = _analyse_ko(clause)
        run: list[_Morph] = []
        for m in morphs + [_Morph("", "END", 10**9, 10**9)]:
            adjacent = not run or m.start <= run[-1].end + 1
            if m.tag in _KO_PHRASE_TAGS and adjacent and (run or m.tag != "XSN"):
                run.append(m)
                continue
            _flush_ko(clause, run, out)
            run = [m] if m.tag in _KO_PHRASE_TAGS and m.tag != "XSN" else []
    return out


def _flush_ko(clause: str, run: list[_Morph], out: list) -> None:
    while len(run) > 1 and run[-1].tag == "SN":
        run = run[:-1]
    words = [m.form.lower() for m in run if m.tag not in ("SN", "XSN") and m.form not in _KO_STOP]
    if not words or len(run) > 5:
        return
    if len(words) == 1 and len(words[0]) < 2 and run[0].tag != "NNP":
        return
    out.append((clause[run[0].start : run[-1].end], words))


def extract_keyphrases(title: str, body: str = "", language: str | None = None, k: int = 5) -> list[str]:
    """Up to ``k`` salient noun phrases / terms, most salient first, as they appear in the text.

    Words are scored RAKE-style (degree over frequency, title occurrences counted three times);
    a phrase scores the sum of its words, plus a bonus when it occurs in the title. Phrases
    contained in a better one are dropped.
    """
    if k <= 0:
        return []
    text = f"{title}\n{body}" if body else title
    if not text.strip():
        return []
    language = _check_language(language, text)
    cands = _ko_candidates if language == "ko" else _en_candidates
    title_c = cands(title) if title else []
    body_c = cands(body) if body else []
    freq: Counter = Counter()
    degree: Counter = Counter()
    for weight, group in ((3, title_c), (1, body_c)):
        for _, words in group:
            for w in words:
                freq[w] += weight
                degree[w] += weight * len(words)
    in_title = {surface.lower() for surface, _ in title_c}
    best: dict[str, tuple[float, str]] = {}
    for surface, words in title_c + body_c:
        key = surface.lower()
        score = sum(degree[w] / freq[w] for w in words) + sum(freq[w] for w in words) / len(words)
        if key in in_title:
            score *= 1.5
        if key not in best or score > best[key][0]:
            best[key] = (score, surface)
    ranked = sorted(best.values(), key=lambda x: (-x[0], x[1]))
    chosen: list[str] = []
    for _, surface in ranked:
        low = surface.lower()
        if any(low in c.lower() or c.lower() in low for c in chosen):
            continue
        chosen.append(surface)
        if len(chosen) == k:
            break
    return chosen
