"""Push titles: filling templates, the length each platform shows, and the cut.

Pure functions (no database): the services feed them the content and the active templates.

Widths are counted in display columns, as phones lay out a one-line title: a Hangul syllable,
a CJK ideograph or a full-width sign takes two columns, anything else one. A title wider than a
platform's limit is cut there with an ellipsis, and a cut push title is useless, so such a
title cannot be approved; the editors' page shows where the cut falls.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass

# Columns of one notification title line, by platform (measured on common phones with default
# font size: about 20 Hangul syllables or 40 Latin letters on iOS).
PLATFORM_TITLE_LIMITS: dict[str, int] = {"ios": 40, "android": 44, "web": 60}
ELLIPSIS = "…"
MIN_TEMPLATE_VARIANTS, MAX_TEMPLATE_VARIANTS = 3, 5

CATEGORY_LABELS: dict[str, dict[str, str]] = {
    "politics": {"ko": "정치", "en": "Politics"},
    "economy": {"ko": "경제", "en": "Economy"},
    "business": {"ko": "경제", "en": "Business"},
    "society": {"ko": "사회", "en": "Society"},
    "world": {"ko": "국제", "en": "World"},
    "sports": {"ko": "스포츠", "en": "Sports"},
    "culture": {"ko": "문화", "en": "Culture"},
    "entertainment": {"ko": "연예", "en": "Entertainment"},
    "tech": {"ko": "IT", "en": "Tech"},
    "science": {"ko": "과학", "en": "Science"},
    "weather": {"ko": "날씨", "en": "Weather"},
    "health": {"ko": "건강", "en": "Health"},
    "life": {"ko": "생활", "en": "Life"},
    "opinion": {"ko": "오피니언", "en": "Opinion"},
}


def template_slots(pattern: str) -> list[str]:
    """The slot names of a pattern; unknown slots, positional or formatted slots are errors."""
    from apps.contents.models import TEMPLATE_SLOTS

    slots = []
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise ValueError(f"Unbalanced braces in the pattern: {exc}.") from None
    for _, name, spec, conv in parsed:
        if name is None:
            continue
        if name not in TEMPLATE_SLOTS:
            raise ValueError(f"Unknown slot {{{name}}}; use " + ", ".join("{%s}" % s for s in TEMPLATE_SLOTS) + ".")
        if spec or conv:
            raise ValueError(f"Slot {{{name}}} takes no format.")
        slots.append(name)
    return slots


def char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    return sum(char_width(ch) for ch in text)


@dataclass(frozen=True)
class Fit:
    """How a title shows on one platform: whole, or cut after ``visible`` with an ellipsis."""

    platform: str
    limit: int
    width: int
    visible: str
    hidden: str

    @property
    def cut(self) -> bool:
        return bool(self.hidden)

    @property
    def label(self) -> str:
        from apps.core.labels import label

        return label("platform", self.platform)  # "iOS", "Android", "Web" (in the reader's language)


def fit(text: str, platform: str, limit: int | None = None) -> Fit:
    limit = limit if limit is not None else PLATFORM_TITLE_LIMITS[platform]
    width = display_width(text)
    if width <= limit:
        return Fit(platform, limit, width, text, "")
    room, used, i = limit - display_width(ELLIPSIS), 0, 0
    while i < len(text) and used + char_width(text[i]) <= room:
        used += char_width(text[i])
        i += 1
    return Fit(platform, limit, width, text[:i], text[i:])


def fits(text: str) -> dict[str, Fit]:
    return {p: fit(text, p) for p in PLATFORM_TITLE_LIMITS}


def cut_platforms(text: str) -> list[Fit]:
    return [f for f in fits(text).values() if f.cut]


_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """The text as it would be sent: NFC, one space between words, trimmed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text or "")).strip()


def dedupe_key(text: str) -> str:
    """Two titles are duplicates when they differ only in case, spacing or punctuation."""
    return "".join(ch for ch in normalize(text).casefold() if ch.isalnum())


def category_label(category: str, language: str) -> str:
    labels = CATEGORY_LABELS.get((category or "").strip().lower())
    if labels:
        return labels.get(language) or labels["en"]
    return (category or "").strip().replace("-", " ").replace("_", " ")


@dataclass(frozen=True)
class TemplateSpec:
    name: str
    pattern: str


@dataclass(frozen=True)
class Proposal:
    text: str
    template_name: str  # "" for the original title

    @property
    def is_cut(self) -> bool:
        return bool(cut_platforms(self.text))


def fill(pattern: str, values: dict[str, str]) -> str | None:
    """The filled pattern, or None when a slot it uses has no value (no empty slots)."""
    slots = template_slots(pattern)
    if any(not (values.get(s) or "").strip() for s in slots):
        return None
    return normalize(pattern.format(**{s: normalize(values.get(s, "")) for s in slots}))


def slot_values(*, title: str, category: str, language: str, keyphrases: list[str]) -> list[dict[str, str]]:
    """Ways to fill the slots, best first: the first keyphrase (and the second) first, then the
    following ones, so a template that would be cut with a long phrase can use a shorter one."""
    title_key = dedupe_key(title)
    # A keyphrase that is the whole title adds nothing to a template around it.
    phrases = [p for p in keyphrases if dedupe_key(p) and dedupe_key(p) != title_key]
    base = {"category": category_label(category, language), "title": normalize(title)}
    if not phrases:
        return [{**base, "keyphrase": "", "keyphrase2": ""}]
    return [{**base, "keyphrase": p, "keyphrase2": phrases[i + 1] if i + 1 < len(phrases) else ""}
            for i, p in enumerate(phrases)]


def propose(*, title: str, category: str, language: str, keyphrases: list[str], templates: list[TemplateSpec],
            limit: int = MAX_TEMPLATE_VARIANTS) -> list[Proposal]:
    """The original title plus up to ``limit`` template titles: no duplicates, no empty slots.

    Templates are tried in the order given (their priority), each with the best keyphrase that
    makes a new title every platform shows whole. Titles that would be cut are used only while
    fewer than the minimum fit, so the editor sees the cut and can shorten them.
    """
    options = slot_values(title=title, category=category, language=language, keyphrases=keyphrases)
    original = Proposal(normalize(title), "")
    seen = {dedupe_key(original.text)}
    whole: list[Proposal] = []
    cut: list[Proposal] = []
    for t in templates:
        first_cut = None
        for values in options:
            text = fill(t.pattern, values)
            key = dedupe_key(text) if text else ""
            if not key or key in seen:
                continue
            if language == "en" and text[0].islower():
                text = text[0].upper() + text[1:]
            p = Proposal(text, t.name)
            if not p.is_cut:
                whole.append(p)
                seen.add(key)
                break
            first_cut = first_cut or p
        else:
            if first_cut is not None:
                cut.append(first_cut)
    chosen = whole[:limit]
    for p in cut:
        if len(chosen) >= MIN_TEMPLATE_VARIANTS:
            break
        if dedupe_key(p.text) not in {dedupe_key(c.text) for c in chosen}:
            chosen.append(p)
    return [original, *chosen]
