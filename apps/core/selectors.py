"""Reads of the core: a client's policy, the operators' switches."""

from __future__ import annotations

from django.db.models import Q

from apps.core.models import Policy, Switch


def policy_of(client_id: int) -> Policy:
    """A client's business rules (every client has its policy, made with it)."""
    return Policy.objects.get(client_id=client_id)

PAUSE_SWITCH = "sending_paused"


def paused_client_ids() -> frozenset[int] | None:
    """The clients whose pushes are held now; ``None`` when every client's are (the global switch).
    The dispatcher asks before each batch."""
    rows = list(Switch.objects.filter(name=PAUSE_SWITCH, on=True).values_list("client_id", flat=True))
    return None if None in rows else frozenset(rows)


def sending_paused(client_id: int | None = None) -> bool:
    """Whether pushes are held: every client's (the global switch), or this client's."""
    paused = paused_client_ids()
    return paused is None or client_id in paused


def pause_switches(client_ids) -> dict[int | None, Switch]:
    """The pause switches ever set of these clients, by client id, and every client's under
    ``None``. One query."""
    rows = Switch.objects.filter(Q(client_id__in=list(client_ids)) | Q(client__isnull=True), name=PAUSE_SWITCH)
    return {s.client_id: s for s in rows.select_related("changed_by")}


def pauses_on(client_ids=None) -> list[Switch]:
    """The pause switches that hold pushes now: every client's, and those of ``client_ids``
    (``None``: of every client). One query."""
    whose = Q() if client_ids is None else Q(client__isnull=True) | Q(client_id__in=list(client_ids))
    return list(Switch.objects.filter(whose, name=PAUSE_SWITCH, on=True).select_related("client", "changed_by")
                .order_by("client__name"))


def preference_values(user_id: int) -> tuple[str, str]:
    """A person's (language, time zone), each empty when they chose none. One query."""
    from apps.core.models import Preference

    row = Preference.objects.filter(user_id=user_id).values_list("language", "time_zone").first()
    return row or ("", "")


def preference_of(user):
    """A person's preference row, unsaved and empty when they have none."""
    from apps.core.models import Preference

    return Preference.objects.filter(user=user).first() or Preference(user=user)
