"""The contents table (and its CSV): every pushed content with predicted and achieved improvement."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F, FloatField
from django.db.models.functions import Cast, NullIf

from apps.campaigns.models import Campaign
from apps.dashboards.selectors.campaign import improvement_intervals
from apps.dashboards.selectors.common import client_q, incremental_reactivations

CONTENT_SORTS = {
    "newest": ("-created_at", "-id"), "oldest": ("created_at", "id"),
    "achieved": (F("achieved").desc(nulls_last=True), "-id"), "achieved_asc": (F("achieved").asc(nulls_last=True), "-id"),
    "predicted": (F("content__push_score").desc(nulls_last=True), "-id"),
    "predicted_asc": (F("content__push_score").asc(nulls_last=True), "-id"),
    "sends": ("-sends", "-id"), "sends_asc": ("sends", "id"), "clicks": ("-clicks", "-id"), "clicks_asc": ("clicks", "id"),
    "reactivated": (F("reach__reactivated").desc(nulls_last=True), "-id"),
    "reactivated_asc": (F("reach__reactivated").asc(nulls_last=True), "-id"),
}
CSV_COLUMNS = ("campaign_id", "client", "content_external_id", "title", "category", "launched_at", "launched_by",
               "state", "predicted_improvement", "achieved_improvement", "achieved_lo", "achieved_hi", "sends", "clicks",
               "expected_clicks", "inactive_recipients", "reactivated", "incremental_reactivations", "incremental_lo",
               "incremental_hi")
PERIODS = {"7": 7, "30": 30, "90": 90}  # ?days=: launched within that many days; absent = any time


def _pushed(*, user, client_id=None, category="", date_from=None, date_to=None, sort="newest", mine=False,
            days: int | None = None, now: datetime | None = None):
    qs = (Campaign.objects.filter(client_q(user, client_id))
          .annotate(achieved=Cast("clicks", FloatField()) / NullIf("expected_clicks", 0.0))
          .select_related("content", "client", "reach", "created_by"))
    if mine:
        qs = qs.filter(created_by=user)
    if days is not None:
        qs = qs.filter(created_at__gte=now - timedelta(days=days))
    if category:
        qs = qs.filter(content__category=category)
    if date_from:
        qs = qs.filter(created_at__gte=datetime.combine(date_from, datetime.min.time()).replace(tzinfo=_utc()))
    if date_to:
        qs = qs.filter(created_at__lt=datetime.combine(date_to + timedelta(days=1), datetime.min.time()).replace(tzinfo=_utc()))
    return qs.order_by(*CONTENT_SORTS.get(sort, CONTENT_SORTS["newest"]))


def _utc():
    from datetime import timezone

    return timezone.utc


def _content_row(c: Campaign) -> dict:
    reach = getattr(c, "reach", None) if hasattr(c, "reach") else None
    return {
        "campaign": c, "campaign_id": c.pk, "client": c.client.slug, "content": c.content, "content_id": c.content_id,
        "content_external_id": c.content.external_id, "title": c.content.title, "category": c.content.category,
        "launched_at": c.created_at, "launched_by": c.created_by.get_username() if c.created_by else "",
        "state": c.state, "predicted_improvement": c.content.push_score,
        "achieved_improvement": c.achieved,
        # the anytime-valid interval the ramp decides on, over the whole campaign so far
        "interval": improvement_intervals(clicks=c.clicks, expected=c.expected_clicks, campaign=c)["anytime"],
        "sends": c.sends, "clicks": c.clicks, "expected_clicks": c.expected_clicks,
        "inactive_recipients": reach.inactive_recipients if reach else None,
        "reactivated": reach.reactivated if reach else None,
        "incremental": incremental_reactivations(reach),
    }


def contents_table(*, user, now: datetime, client_id=None, category="", date_from=None, date_to=None,
                   sort="newest", page: int = 1, per_page: int = 50, mine=False, days: int | None = None) -> dict:
    """The contents table: every pushed content (one campaign each) with predicted and achieved
    improvement, sends, clicks and reactivations; filtered (``mine``: launched by ``user``;
    ``days``: launched in the last so many), sorted, a page at a time. 4 queries."""
    from django.core.paginator import Paginator

    qs = _pushed(user=user, client_id=client_id, category=category, date_from=date_from, date_to=date_to, sort=sort,
                 mine=mine, days=days, now=now)
    pager = Paginator(qs, per_page)
    page_obj = pager.get_page(page)
    rows = [_content_row(c) for c in page_obj.object_list]
    categories = sorted(c for c in Campaign.objects.filter(client_q(user, client_id))
                        .order_by().values_list("content__category", flat=True).distinct() if c)
    return {"now": now, "page": page_obj, "rows": rows, "count": pager.count, "categories": categories}


def contents_csv_rows(*, user, client_id=None, category="", date_from=None, date_to=None, sort="newest", mine=False,
                      days: int | None = None, now: datetime | None = None):
    """The same rows as the table, all of them, for the CSV export (read in chunks)."""
    qs = _pushed(user=user, client_id=client_id, category=category, date_from=date_from, date_to=date_to, sort=sort,
                 mine=mine, days=days, now=now)
    for c in qs.iterator(chunk_size=2000):
        yield _content_row(c)


def content_results(*, user, content_id: int) -> dict | None:
    """One content's push results for the content page: its campaign's row, or None when it was
    never launched. Http404 when the content is not one of the person's clients'."""
    from django.http import Http404

    from apps.contents.models import Content

    if not Content.objects.filter(client_q(user, None), pk=content_id).exists():
        raise Http404("No such content.")
    campaign = _pushed(user=user).filter(content_id=content_id).first()
    return _content_row(campaign) if campaign else None
