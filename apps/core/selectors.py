"""Reads of the core: a client's policy, the operators' switches."""

from __future__ import annotations

from apps.core.models import Policy, Switch


def policy_of(client_id: int) -> Policy:
    """A client's business rules (every client has its policy, made with it)."""
    return Policy.objects.get(client_id=client_id)

PAUSE_SWITCH = "sending_paused"


def sending_paused() -> bool:
    """Whether the one switch that holds every push is on (the dispatcher asks before each batch)."""
    return Switch.objects.filter(name=PAUSE_SWITCH, on=True).exists()


def pause_switch():
    """The pause switch with who changed it last, or None if it was never set."""
    return Switch.objects.filter(name=PAUSE_SWITCH).select_related("changed_by").first()
