"""The client settings form: a client's policy and auto-approve rule in the units people think in
(minutes, days, percent), checked here with the same bounds as the model, then saved by
``apps.dashboards.services.client_settings_save``."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

MINUTES = {"evaluation_delay", "content_lifetime", "observation_window"}
DAYS = {"cap_window"}
PERCENT = {"exploration_share", "holdout_share"}

SECTIONS = [
    (_("Evaluation"), ["evaluation_delay", "content_lifetime", "candidate_threshold"]),
    (_("The ramp"), ["first_wave_size", "growth", "max_sends", "max_waves", "observation_window", "floor", "target",
                     "alpha"]),
    (_("Measurement"), ["exploration_share", "holdout_share"]),
    (_("Who may be pushed"), ["inactive_days", "cap_window", "quiet_hours_start", "quiet_hours_end", "slot_objective"]),
    (_("Auto-approve"), ["auto_enabled", "auto_min_score", "auto_categories"]),
]


class ClientSettingsForm(forms.Form):
    evaluation_delay = forms.IntegerField(label=_("Evaluation delay (minutes)"), min_value=0, max_value=24 * 60,
                                          help_text=_("How long after its creation a content is judged; 0 = at once."))
    content_lifetime = forms.IntegerField(label=_("Content lifetime (minutes)"), min_value=1, max_value=14 * 24 * 60,
                                          help_text=_("A content expires this long after its creation; its push ends with it."))
    candidate_threshold = forms.FloatField(label=_("Candidate threshold (×)"), min_value=0, max_value=100,
                                           help_text=_("Predicted click improvement from which a content is a candidate."))
    first_wave_size = forms.IntegerField(label=_("First wave (people)"), min_value=1, max_value=10_000_000)
    growth = forms.FloatField(label=_("Growth per wave (×)"), min_value=1, max_value=100)
    max_sends = forms.IntegerField(label=_("At most, per content (people)"), min_value=1, max_value=100_000_000)
    max_waves = forms.IntegerField(label=_("At most, waves"), min_value=1, max_value=50)
    observation_window = forms.IntegerField(label=_("Observation per wave (minutes)"), min_value=1, max_value=24 * 60)
    floor = forms.FloatField(label=_("Floor (×)"), min_value=0.01, max_value=100,
                             help_text=_("Expand only when confident the click improvement is above this."))
    target = forms.FloatField(label=_("Target (×)"), min_value=0.01, max_value=100,
                              help_text=_("Stop when confident the click improvement is below this."))
    alpha = forms.FloatField(label=_("Error of each test"), min_value=0.001, max_value=0.49)
    exploration_share = forms.FloatField(label=_("Exploration (percent of the first wave)"), min_value=0, max_value=50)
    holdout_share = forms.FloatField(label=_("Holdout (percent of each wave)"), min_value=0, max_value=50)
    inactive_days = forms.IntegerField(label=_("Inactive after (days)"), min_value=1, max_value=365)
    cap_window = forms.IntegerField(label=_("One content push per (days)"), min_value=1, max_value=90)
    quiet_hours_start = forms.IntegerField(label=_("Quiet from (local hour)"), min_value=0, max_value=23)
    quiet_hours_end = forms.IntegerField(label=_("Quiet until (local hour)"), min_value=0, max_value=23)
    slot_objective = forms.ChoiceField(
        label=_("Each person's weekly slot goes to"),
        choices=[("clicks", _("the content worth most clicks")),
                 ("reactivations", _("the content worth most clicks by inactive people")),
                 ("first_come", _("the first content that ranks them"))],
        help_text=_("Most clicks: everyone opted in may be pushed; the other two: the inactive only. With a click model, "
                    "a content reaches a person only when it is worth at least what their slot is expected to find in "
                    "the coming days. Campaigns already running keep the people they started with."))
    auto_enabled = forms.BooleanField(label=_("Auto-approve on"), required=False)
    auto_min_score = forms.FloatField(label=_("Auto-approve from score (×)"), min_value=0, max_value=100)
    auto_categories = forms.CharField(label=_("Auto-approve categories"), required=False, max_length=1000,
                                      help_text=_("Comma-separated; empty = every category."))

    @classmethod
    def initial_of(cls, policy, auto) -> dict:
        initial = {}
        for name in cls.base_fields:
            if name.startswith("auto_"):
                continue
            value = getattr(policy, name)
            if name in MINUTES:
                value = int(value.total_seconds() // 60)
            elif name in DAYS:
                value = int(value.total_seconds() // 86400)
            elif name in PERCENT:
                value = round(value * 100, 2)
            initial[name] = value
        initial.update(auto_enabled=bool(auto and auto.enabled), auto_min_score=auto.min_score if auto else 3.0,
                       auto_categories=", ".join(auto.categories) if auto else "")
        return initial

    def clean(self):
        data = super().clean()
        if data.get("floor") is not None and data.get("target") is not None and data["target"] < data["floor"]:
            self.add_error("target", _("The target must be at least the floor."))
        return data

    def policy_values(self) -> dict:
        """The policy's fields in the model's units."""
        out = {}
        for name, value in self.cleaned_data.items():
            if name.startswith("auto_"):
                continue
            if name in MINUTES:
                value = timedelta(minutes=value)
            elif name in DAYS:
                value = timedelta(days=value)
            elif name in PERCENT:
                value = value / 100
            out[name] = value
        return out

    def sections(self):
        return [(title, [self[name] for name in names]) for title, names in SECTIONS]


AUTO_FIELDS = {"enabled": "auto_enabled", "min_score": "auto_min_score", "categories": "auto_categories"}


def change_rows(before: dict, after: dict) -> list[tuple[str, str, str]]:
    """A decision row's before and after (model units, durations in seconds) as the form shows
    them: (label, before, after) per field."""
    def shown(name: str, value) -> str:
        if value is None:
            return "–"
        if name in MINUTES:
            return f"{value / 60:g}"
        if name in DAYS:
            return f"{value / 86400:g}"
        if name in PERCENT:
            return f"{value * 100:g}"
        if isinstance(value, list):
            return ", ".join(map(str, value)) or "–"
        return str(value)

    rows = []
    for key in after.keys() | before.keys():
        name = AUTO_FIELDS.get(key, key) if key in AUTO_FIELDS and key not in ClientSettingsForm.base_fields else key
        field = ClientSettingsForm.base_fields.get(name)
        rows.append((str(field.label) if field else key, shown(key, before.get(key)), shown(key, after.get(key))))
    return sorted(rows)
