"""Reads of the core."""

from __future__ import annotations

from django.db.models import Count, Q

from apps.contents.models import ContentStatus


def client_overview(*, clients):
    """Each visible client with its contents by status, in one query."""
    return clients.annotate(
        n_contents=Count("contents"),
        n_candidates=Count("contents", filter=Q(contents__status=ContentStatus.CANDIDATE)),
        n_sending=Count("contents", filter=Q(contents__status=ContentStatus.SENDING)),
    ).order_by("slug")
