"""Small display helpers for the editors' pages."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

from apps.core.labels import LABELS, label, scorer_label, segment_label

register = template.Library()


@register.filter
def minutes_left(expires_at, now) -> int:
    return max(int((expires_at - now).total_seconds() // 60), 0)


@register.filter
def duration_left(expires_at, now) -> str:
    m = minutes_left(expires_at, now)
    if m <= 0:
        return _("expired")
    if m >= 60:
        return _("%(hours)d h %(minutes)02d min") % {"hours": m // 60, "minutes": m % 60}
    return _("%(minutes)d min") % {"minutes": m}


@register.filter
def urgency(expires_at, now) -> str:
    m = minutes_left(expires_at, now)
    return "urgent" if m < 30 else ("soon" if m < 90 else "fresh")


@register.filter
def life_share(content, now) -> int:
    """Share of the content's lifetime still left, in percent (for the time bar)."""
    total = (content.expires_at - content.created_at).total_seconds()
    left = (content.expires_at - now).total_seconds()
    return max(0, min(100, round(100 * left / total))) if total > 0 else 0


@register.filter
def reasons(score_reasons, n: int = 3) -> list[dict]:
    out = []
    for r in score_reasons or []:
        if not isinstance(r, dict) or r.get("feature") == "scorer":
            continue
        c = float(r.get("contribution") or 0.0)
        feature = r.get("feature", "")
        word = LABELS["score_reason"].get(feature)  # in the active language; else as the scorer said it
        out.append({"label": str(word) if word is not None else (r.get("label") or feature), "contribution": c,
                    "sign": "up" if c > 0.005 else ("down" if c < -0.005 else "flat")})
    moving = [r for r in out if r["sign"] != "flat"]  # reasons that did not move the score say nothing
    return (moving or out)[: int(n)]


@register.filter
def interim(score_reasons) -> bool:
    return any(isinstance(r, dict) and r.get("feature") == "scorer" for r in score_reasons or [])


@register.filter
def score_level(score, policy) -> str:
    """CSS class of a predicted improvement against the client's target and floor."""
    if score is None or policy is None:
        return "none"
    return "high" if score >= policy.target else ("mid" if score >= policy.floor else "low")


@register.filter
def as_json_value(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "—"
    if isinstance(value, float):
        return f"{value:.3g}"
    if value is None or value == "":
        return "—"
    return str(value)


def _value_kind(key: str, action: str) -> str | None:
    """Which codes a logged field holds, to show them in words."""
    if key == "state":
        return "wave_state" if action == "wave_plan" else "campaign_state"
    return {"status": "content_status", "review": "review", "source": "title_source", "decision": "wave_decision"}.get(key)


def _value(key: str, value, action: str) -> str:
    kind = _value_kind(key, action)
    if kind and isinstance(value, str):
        return label(kind, value)
    if key == "model_version" and isinstance(value, str):
        return scorer_label(value)
    if key == "segment" and isinstance(value, dict):
        return segment_label(value)
    return as_json_value(value)


@register.filter
def changes(decision) -> list[tuple[str, str, str]]:
    """(field, before, after) for each field a logged decision changed or set, in words."""
    before, after = decision.before or {}, decision.after or {}
    out = []
    for key in list(after) + [k for k in before if k not in after]:
        if key in ("variants", "approved_titles"):
            continue
        b, a = before.get(key), after.get(key)
        if b != a:
            out.append((label("field", key), _value(key, b, decision.action), _value(key, a, decision.action)))
    return out


@register.filter
def action_label(action: str) -> str:
    return label("action", action)
