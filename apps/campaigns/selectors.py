"""Reads of campaigns."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from apps.campaigns.models import Campaign, Wave


def campaigns_of_client(*, client_id: int) -> QuerySet[Campaign]:
    return (
        Campaign.objects.filter(client_id=client_id)
        .select_related("content")
        .prefetch_related(Prefetch("waves", queryset=Wave.objects.order_by("number")))
    )
