"""The key-phrase test set and its metric, shared by tests/recsys/test_keyphrases.py and
bench/bench_keyphrases.py.

The set (``data/keyphrases_{ko,en}.json``): 50 news titles per language, each with a body of one
or two sentences, the phrases an editor would accept as the title's key phrase (``accept``) and
phrases that must not come out (``reject``: cut at a particle, a number without its unit, a
single letter, a verb, a newsroom label). Written by hand, before the extractor was tuned; the
items marked ``heldout`` were not looked at while tuning.

**A title passes** when all of these hold for ``extract_keyphrases(title, body, k=5)``:

- the first phrase is one of ``accept`` (compared after NFC and whitespace normalisation, and
  case-insensitively for English);
- none of the phrases is one of ``reject``;
- none of the phrases is malformed by :func:`malformed` (rules checked independently of the
  extractor: a phrase starts and ends on word edges, and the morphemes kiwipiepy finds for a
  Korean phrase where it stands in the text end in no particle, ending, predicate, modifier or
  bare number);
- every phrase is a substring of the title or the body.

The pass rate of a language is the share of its titles that pass.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).parent / "data"
K = 5

# Function words an English key phrase may neither start nor end with (written for this check,
# independent of the extractor's own stop-word list).
EN_FUNCTION = frozenset(
    """a an the this that these those my your his her its our their some any no every each all
    both either neither of in on at by for from to with without into onto over under about above
    below after before between among through during against across along around near off out up
    down via per than as and or but nor so yet if because while when where whether which who whom
    whose what how why is are was were be been being am has have had do does did will would shall
    should can could may might must i you he she it we they me him us them says said""".split()
)
_NUMERIC = re.compile(r"^[$€£¥₩]?\d[\d.,]*(?:%|[kKmMbB]n?)?$")
_LATIN_LETTER = re.compile(r"^[A-Za-z]$")
_DOTS = "ㆍ"  # a Hangul letter Korean typesetting uses as a middle dot


@dataclass(frozen=True)
class Item:
    id: str
    split: str
    topic: str
    title: str
    body: str
    accept: tuple[str, ...]
    reject: tuple[str, ...]


@dataclass
class Outcome:
    item: Item
    phrases: list[str]
    passed: bool
    problems: list[str] = field(default_factory=list)


def load(language: str) -> list[Item]:
    raw = json.loads((DATA / f"keyphrases_{language}.json").read_text(encoding="utf-8"))
    return [Item(d["id"], d["split"], d["topic"], d["title"], d["body"], tuple(d["accept"]), tuple(d["reject"]))
            for d in raw["items"]]


def norm(text: str, language: str) -> str:
    text = " ".join(unicodedata.normalize("NFC", text).split())
    return text.casefold() if language == "en" else text


@lru_cache(maxsize=1)
def _kiwi():
    from kiwipiepy import Kiwi

    return Kiwi(num_workers=1)


def _ko_tag_rules(tokens) -> str | None:
    """The malformation rules over the morphemes (kiwipiepy tokens) of one Korean phrase."""
    if not tokens:
        return "no morpheme"
    tags = [t.tag.split("-")[0] for t in tokens]
    first, last = tags[0], tags[-1]
    if first.startswith(("J", "E", "XS")):
        return f"starts with {first} {tokens[0].form!r}"
    if last.startswith("J"):
        return f"ends in a particle {tokens[-1].form!r}"
    if last.startswith("E"):
        return f"ends in an ending {tokens[-1].form!r}"
    if last in ("XSV", "XSA", "VCP", "VCN", "VV", "VA", "VX"):
        return f"ends in a predicate {tokens[-1].form!r}/{last}"
    if last in ("MM", "XPN"):
        return f"ends in a dangling modifier {tokens[-1].form!r}/{last}"
    if last == "NR" or (last == "SN" and (len(tokens) == 1 or tags[-2] in ("NR", "SN") or
                                          tokens[-2].start + tokens[-2].len < tokens[-1].start)):
        # a number word, or a number standing alone (not glued to a name, as in 아이폰17)
        return f"ends in a number fragment {tokens[-1].form!r}"
    return None


def _ko_in_context(phrase: str, context: str) -> str | None:
    """The rules over the morphemes kiwipiepy finds for ``phrase`` where it stands in ``context``;
    a phrase that cuts a morpheme in two is malformed too. None when one occurrence is whole."""
    tokens = _kiwi().tokenize(context)
    reasons = []
    start = context.find(phrase)
    while start >= 0:
        end = start + len(phrase)
        inside = [t for t in tokens if t.start >= start and t.start + t.len <= end]
        cut = [t for t in tokens if t.start < end < t.start + t.len or t.start < start < t.start + t.len]
        reason = f"cuts the morpheme {cut[0].form!r}/{cut[0].tag}" if cut else _ko_tag_rules(inside)
        if reason is None:
            return None
        reasons.append(reason)
        start = context.find(phrase, start + 1)
    return reasons[0] if reasons else None


def _edges(phrase: str, context: str, language: str) -> str | None:
    """A phrase starts at the start of a word; it ends at the end of one (Korean: or before a
    particle), never inside a number or a Latin word. None when one occurrence is whole."""
    reasons = []
    start = context.find(phrase)
    while start >= 0:
        end = start + len(phrase)
        before = context[start - 1] if start else " "
        after = context[end] if end < len(context) else " "
        if (before.isalnum() and before not in _DOTS) or (before in ",." and start > 1 and context[start - 2].isdigit()):
            reasons.append(f"starts inside a word ({before!r} before it)")
        elif (after.isascii() and after.isalnum()) or (language == "en" and after.isalnum()) \
                or (after in ",." and end + 1 < len(context) and context[end + 1].isdigit()):
            reasons.append(f"ends inside a word ({after!r} after it)")
        else:
            return None
        start = context.find(phrase, start + 1)
    return reasons[0] if reasons else None


def malformed(phrase: str, language: str, contexts: tuple[str, ...] = ()) -> str | None:
    """Why ``phrase`` is not a whole, readable key phrase, or None.

    With ``contexts`` (the title and the body it came from), a phrase must also start and end on
    word edges in one of them, and Korean morphemes are those kiwipiepy finds there (an unknown
    name analysed alone is often misread); without, a Korean phrase is analysed on its own.
    """
    text = phrase.strip()
    if not text:
        return "empty"
    words = text.split()
    if all(_NUMERIC.match(w) or not any(c.isalnum() for c in w) for w in words):
        return "only a number"
    if any(_LATIN_LETTER.match(w.strip("'\u2019")) for w in words):
        return "a single Latin letter"
    contexts = tuple(c for c in contexts if phrase in c)
    if contexts:
        edge = [_edges(phrase, c, language) for c in contexts]
        if all(edge):
            return edge[0]
    if language == "ko":
        if contexts:
            found = [_ko_in_context(phrase, c) for c in contexts]
            return None if not all(found) else found[0]
        return _ko_tag_rules(_kiwi().tokenize(text))

    def bare(w: str) -> str:
        return re.sub(r"(?:['\u2019]s|['\u2019])$", "", w).lower()

    if bare(words[0]) in EN_FUNCTION:
        return f"starts with the function word {words[0]!r}"
    if words[-1].lower() in EN_FUNCTION:
        return f"ends with the function word {words[-1]!r}"
    if re.search(r"['\u2019]s?$", words[-1]):
        return "ends in a possessive"
    if _NUMERIC.match(words[0]):
        return "starts with a number"
    if _NUMERIC.match(words[-1]) and not (len(words) > 1 and words[-2][:1].isupper()):
        return "ends with a number fragment"
    return None


def evaluate(extract, language: str, split: str | None = None) -> list[Outcome]:
    out = []
    for item in load(language):
        if split is not None and item.split != split:
            continue
        phrases = extract(item.title, item.body, language=language, k=K)
        accept = {norm(a, language) for a in item.accept}
        reject = {norm(r, language) for r in item.reject}
        text = f"{item.title}\n{item.body}"
        problems = []
        if not phrases:
            problems.append("no phrase")
        elif norm(phrases[0], language) not in accept:
            problems.append(f"top-1 {phrases[0]!r} not accepted")
        for p in phrases:
            if norm(p, language) in reject:
                problems.append(f"{p!r} is rejected")
            why = malformed(p, language, (item.title, item.body))
            if why:
                problems.append(f"{p!r}: {why}")
            if p not in text:
                problems.append(f"{p!r} is not in the text")
        out.append(Outcome(item, phrases, not problems, problems))
    return out


def pass_rate(outcomes: list[Outcome]) -> float:
    return sum(o.passed for o in outcomes) / len(outcomes) if outcomes else 0.0
