"""Title variants: templates filled from Korean and English texts, no empty slots, no duplicates,
the cut each platform makes, and the seeded library."""

from __future__ import annotations

import pytest

from apps.contents.titles import (
    PLATFORM_TITLE_LIMITS,
    TemplateSpec,
    cut_platforms,
    dedupe_key,
    display_width,
    fill,
    fit,
    propose,
    template_slots,
)
from recsys.text import extract_keyphrases

EN = [TemplateSpec("a", "{keyphrase}: what we know"), TemplateSpec("b", "{category}: {keyphrase}"),
      TemplateSpec("c", "The latest on {keyphrase}"), TemplateSpec("d", "{keyphrase} and {keyphrase2}: the story so far"),
      TemplateSpec("e", "Why {keyphrase} matters"), TemplateSpec("f", "Now: {title}")]
KO = [TemplateSpec("k1", "지금 주목할 소식: {keyphrase}"), TemplateSpec("k2", "[{category}] {keyphrase}"),
      TemplateSpec("k3", "{keyphrase}, 핵심만 정리했습니다"), TemplateSpec("k4", "{keyphrase}·{keyphrase2} 무슨 일?"),
      TemplateSpec("k5", "새 소식 | {title}")]


def test_display_width_counts_hangul_double():
    assert display_width("abc") == 3
    assert display_width("서울") == 4
    assert display_width("서울 첫눈!") == 10
    assert display_width("ｆｕｌｌ") == 8  # full-width Latin


