"""Reads of contents."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from apps.contents.models import Content, TitleVariant


def contents_of_client(*, client_id: int) -> QuerySet[Content]:
    return Content.objects.filter(client_id=client_id)


def content_detail(*, client_id: int, external_id: str) -> Content:
    """One content with its title variants, model version and campaign (404 if another client's)."""
    from django.shortcuts import get_object_or_404

    qs = (
        Content.objects.filter(client_id=client_id)
        .select_related("score_model_version", "campaign")
        .prefetch_related(Prefetch("title_variants", queryset=TitleVariant.objects.order_by("id")))
    )
    return get_object_or_404(qs, external_id=external_id)


# ---------------------------------------------------------------------------------- evaluation

CTR_PRIOR_CLICKS, CTR_PRIOR_SENDS = 1.0, 50.0  # Beta prior: a newcomer's usual push CTR is 2%
INACTIVE_DAYS = 7


def evaluation_inputs(*, contents, now, scorer=None):
    """Decision-time features of each content (``recsys.selection.PushWorthinessFeatures``), from
    the reads and clicks that arrived before ``now``: a handful of queries for the whole batch."""
    from datetime import timedelta

    from apps.audience.models import Subscriber
    from apps.events.models import Event
    from recsys.selection import PushWorthinessFeatures

    ids = [c.pk for c in contents]
    readers: dict[int, set[int]] = {pk: set() for pk in ids}
    reads: dict[int, int] = dict.fromkeys(ids, 0)
    clicks: dict[int, int] = dict.fromkeys(ids, 0)
    for content_id, subscriber_id, kind in Event.objects.filter(
        content_id__in=ids, type__in=[Event.Type.READ, Event.Type.CLICK], occurred_at__lte=now
    ).values_list("content_id", "subscriber_id", "type"):
        if kind == Event.Type.READ:
            reads[content_id] += 1
            readers[content_id].add(subscriber_id)
        else:
            clicks[content_id] += 1
    everyone = set().union(*readers.values())
    ctr = {pk: (c + CTR_PRIOR_CLICKS) / (s + CTR_PRIOR_SENDS)
           for pk, s, c in Subscriber.objects.filter(pk__in=everyone).values_list("pk", "push_sends", "push_clicks")}
    # Was each early reader active in the 7 days before the content appeared? (Events, not
    # last_activity_at, which the reads of this very content have already moved.)
    active_before: dict[int, list] = {}
    if everyone:
        start = min(c.created_at for c in contents) - timedelta(days=INACTIVE_DAYS)
        end = max(c.created_at for c in contents)
        for sid, at in Event.objects.filter(subscriber_id__in=everyone, occurred_at__gte=start, occurred_at__lt=end,
                                            type__in=[Event.Type.READ, Event.Type.CLICK, Event.Type.OPEN]
                                            ).values_list("subscriber_id", "occurred_at"):
            active_before.setdefault(sid, []).append(at)
    out = {}
    for c in contents:
        window_start = c.created_at - timedelta(days=INACTIVE_DAYS)
        rs = readers[c.pk]
        inactive = sum(1 for s in rs if not any(window_start <= at < c.created_at for at in active_before.get(s, ())))
        local = c.created_at
        out[c.pk] = PushWorthinessFeatures(
            categories=(c.category,) if c.category else (),
            created_hour=local.hour,
            weekday=local.weekday(),
            age_minutes=max((now - c.created_at).total_seconds() / 60.0, 0.0),
            early_reads=reads[c.pk],
            early_clicks=clicks[c.pk],
            early_readers_inactive_share=inactive / len(rs) if rs else 0.0,
            early_readers_mean_ctr=(sum(ctr.get(s, 0.02) for s in rs) / len(rs)) if rs else 0.0,
        )
    return _with_text_vectors(contents, out, scorer)


def _with_text_vectors(contents, features, scorer):
    from dataclasses import replace

    if scorer is None or not scorer.needs_text:
        return features
    vectors = scorer.text_embedding.content_vectors([f"{c.title}\n{c.body[:5000]}" for c in contents])
    return {c.pk: replace(features[c.pk], text_vector=vectors[i]) for i, c in enumerate(contents)}


# ---------------------------------------------------------------------------------- editors

QUEUE_PAGE_SIZE = 50
QUEUE_SORTS = {
    # predicted improvement first, the sooner-expiring first among equals
    "score": ("-push_score", "expires_at", "id"),
    # the least time left first, the better first among equals
    "expiry": ("expires_at", "-push_score", "id"),
}


# What the queue can list: the candidates, or the live contents the score (or an editor) rejected,
# which an editor may still approve and launch.
QUEUE_STATUSES = ("candidate", "rejected")


def queue_page(*, user, now, client_id: int | None = None, category: str = "", sort: str = "score", page: int = 1,
               status: str = "candidate", page_size: int = QUEUE_PAGE_SIZE) -> dict:
    """One page of the editors' queue: live contents of the user's clients. Two queries."""
    from django.core.paginator import EmptyPage, Paginator

    from apps.core.permissions import scope_to_user

    status = status if status in QUEUE_STATUSES else "candidate"
    qs = scope_to_user(Content.objects.filter(status=status, expires_at__gt=now), user)
    if client_id:
        qs = qs.filter(client_id=client_id)
    if category:
        qs = qs.filter(category=category)
    qs = (qs.order_by(*QUEUE_SORTS.get(sort, QUEUE_SORTS["score"]))
          .select_related("client")
          .only("id", "external_id", "title", "category", "language", "created_at", "expires_at", "evaluated_at",
                "push_score", "score_reasons", "early_reads", "rejection_reason", "client__id", "client__slug", "client__name"))
    paginator = Paginator(qs, page_size)
    try:
        page_obj = paginator.page(page)
    except EmptyPage:
        page_obj = paginator.page(paginator.num_pages)
    return {"page": page_obj, "count": paginator.count}


def queue_categories(*, user, now, client_id: int | None = None, status: str = "candidate") -> list[str]:
    from apps.core.permissions import scope_to_user

    status = status if status in QUEUE_STATUSES else "candidate"
    qs = scope_to_user(Content.objects.filter(status=status, expires_at__gt=now), user).exclude(category="")
    if client_id:
        qs = qs.filter(client_id=client_id)
    return list(qs.order_by("category").values_list("category", flat=True).distinct())


def policies_of_clients(*, clients) -> list:
    """Each client with its auto-approve policy (``policy`` is None when never set)."""
    from apps.contents.models import AutoApprovePolicy

    clients = list(clients)
    policies = {p.client_id: p for p in AutoApprovePolicy.objects.filter(client__in=clients).select_related("updated_by")}
    for c in clients:
        c.policy = policies.get(c.pk)
    return clients


def content_for_user(*, user, pk: int) -> Content:
    """A content the user may see, with its variants, model version and campaign (404 otherwise)."""
    from django.shortcuts import get_object_or_404

    from apps.core.permissions import scope_to_user

    qs = (scope_to_user(Content.objects.all(), user)
          .select_related("client", "score_model_version", "campaign")
          .prefetch_related(Prefetch("title_variants", queryset=TitleVariant.objects.select_related("reviewed_by").order_by("id"))))
    return get_object_or_404(qs, pk=pk)


def variant_for_user(*, user, content_pk: int, pk: int) -> TitleVariant:
    from django.shortcuts import get_object_or_404

    from apps.core.permissions import scope_to_user

    qs = scope_to_user(TitleVariant.objects.select_related("content", "content__client"), user, "content__client_id")
    return get_object_or_404(qs, pk=pk, content_id=content_pk)


def content_decisions(*, content: Content, limit: int = 200):
    from apps.core.models import Decision

    return list(Decision.objects.filter(content=content).select_related("actor_user").order_by("-at", "-id")[:limit])
