"""Words for stored codes and system messages, in the active language (``apps.core.labels``,
``apps.core.system_texts``).

    {{ campaign.state|label:"campaign_state" }}   {{ d.actor_name|actor }}   {{ wave.reason|system_text }}
"""

from __future__ import annotations

from django import template

from apps.core import labels, system_texts

register = template.Library()


@register.filter
def label(code, kind: str) -> str:
    return labels.label(kind, code)


@register.filter
def actor(name: str) -> str:
    return labels.actor_label(name or "")


@register.filter
def ranker(name: str) -> str:
    return labels.ranker_label(name or "")


@register.filter
def subject(value: str) -> str:
    return labels.subject_label(value or "")


@register.filter
def system_text(text: str) -> str:
    return system_texts.translate(text or "")
