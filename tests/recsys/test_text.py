"""Tokenization and keyphrases on real Korean (konlpy's corpus) and English (gensim's Lee corpus)."""

from pathlib import Path

import gensim
import konlpy
import pytest

from recsys.text import detect_language, extract_keyphrases, tokenize

KO = Path(konlpy.__file__).parent / "data" / "corpus"
LEE = Path(gensim.__file__).parent / "test" / "test_data" / "lee_background.cor"


@pytest.fixture(scope="module")
def constitution():
    return (KO / "kolaw" / "constitution.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def bill():
    return (KO / "kobill" / "1809890.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def lee():
    return LEE.read_text(encoding="utf-8").splitlines()


def test_detects_language_of_real_texts(constitution, lee):
    assert detect_language(constitution) == "ko"
    assert detect_language(lee[0]) == "en"
    assert detect_language("삼성전자 Galaxy S24 출시") == "ko"


def test_korean_is_analysed_morphologically_not_split_on_spaces(constitution):
    preamble = constitution.splitlines()[2]
    tokens = tokenize(preamble)
    assert {"역사", "전통", "국민", "민주", "이념"} <= set(tokens)
    # particles and endings are gone: "역사와" is not a token, "역사" is
    assert "역사와" not in tokens and "와" not in tokens
    assert "빛나는" not in tokens and "우리" not in tokens


def test_korean_bill_tokens(bill):
    tokens = tokenize(bill[:400])
    assert "지방공무원법" in tokens or "지방" in tokens
    assert "육아휴직" in tokenize(bill) or "육아" in tokenize(bill)


def test_english_tokens_drop_stopwords_and_possessives(lee):
    tokens = tokenize(lee[0])
    assert tokens[:5] == ["hundreds", "people", "forced", "vacate", "homes"]
    assert "the" not in tokens and "of" not in tokens
    assert tokenize("Argentina's crisis") == ["argentina", "crisis"]


def test_empty_and_bad_language():
    assert tokenize("") == [] and tokenize("   ") == []
    assert extract_keyphrases("", "") == []
    with pytest.raises(ValueError, match="language"):
        tokenize("text", language="fr")


def test_korean_keyphrases_are_surface_noun_phrases(bill):
    title = bill.splitlines()[0]
    phrases = extract_keyphrases(title, bill[:1500], k=5)
    assert phrases[0] == "지방공무원법 일부개정법률안"
    assert all(p in title + "\n" + bill for p in phrases)
    particles = ("은", "는", "을", "를", "의", "에", "와", "과")
    assert not any(p.endswith(particles) and len(p) > 2 for p in phrases[:3])


def test_korean_keyphrases_of_a_news_sentence():
    phrases = extract_keyphrases("서울시, 내일부터 지하철 요금 인상", "서울시는 내일부터 지하철 기본요금을 150원 인상한다고 밝혔다.")
    # the phrase names the topic; the headline's predicate (인상) stays with the title
    assert phrases[0] == "지하철 요금"
    assert "서울시" in phrases and "인상" not in phrases and "150" not in phrases


def test_english_keyphrases_keep_names_and_case(lee):
    doc = lee[0]
    first, rest = doc.split(". ", 1)
    phrases = extract_keyphrases(first, rest, k=5)
    assert "New South Wales" in phrases
    assert all(p in doc for p in phrases)
    assert all(p.split()[0].lower() not in ("the", "of", "and") for p in phrases)
    assert len(extract_keyphrases(first, rest, k=2)) == 2
