"""The API's value rules (``apps.core.validation``) at their boundaries, and the JSON depth
measure against the depth of the parsed value."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from apps.core.validation import (
    BIGINT_MAX, DATETIME_MAX, DATETIME_MIN, Invalid, clean_datetime, clean_int, clean_text, json_depth, printable,
)


@pytest.mark.parametrize("value, expected", [
    ("1900-01-01T00:00:00Z", DATETIME_MIN),
    ("2999-12-31T23:59:59.999999Z", DATETIME_MAX),
    ("1900-01-01T15:59:00+15:59", DATETIME_MIN),
    ("2999-12-31T08:00:59.999999-15:59", DATETIME_MAX),
    ("2026-11-28T09:30:00", datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc)),  # no offset: UTC
    ("2026-11-28T18:30:00+09:00", datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc)),
])
def test_accepted_datetimes_come_back_in_utc(value, expected):
    got = clean_datetime(value)
    assert got == expected and got.utcoffset() == timedelta(0)


@pytest.mark.parametrize("value, code", [
    ("1899-12-31T23:59:59.999999Z", "out_of_range"),
    ("3000-01-01T00:00:00Z", "out_of_range"),
    ("1900-01-01T00:00:00+00:01", "out_of_range"),  # 1899 in UTC
    ("0001-01-01T00:00:00+01:00", "out_of_range"),  # before year 1 in UTC
    ("9999-12-31T23:59:59-01:00", "out_of_range"),  # after year 9999 in UTC
    ("2026-11-28T09:00:00+16:00", "out_of_range"),
    ("2026-11-28T09:00:00-15:59:01", "out_of_range"),
    ("noon", "invalid"),
    ("2026-11-28T09:00:00\ud800", "invalid"),
    (1764322200, "invalid"),
])
def test_refused_datetimes(value, code):
    with pytest.raises(Invalid) as exc:
        clean_datetime(value)
    assert exc.value.code == code and exc.value.message


def test_text_rules():
    assert clean_text("속보: 서울 첫눈 🎉") == "속보: 서울 첫눈 🎉"
    for value, code in (("a\x00", "null_characters_not_allowed"), ("\ud800", "surrogate_characters_not_allowed"),
                        ("ok\udfff", "surrogate_characters_not_allowed"), (3, "invalid")):
        with pytest.raises(Invalid) as exc:
            clean_text(value)
        assert exc.value.code == code
    assert printable("x\ud800y") == "x\\ud800y"
    printable("\ud800" * 100).encode("utf-8")  # always encodable


def test_integer_rules():
    assert clean_int(BIGINT_MAX) == BIGINT_MAX
    for value, code in ((BIGINT_MAX + 1, "max_value"), (0, "min_value"), (True, "invalid"), (1.0, "invalid")):
        with pytest.raises(Invalid) as exc:
            clean_int(value)
        assert exc.value.code == code


def _depth(value) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.sampled_from('[]{}"\\,:ab \u00e9'), max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(alphabet=st.sampled_from('[]{}"\\ab'), max_size=4), inner, max_size=4),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans())
def test_json_depth_is_the_depth_of_the_parsed_value(value, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert json_depth(text) == _depth(value)


def test_json_depth_stops_early_and_never_recurses():
    assert json_depth("[" * 1_000_000, stop_above=32) > 32
    assert json_depth("[" * 100_000) == 100_000
    assert json_depth('"' + "[" * 1000 + '"') == 0
