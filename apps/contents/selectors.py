"""Reads of contents."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from apps.contents.models import Content, ContentStatus, TitleVariant


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

def due_for_evaluation(now) -> QuerySet[Content]:
    """Registered, live contents whose evaluation time has come."""
    return Content.objects.filter(status=ContentStatus.REGISTERED, evaluate_at__lte=now, expires_at__gt=now)


def content_language(content: Content) -> str:
    """The content's language: as registered when the product knows it, else detected from the text."""
    from recsys.text import LANGUAGES, detect_language

    lang = (content.language or "").split("-")[0].lower()
    return lang if lang in LANGUAGES else detect_language(f"{content.title}\n{content.body[:2000]}")


def client_overview(*, clients):
    """Each visible client with its contents by status, in one query."""
    return clients.annotate(
        n_contents=Count("contents"),
        n_candidates=Count("contents", filter=Q(contents__status=ContentStatus.CANDIDATE)),
        n_sending=Count("contents", filter=Q(contents__status=ContentStatus.SENDING)),
    ).order_by("slug")


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
          .select_related("client__policy")
          .only("id", "external_id", "title", "category", "language", "created_at", "expires_at", "evaluated_at",
                "push_score", "score_reasons", "early_reads", "rejection_reason", "client__id", "client__slug", "client__name",
                "client__policy__floor", "client__policy__target"))
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
    """Each client with its auto-approve policy as ``auto_approve`` (None when never set)."""
    from apps.contents.models import AutoApprovePolicy

    clients = list(clients.select_related("policy"))
    policies = {p.client_id: p for p in AutoApprovePolicy.objects.filter(client__in=clients).select_related("updated_by")}
    for c in clients:
        c.auto_approve = policies.get(c.pk)
    return clients


def content_for_user(*, user, pk: int) -> Content:
    """A content the user may see, with its variants, model version and campaign (404 otherwise)."""
    from django.shortcuts import get_object_or_404

    from apps.core.permissions import scope_to_user

    qs = (scope_to_user(Content.objects.all(), user)
          .select_related("client__policy", "score_model_version", "campaign")
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


def auto_approve_rule(*, client_id: int) -> dict:
    """The rule of a client's auto-approve policy ({} when it has none)."""
    from apps.contents.models import AutoApprovePolicy

    policy = AutoApprovePolicy.objects.filter(client_id=client_id).first()
    return {"min_score": policy.min_score, "categories": policy.categories} if policy else {}
