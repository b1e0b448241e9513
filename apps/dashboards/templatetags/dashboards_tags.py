"""Number formats of the dashboards (the numbers themselves come from the selectors)."""

from __future__ import annotations

import math

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext as _

register = template.Library()


def _ok(x) -> bool:
    return x is not None and not (isinstance(x, float) and (math.isnan(x) or math.isinf(x)))


@register.filter
def times(x, nd: int = 2) -> str:
    """2.4133 -> '2.41×'; None -> '–'."""
    return f"{float(x):.{int(nd)}f}×" if _ok(x) else "–"


@register.filter
def pct(x, nd: int = 1) -> str:
    return f"{float(x) * 100:.{int(nd)}f}%" if _ok(x) else "–"


@register.filter
def num(x) -> str:
    if not _ok(x):
        return "–"
    return number_format(round(x), force_grouping=True) if isinstance(x, (int, float)) else str(x)


@register.filter
def dec(x, nd: int = 1) -> str:
    """1.97 -> '2.0', 1234.56 -> '1,234.6' (grouped for the page's language). Rounded here:
    Django's number_format cuts a float's extra decimals off rather than rounding them."""
    return number_format(round(float(x), int(nd)), int(nd), force_grouping=True) if _ok(x) else "–"


@register.filter
def metric(x, nd: int = 4) -> str:
    """A model's offline metric: a count as a grouped integer (3,461), a rate or score with
    ``nd`` decimals (0.7790)."""
    if isinstance(x, int) and not isinstance(x, bool) or (isinstance(x, float) and _ok(x) and x.is_integer() and abs(x) >= 10):
        return num(x)
    return dec(x, nd)


@register.filter
def interval(span, nd: int = 2) -> str:
    """{'lo': 1.2, 'hi': None} -> '1.20 – ∞'."""
    if not span:
        return "–"
    lo = f"{span['lo']:.{int(nd)}f}" if _ok(span.get("lo")) else "0"
    hi = f"{span['hi']:.{int(nd)}f}" if _ok(span.get("hi")) else "∞"
    return f"{lo} – {hi}"


@register.filter
def level(x, rules) -> str:
    """CSS class of an improvement against the floor and target of ``rules`` (a campaign, or a
    client's policy): good / mid / low / none."""
    if not _ok(x) or rules is None:
        return "none"
    return "good" if x >= rules.target else "mid" if x >= rules.floor else "low"


def _span(x: float, units: tuple[str, str, str], second_digits: int) -> str:
    """``x`` seconds in the unit that reads best: seconds, minutes or hours (``units``: the
    translated formats of each, with ``%(n)s``)."""
    if x < 90:
        return units[0] % {"n": f"{x:.{second_digits}f}"}
    if x < 5400:
        return units[1] % {"n": f"{x / 60:.0f}"}
    return units[2] % {"n": f"{x / 3600:.1f}"}


@register.filter
def seconds(x) -> str:
    """How long ago: "12 s ago", "3 min ago", "1.5 h ago"."""
    if not _ok(x):
        return _("never")
    return _span(float(x), (_("%(n)s s ago"), _("%(n)s min ago"), _("%(n)s h ago")), 0)


@register.filter
def took(x) -> str:
    """How long something took: "4.2 s", "3 min", "1.5 h"."""
    if not _ok(x):
        return "–"
    return _span(float(x), (_("%(n)s s"), _("%(n)s min"), _("%(n)s h")), 1)


@register.filter
def get(d, key):
    return (d or {}).get(key) if hasattr(d, "get") else None
