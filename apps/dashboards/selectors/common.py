"""What every page's selectors share: scoping rows to the person's clients, ratios, the rules to
colour improvements with."""

from __future__ import annotations

from django.db.models import Q

from apps.core.models import Client
from apps.core.permissions import client_ids_of


def ratio(a, b) -> float | None:
    return (a / b) if b else None


def client_q(user, client_id: int | None, field: str = "client_id") -> Q:
    """Rows of the clients ``user`` works for (optionally one of them)."""
    ids = client_ids_of(user)
    q = Q() if ids is None else Q(**{f"{field}__in": ids})
    if client_id is not None:
        q &= Q(**{field: client_id})
    return q


def rules_of(policies: list):
    """The floor and target to colour improvements with: the client's policy when one client is
    shown; across clients, their common policy, or the defaults when their policies differ."""
    from apps.core.policy import DEFAULTS

    return policies[0] if len({(p.floor, p.target) for p in policies}) == 1 else DEFAULTS


def visible_client_choices(*, user) -> list[Client]:
    ids = client_ids_of(user)
    qs = Client.objects.order_by("name", "pk")
    return list(qs if ids is None else qs.filter(pk__in=ids))