def test_fit_and_cut_in_columns():
    limit = PLATFORM_TITLE_LIMITS["ios"]
    ok = "x" * limit
    assert not fit(ok, "ios").cut
    long = "가" * (limit // 2 + 3)  # wider than the limit
    f = fit(long, "ios")
    assert f.cut and f.width == 2 * len(long)
    assert f.visible + f.hidden == long
    assert display_width(f.visible) + display_width("…") <= limit  # the ellipsis fits in the line
    assert display_width(f.visible) >= limit - 3
    assert [x.platform for x in cut_platforms("y" * 50)] == ["ios", "android"]
    assert cut_platforms("y" * 61) and len(cut_platforms("y" * 61)) == 3


def test_fill_never_leaves_an_empty_slot():
    assert fill("{keyphrase}: what we know", {"keyphrase": "Interest rates"}) == "Interest rates: what we know"
    assert fill("{keyphrase} and {keyphrase2}", {"keyphrase": "A", "keyphrase2": ""}) is None
    assert fill("{category} | {title}", {"category": "  ", "title": "T"}) is None
    assert fill("  {title}   now ", {"title": " spaced   out "}) == "spaced out now"


def test_template_slots_are_checked():
    assert template_slots("{keyphrase} · {category}") == ["keyphrase", "category"]
    for bad, msg in [("{nope}", "Unknown slot"), ("{0}", "Unknown slot"), ("{title!r}", "no format"),
                     ("{title:>5}", "no format"), ("{title", "Unbalanced")]:
        with pytest.raises(ValueError, match=msg):
            template_slots(bad)


def test_english_variants_from_real_keyphrases():
    title = "Central bank raises interest rates to curb inflation"
    body = "The central bank raised its benchmark interest rate by half a point on Thursday, citing stubborn inflation."
    phrases = extract_keyphrases(title, body, language="en")
    out = propose(title=title, category="economy", language="en", keyphrases=phrases, templates=EN)
    texts = [p.text for p in out]
    assert texts[0] == title and out[0].template_name == ""
    assert 3 <= len(out) - 1 <= 5
    assert len({dedupe_key(t) for t in texts}) == len(texts)  # no duplicates
    assert all("{" not in t and "}" not in t for t in texts)
    assert f"Economy: {phrases[0]}" in texts  # the category label, in English
    assert all(not p.is_cut for p in out[1:])  # enough fit, so no cut template title is proposed


def test_korean_variants_from_real_keyphrases():
    title = "서울 지하철 요금 내달부터 150원 인상"
    body = "서울시는 지하철 기본요금을 다음 달부터 150원 올린다고 밝혔다. 버스 요금도 함께 오른다."
    phrases = extract_keyphrases(title, body, language="ko")
    assert phrases and all(p in f"{title}\n{body}" for p in phrases)  # cut from the text, not stems
    out = propose(title=title, category="economy", language="ko", keyphrases=phrases, templates=KO)
    texts = [p.text for p in out]
    assert 3 <= len(out) - 1 <= 5
    assert f"[경제] {phrases[0]}" in texts  # the category label, in Korean
    # two consecutive phrases, the first pair that no platform cuts (서울 지하철 요금·지하철 기본요금
    # would take 41 columns, one more than iOS shows)
    pairs = [f"{a}·{b} 무슨 일?" for a, b in zip(phrases, phrases[1:])]
    assert any(p in texts for p in pairs)
    assert all(not p.is_cut for p in out[1:])
    assert len({dedupe_key(t) for t in texts}) == len(texts)
    assert all("{" not in t for t in texts)


def test_duplicates_differing_only_in_case_or_punctuation_are_dropped():
    out = propose(title="Storm warning", category="", language="en", keyphrases=["storm warning", "Coast"],
                  templates=[TemplateSpec("same", "{title}!"), TemplateSpec("k", "{keyphrase} latest"),
                             TemplateSpec("k2", "{keyphrase} LATEST."), TemplateSpec("cat", "{category}: {title}"),
                             TemplateSpec("two", "{keyphrase} and {keyphrase2}")])
    # "{title}!" repeats the original, k2 repeats k, there is no category and no second keyphrase
    # (the first one is the whole title).
    assert [p.text for p in out] == ["Storm warning", "Coast latest"]


def test_a_template_tries_the_next_keyphrase_when_the_first_would_be_cut():
    long_phrase = "Extraordinarily long keyphrase about the regional parliament"
    out = propose(title="Budget", category="", language="en", keyphrases=[long_phrase, "budget vote"],
                  templates=[TemplateSpec("a", "{keyphrase}: what we know")])
    assert [p.text for p in out] == ["Budget", "Budget vote: what we know"]  # and capitalised


def test_cut_titles_are_only_used_while_too_few_fit():
    long_phrase = "extraordinarily long keyphrase about the regional parliament budget"
    out = propose(title="Budget", category="", language="en", keyphrases=[long_phrase],
                  templates=[TemplateSpec("a", "{keyphrase}: what we know"), TemplateSpec("b", "{title} today"),
                             TemplateSpec("c", "Why {title} matters"), TemplateSpec("d", "{keyphrase} now")])
    assert [p.text for p in out[:3]] == ["Budget", "Budget today", "Why Budget matters"]  # whole ones first
    assert len(out) == 4 and out[3].is_cut and out[3].template_name == "a"  # one cut title tops it up to three


def test_seeded_library_is_valid_and_bilingual(db):
    from apps.contents.models import TitleTemplate

    templates = list(TitleTemplate.objects.filter(is_active=True))
    assert {t.language for t in templates} == {"ko", "en"}
    for t in templates:
        t.full_clean()
    assert sum(t.language == "ko" for t in templates) >= 5 and sum(t.language == "en" for t in templates) >= 5


def test_template_with_bad_slot_is_refused_by_the_service(db):
    from django.core.exceptions import ValidationError

    from apps.contents.models import TitleTemplate
    from apps.contents.services import title_template_save

    with pytest.raises(ValidationError, match="Unknown slot"):
        title_template_save(template=TitleTemplate(name="bad", language="en", pattern="{headline} now"))
    with pytest.raises(ValidationError, match="at least one slot"):
        title_template_save(template=TitleTemplate(name="none", language="en", pattern="Read this"))
    assert title_template_save(template=TitleTemplate(name="ok", language="en", pattern="{title} (update)")).pk


def test_candidates_get_three_to_five_template_titles_plus_the_original(candidate, register, reads, client_a, t0):
    from datetime import timedelta

    from apps.orchestration.evaluation import contents_evaluate_due

    en = candidate()
    ko = register(client_a, "ko-1", title="서울 지하철 요금 내달부터 150원 인상", category="economy", language="ko",
                  body="서울시는 지하철 기본요금을 다음 달부터 150원 올린다고 밝혔다.")
    reads(ko, 60)
    contents_evaluate_due(now=t0 + timedelta(minutes=30))
    for c in (en, ko):
        variants = list(c.title_variants.all())
        sources = [v.source for v in variants]
        assert sources.count("original") == 1 and 3 <= sources.count("template") <= 5
        assert all(v.template_name.startswith(c.language or "ko") for v in variants if v.source == "template")
        assert len({dedupe_key(v.text) for v in variants}) == len(variants)
