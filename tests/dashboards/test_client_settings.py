"""The client settings page: admins change a client's policy and auto-approve rule in people's
units, with each field checked, one decision row per rule changed, nothing saved on an error."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client as HttpClient

from apps.contents.models import AutoApprovePolicy
from apps.core.models import Decision, Policy

pytestmark = pytest.mark.django_db


def browser_for(people, role) -> HttpClient:
    c = HttpClient()
    c.force_login(people[role])
    return c


def form_of(web, client) -> dict:
    r = web.get(f"/dashboards/settings/{client.pk}/")
    assert r.status_code == 200
    form = r.context["form"]
    return {name: ("on" if value is True else "" if value is False else value)
            for name, value in form.initial.items() if value is not None and value is not False}


def test_only_admins_reach_the_settings(people, client_a):
    for role in ("editor", "operator", "other_editor"):
        web = browser_for(people, role)
        assert web.get(f"/dashboards/settings/{client_a.pk}/").status_code == 403, role
        assert web.post(f"/dashboards/settings/{client_a.pk}/", {"floor": "9"}).status_code == 403, role
    assert Policy.objects.get(client=client_a).floor != 9
    admin = browser_for(people, "admin")
    r = admin.get("/dashboards/settings/")
    assert r.status_code == 302 and r["Location"].startswith("/dashboards/settings/")
    assert admin.get("/dashboards/settings/999999/").status_code == 404


def test_a_change_is_saved_in_the_models_units_and_logged_once_per_rule(people, client_a):
    admin = browser_for(people, "admin")
    before = Policy.objects.get(client=client_a)
    data = form_of(admin, client_a)
    assert data["content_lifetime"] == int(before.content_lifetime.total_seconds() // 60)
    data.update(evaluation_delay="10", holdout_share="5", floor="1.3", target="2.2", cap_window="5",
                auto_enabled="on", auto_min_score="3.5", auto_categories="Politics, economy")
    r = admin.post(f"/dashboards/settings/{client_a.pk}/", data)
    assert r.status_code == 302, r.context["form"].errors
    p = Policy.objects.get(client=client_a)
    assert (p.evaluation_delay, p.holdout_share, p.floor, p.target, p.cap_window) == (
        timedelta(minutes=10), 0.05, 1.3, 2.2, timedelta(days=5))
    assert p.content_lifetime == before.content_lifetime  # untouched
    auto = AutoApprovePolicy.objects.get(client=client_a)
    assert (auto.enabled, auto.min_score, auto.categories) == (True, 3.5, ["economy", "politics"])
    rows = Decision.objects.filter(client=client_a, action__in=["policy_set", "auto_approve_policy_set"])
    assert sorted(d.action for d in rows) == ["auto_approve_policy_set", "policy_set"]
    policy_row = rows.get(action="policy_set")
    assert set(policy_row.after) == {"evaluation_delay", "holdout_share", "floor", "target", "cap_window"}
    assert policy_row.after["evaluation_delay"] == 600 and policy_row.actor_name == "adm"
    page = admin.get(f"/dashboards/settings/{client_a.pk}/").content.decode()
    assert "Holdout (percent of each wave): 0 → <strong>5</strong>" in page  # listed in the form's units
    assert "Evaluation delay (minutes): 30 → <strong>10</strong>" in page
    # The same form again: nothing changes, nothing is logged.
    assert admin.post(f"/dashboards/settings/{client_a.pk}/", form_of(admin, client_a)).status_code == 302
    assert rows.count() == 2


@pytest.mark.parametrize("field, value, message", [
    ("target", "1.0", "at least the floor"),  # floor stays 1.5 by default
    ("holdout_share", "60", "less than or equal to 50"),
    ("first_wave_size", "0", "greater than or equal to 1"),
    ("quiet_hours_end", "24", "less than or equal to 23"),
    ("evaluation_delay", "soon", "whole number"),
])
def test_an_invalid_value_is_shown_on_its_field_and_nothing_is_saved(people, client_a, field, value, message):
    admin = browser_for(people, "admin")
    data = form_of(admin, client_a)
    data.update({"floor": "1.5", "holdout_share": "10", field: value})
    before = Policy.objects.get(client=client_a)
    r = admin.post(f"/dashboards/settings/{client_a.pk}/", data)
    assert r.status_code == 400
    errors = r.context["form"].errors
    assert field in errors and message in " ".join(errors[field]), errors
    assert f'id="field-{field}"' in r.content.decode()
    after = Policy.objects.get(client=client_a)
    assert (after.holdout_share, after.floor, after.updated_at) == (before.holdout_share, before.floor, before.updated_at)
    assert not Decision.objects.filter(client=client_a, action="policy_set").exists()
