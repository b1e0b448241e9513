"""Reads of the core: a client's policy, the operators' switches."""

from __future__ import annotations

from apps.core.models import Policy, Switch


def policy_of(client_id: int) -> Policy:
    """A client's business rules (every client has its policy, made with it)."""
    return Policy.objects.get(client_id=client_id)

PAUSE_SWITCH = "sending_paused"


def sending_paused(client_id: int | None = None) -> bool:
    """Whether pushes are held: every client's (the global switch), or this client's."""
    from django.db.models import Q

    whose = Q(client__isnull=True) if client_id is None else Q(client__isnull=True) | Q(client_id=client_id)
    return Switch.objects.filter(whose, name=PAUSE_SWITCH, on=True).exists()


def paused_client_ids() -> frozenset[int] | None:
    """The clients whose pushes are held now; ``None`` when every client's are (the global switch).
    The dispatcher asks before each batch."""
    rows = list(Switch.objects.filter(name=PAUSE_SWITCH, on=True).values_list("client_id", flat=True))
    return None if None in rows else frozenset(rows)


def pause_switch(client_id: int | None = None):
    """A pause switch (a client's, or with ``None`` every client's) with who changed it last; None
    if it was never set."""
    return Switch.objects.filter(name=PAUSE_SWITCH, client_id=client_id).select_related("changed_by", "client").first()


def pause_switches(client_ids, *, with_global: bool = False) -> dict[int | None, Switch]:
    """The pause switches of these clients that were ever set, by client id (and every client's
    under ``None`` with ``with_global``). One query."""
    from django.db.models import Q

    whose = Q(client_id__in=list(client_ids)) | (Q(client__isnull=True) if with_global else Q(pk__in=[]))
    rows = Switch.objects.filter(whose, name=PAUSE_SWITCH).select_related("changed_by")
    return {s.client_id: s for s in rows}


def pauses_on(client_ids=None) -> list[Switch]:
    """The pause switches that hold pushes now: every client's, and those of ``client_ids``
    (``None``: of every client). One query."""
    from django.db.models import Q

    whose = Q() if client_ids is None else Q(client__isnull=True) | Q(client_id__in=list(client_ids))
    return list(Switch.objects.filter(whose, name=PAUSE_SWITCH, on=True).select_related("client", "changed_by")
                .order_by("client__name"))
