"""Chart.js configurations built from the selectors' numbers (no number is computed here).

Each function returns a plain dict for ``json_script``; ``static/dashboards.js`` draws every
``<canvas data-chart=ID>`` from it. Axis options may carry ``"format": "percent" | "times" |
"count"``, which the script turns into tick and tooltip labels.

Every label is in the reader's language (built while their request's language is active), days
in the formats of ``pushadmin.formats``, times on the reader's clock.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

ACCENT, OK, BAD, AMBER, PURPLE, MUTED, INK = "#3056d3", "#12805c", "#c0362c", "#d99a00", "#7a4fc4", "#98a2b3", "#1d2330"
SERIES = [ACCENT, "#e07a2f", OK, PURPLE, "#2aa4bf", AMBER, "#c45f8c", "#5b6b82"]


def _alpha(hex_color: str, a: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    return f"rgba({r},{g},{b},{a})"


def _axis(title: str, fmt: str = "count", position: str = "left", grid: bool = True, **extra) -> dict:
    return {"position": position, "beginAtZero": True, "format": fmt, "title": {"display": True, "text": title},
            "grid": {"drawOnChartArea": grid}, **extra}


def _day(d) -> str:
    return date_format(d, "MONTH_DAY_FORMAT")


def _clock(at, fmt: str = "H:i") -> str:
    return date_format(timezone.localtime(at), fmt)


def _round(x, nd=4):
    return None if x is None else round(float(x), nd)


def weekly_actives(weeks: list[dict]) -> dict:
    labels = [_("%(day)s (so far)") % {"day": _day(w["week_start"])} if w["partial"] else _day(w["week_start"]) for w in weeks]
    return {
        "type": "bar",
        "data": {"labels": labels, "datasets": [
            {"type": "bar", "label": _("Weekly active subscribers"), "data": [w["active"] for w in weeks],
             "backgroundColor": [_alpha(ACCENT, 0.35 if w["partial"] else 0.8) for w in weeks], "yAxisID": "y", "order": 2},
            {"type": "line", "label": _("Brought back by pushes"), "data": [w["reactivated"] for w in weeks],
             "borderColor": OK, "backgroundColor": OK, "yAxisID": "y1", "tension": 0.25, "order": 1, "pointRadius": 3},
        ]},
        "options": {"scales": {"y": _axis(_("active subscribers")), "y1": _axis(_("reactivated"), position="right", grid=False)}},
    }


def daily_pushes(days: list[dict]) -> dict:
    return {
        "type": "bar",
        "data": {"labels": [_day(d["day"]) for d in days], "datasets": [
            {"type": "bar", "label": _("Pushes sent"), "data": [d["delivered"] for d in days],
             "backgroundColor": _alpha(ACCENT, 0.75), "yAxisID": "y", "order": 2},
            {"type": "line", "label": _("Clicks"), "data": [d["clicks"] if d["sends"] else None for d in days],
             "borderColor": "#e07a2f", "backgroundColor": "#e07a2f", "yAxisID": "y1", "order": 1, "pointRadius": 4,
             "showLine": False},
        ]},
        "options": {"scales": {"y": _axis(_("pushes")), "y1": _axis(_("clicks"), position="right", grid=False)}},
    }


def daily_improvement(days: list[dict], *, target: float | None = None) -> dict:
    labels = [_day(d["day"]) for d in days]
    datasets = [
        {"type": "bar", "label": _("Click improvement"), "data": [_round(d["improvement"], 3) for d in days], "order": 2,
         "backgroundColor": [_alpha(OK if (d["improvement"] or 0) >= (target or 2.4) else ACCENT if (d["improvement"] or 0) >= 1.0
                                    else BAD, 0.75) for d in days]},
        {"type": "line", "label": _("Usual (1.0×)"), "data": [1.0] * len(days), "borderColor": MUTED, "borderDash": [4, 4],
         "pointRadius": 0, "borderWidth": 1},
    ]
    if target:
        datasets.append({"type": "line", "label": _("Target (%(target)s×)") % {"target": f"{target:g}"}, "data": [target] * len(days), "borderColor": AMBER,
                         "borderDash": [6, 4], "pointRadius": 0, "borderWidth": 1})
    return {"type": "bar", "data": {"labels": labels, "datasets": datasets},
            "options": {"scales": {"y": _axis(_("clicks / expected"), fmt="times")}}}


def slot_share(subscribers: dict) -> dict:
    taken, opted_in = subscribers["slot_taken"], subscribers["opted_in"]
    return {
        "type": "doughnut",
        "data": {"labels": [_("Slot taken (pushed in the last 7 days)"), _("Free")],
                 "datasets": [{"data": [taken, max(opted_in - taken, 0)], "backgroundColor": [ACCENT, "#e4e7ec"], "borderWidth": 0}]},
        "options": {"cutout": "68%", "plugins": {"legend": {"position": "bottom"}}},
    }


def _wave_labels(waves: list[dict]) -> list[str]:
    return [_("W%(number)s · %(time)s") % {"number": w["number"], "time": _clock(w["created_at"])} for w in waves]


def wave_improvement(page: dict) -> dict:
    """Per wave, cumulative through it: improvement, the anytime-valid interval (wide, light) and
    the normal interval (narrow, dark), against the floor and target lines."""
    waves = page["waves"]
    # The axis shows every point estimate (up to 25x); interval ends beyond it are drawn to the edge.
    estimates = [w["cumulative"]["improvement"] for w in waves if w["cumulative"] and w["cumulative"]["improvement"] is not None]
    top = min(max([page["target"] * 1.25, *(e * 1.15 for e in estimates)]), 25.0)

    def span(w, key):
        c = w["cumulative"]
        if not c or not c.get(key):
            return None
        lo, hi = c[key]["lo"], c[key]["hi"]
        lo = 0.0 if lo is None else min(max(lo, 0.0), top)
        hi = top if hi is None else min(hi, top)
        return [round(lo, 4), round(hi, 4)]

    level = f"{page['level']:.0%}"
    n = len(waves)
    return {
        "type": "bar",
        "data": {"labels": _wave_labels(waves), "datasets": [
            {"type": "bar", "label": _("Anytime-valid %(level)s interval (decides)") % {"level": level}, "data": [span(w, "anytime") for w in waves],
             "backgroundColor": _alpha(ACCENT, 0.18), "borderColor": _alpha(ACCENT, 0.6), "borderWidth": 1,
             "grouped": False, "barPercentage": 0.7, "order": 3},
            {"type": "bar", "label": _("Normal %(level)s interval (one look only)") % {"level": level}, "data": [span(w, "normal") for w in waves],
             "backgroundColor": _alpha(PURPLE, 0.45), "grouped": False, "barPercentage": 0.25, "order": 2},
            {"type": "line", "label": _("Improvement (all waves so far)"),
             "data": [_round(w["cumulative"]["improvement"], 3) if w["cumulative"] else None for w in waves],
             "borderColor": INK, "backgroundColor": INK, "pointRadius": 4, "showLine": n > 1, "order": 1, "spanGaps": True},
            {"type": "line", "label": _("Floor %(floor)s×") % {"floor": f"{page['floor']:g}"}, "data": [page["floor"]] * n, "borderColor": BAD,
             "borderDash": [6, 4], "pointRadius": 0, "borderWidth": 1.5, "order": 0},
            {"type": "line", "label": _("Target %(target)s×") % {"target": f"{page['target']:g}"}, "data": [page["target"]] * n, "borderColor": OK,
             "borderDash": [6, 4], "pointRadius": 0, "borderWidth": 1.5, "order": 0},
        ]},
        "options": {"scales": {"y": _axis(_("click improvement"), fmt="times", max=round(top, 2))}},
    }


def wave_sizes(page: dict) -> dict:
    waves = page["waves"]
    return {
        "type": "bar",
        "data": {"labels": _wave_labels(waves), "datasets": [
            {"type": "bar", "label": _("Recipients"), "data": [w["sends"] for w in waves], "backgroundColor": _alpha(ACCENT, 0.7),
             "yAxisID": "y", "order": 3},
            {"type": "bar", "label": _("Clicks"), "data": [w["clicks"] for w in waves], "backgroundColor": "#e07a2f",
             "yAxisID": "y1", "order": 2},
            {"type": "line", "label": _("Expected clicks"), "data": [_round(w["expected_clicks"], 2) for w in waves],
             "borderColor": INK, "backgroundColor": INK, "borderDash": [4, 3], "yAxisID": "y1", "order": 1, "pointRadius": 3},
        ]},
        "options": {"scales": {"y": _axis(_("recipients")), "y1": _axis(_("clicks"), position="right", grid=False)}},
    }


def variant_shares(page: dict) -> dict:
    waves = page["waves"]
    datasets = []
    for i, v in enumerate(page["variants"]):
        color = SERIES[i % len(SERIES)]
        datasets.append({"type": "bar", "label": _("#%(n)s share") % {"n": i + 1}, "data": [_round(c["share"], 4) for c in v["per_wave"]],
                         "backgroundColor": _alpha(color, 0.55), "stack": "share", "yAxisID": "y", "order": 2})
        datasets.append({"type": "line", "label": _("#%(n)s CTR") % {"n": i + 1}, "data": [_round(c["ctr"], 5) for c in v["per_wave"]],
                         "borderColor": color, "backgroundColor": color, "yAxisID": "y1", "order": 1, "pointRadius": 3,
                         "spanGaps": True})
    return {
        "type": "bar",
        "data": {"labels": _wave_labels(waves), "datasets": datasets},
        "options": {"scales": {"x": {"stacked": True},
                               "y": _axis(_("share of the wave"), fmt="percent", stacked=True, max=1),
                               "y1": _axis(_("CTR"), fmt="percent", position="right", grid=False)}},
    }


def breakdown(items: list[dict], *, label: str, color: str = ACCENT, limit: int = 8) -> dict:
    items = items[:limit]
    return {
        "type": "bar",
        "data": {"labels": [i["label"] for i in items],
                 "datasets": [{"label": label, "data": [i["n"] for i in items], "backgroundColor": _alpha(color, 0.75)}]},
        "options": {"indexAxis": "y", "plugins": {"legend": {"display": False}},
                    "scales": {"x": _axis(_("recipients"), position="bottom")}},
    }


def hourly_delivery(hours: list[dict]) -> dict:
    return {
        "type": "bar",
        "data": {"labels": [_clock(h["hour"], "H:00") for h in hours], "datasets": [
            {"label": _("Delivered"), "data": [h["delivered"] for h in hours], "backgroundColor": _alpha(OK, 0.75), "stack": "s"},
            {"label": _("Failed"), "data": [h["failed"] for h in hours], "backgroundColor": BAD, "stack": "s"},
        ]},
        "options": {"scales": {"x": {"stacked": True}, "y": _axis(_("pushes"), stacked=True)}},
    }


def queue_depths(queues: dict) -> dict:
    names = sorted(queues)
    return {
        "type": "bar",
        "data": {"labels": names, "datasets": [{"label": _("Tasks waiting"), "data": [queues[n] for n in names],
                                                "backgroundColor": [SERIES[i % len(SERIES)] for i in range(len(names))]}]},
        "options": {"plugins": {"legend": {"display": False}}, "scales": {"y": _axis(_("tasks waiting"))}},
    }
