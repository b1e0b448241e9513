"""apps.core.csvsafe: the OWASP rule against CSV injection, and every CSV writer of the product using it."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest

from apps.core import csvsafe

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("https://evil.example","x")'])
def test_formula_starts_get_a_leading_quote(text):
    assert csvsafe.cell(text) == "'" + text


@pytest.mark.parametrize("value", ["plain", "a=b", " =1", "", "'=already", "1-2", -1, -2.5, Decimal("-0.7500"), 0, None])
def test_everything_else_is_unchanged(value):
    assert csvsafe.cell(value) is value


def test_writer_quotes_text_and_keeps_numbers():
    out = io.StringIO()
    writer = csvsafe.writer(out)
    writer.writerow(["title", "delta"])
    writer.writerows([["=2+5", -3], ["ok", Decimal("-1.50")]])

    assert list(csv.reader(io.StringIO(out.getvalue()))) == [["title", "delta"], ["'=2+5", "-3"], ["ok", "-1.50"]]


def test_every_csv_writer_of_the_product_goes_through_csvsafe():
    """A plain csv.writer / DictWriter anywhere in the product's code would skip the rule."""
    pattern = re.compile(r"\bcsv\s*\.\s*(writer|DictWriter)\s*\(")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("apps", "pushadmin", "recsys")
        for path in (ROOT / folder).rglob("*.py")
        if path != ROOT / "apps/core/csvsafe.py" and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
