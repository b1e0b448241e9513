"""Reads of the core: the operators' switches."""

from __future__ import annotations

from apps.core.models import Switch

PAUSE_SWITCH = "sending_paused"


def sending_paused() -> bool:
    """Whether the one switch that holds every push is on (the dispatcher asks before each batch)."""
    return Switch.objects.filter(name=PAUSE_SWITCH, on=True).exists()


def pause_switch():
    """The pause switch with who changed it last, or None if it was never set."""
    return Switch.objects.filter(name=PAUSE_SWITCH).select_related("changed_by").first()
