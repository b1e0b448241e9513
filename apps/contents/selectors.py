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
