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


def incremental_reactivations(reach) -> dict | None:
    """How many of the inactive recipients came back because of the push, not merely after it:
    their rate of coming back minus the holdout's, times their number, with a 95% interval of
    the difference of two proportions (Newcombe's, sound for a small holdout or a count of zero).
    None without an inactive holdout to compare with."""
    from recsys.metrics import proportion_difference_interval

    if reach is None or not reach.held_out_inactive or not reach.inactive_recipients:
        return None
    n1, n0 = reach.inactive_recipients, reach.held_out_inactive
    p1, p0 = reach.reactivated / n1, reach.held_out_reactivated / n0
    lo, hi = proportion_difference_interval(reach.reactivated, n1, reach.held_out_reactivated, n0)
    return {"value": n1 * (p1 - p0), "lo": n1 * lo, "hi": n1 * hi,
            "recipient_rate": p1, "holdout_rate": p0, "held_out": reach.held_out, "held_out_inactive": n0}


def rules_of(policies: list):
    """The floor and target to colour improvements with: the client's policy when one client is
    shown; across clients, their common policy, or the defaults when their policies differ."""
    from apps.core.policy import DEFAULTS

    return policies[0] if len({(p.floor, p.target) for p in policies}) == 1 else DEFAULTS


def visible_client_choices(*, user) -> list[Client]:
    ids = client_ids_of(user)
    qs = Client.objects.order_by("name", "pk")
    return list(qs if ids is None else qs.filter(pk__in=ids))
