"""A client's business rules come from one object, its policy: defaults from one module, edited by
admins on the client's page, read by evaluation, the engine, the pages."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from apps.audience.models import Subscriber
from apps.campaigns.models import Campaign
from apps.core.models import Decision, Policy
from apps.core.policy import DEFAULTS
from apps.core.services import client_create, policy_set
from recsys.ramp import DEFAULT_CONFIG
from tests.campaigns.conftest import approved_content, now, population  # noqa: F401  (fixtures)


@pytest.mark.django_db
def test_a_new_client_gets_the_default_policy_with_its_overrides(settings):
    plain = client_create(slug="plain")
    assert plain.policy.floor == DEFAULTS.floor == DEFAULT_CONFIG.floor
    assert plain.policy.target == DEFAULTS.target == DEFAULT_CONFIG.target
    assert plain.policy.first_wave_size == DEFAULT_CONFIG.initial_size
    assert plain.policy.cap_window == timedelta(days=7)
    assert (plain.policy.exploration_share, plain.policy.holdout_share) == (0.10, 0.05)
    assert plain.policy.evaluation_delay == settings.PUSHADMIN["EVALUATION_DELAY"]
    fast = client_create(slug="fast", evaluation_delay=timedelta(0), floor=1.2, target=2.0)
    assert (fast.policy.evaluation_delay, fast.policy.floor, fast.policy.target) == (timedelta(0), 1.2, 2.0)


@pytest.mark.django_db
def test_bad_rules_are_refused_naming_the_field(client_a, people):
    with pytest.raises(ValidationError) as caught:
        policy_set(client=client_a, user=people["admin"], floor=3.0, target=2.0)
    assert "target" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        client_create(slug="bad", growth=0.5)
    assert "growth" in caught.value.message_dict
    assert Policy.objects.get(client=client_a).floor == DEFAULTS.floor


@pytest.mark.django_db
def test_a_change_is_logged_with_before_and_after(client_a, people):
    policy_set(client=client_a, user=people["admin"], cap_window=timedelta(days=3), first_wave_size=50)
    row = Decision.objects.get(action="policy_set")
    assert row.actor_user == people["admin"] and row.client_id == client_a.pk
    assert row.before == {"cap_window": 7 * 86400.0, "first_wave_size": DEFAULTS.first_wave_size}
    assert row.after == {"cap_window": 3 * 86400.0, "first_wave_size": 50}
    policy_set(client=client_a, user=people["admin"], first_wave_size=50)  # no change: no row
    assert Decision.objects.filter(action="policy_set").count() == 1


@pytest.mark.django_db
def test_the_engine_launches_with_the_policy_and_a_later_edit_leaves_running_campaigns_alone(
        client_a, approved_content, population, people, now):
    from apps.orchestration.engine import campaign_launch

    population(500)
    policy_set(client=client_a, user=people["admin"], first_wave_size=40, floor=1.2, target=2.0, max_waves=5,
               observation_window=timedelta(minutes=45), inactive_days=9)
    campaign = campaign_launch(content=approved_content(), now=now)
    assert (campaign.initial_size, campaign.floor, campaign.target, campaign.max_waves) == (40, 1.2, 2.0, 5)
    assert campaign.observation_window == timedelta(minutes=45)
    assert campaign.segment == {"activity": "any", "inactive_days": 9}  # the clicks objective: everyone
    assert campaign.waves.get().sends == 40
    policy_set(client=client_a, user=people["admin"], slot_objective="reactivations")
    inactive_only = campaign_launch(content=approved_content(external_id="push-2"), now=now)
    assert inactive_only.segment == {"activity": "inactive", "inactive_days": 9}
    policy_set(client=client_a, user=people["admin"], slot_objective="clicks")
    policy_set(client=client_a, user=people["admin"], floor=1.8, target=3.0)
    assert (Campaign.objects.get(pk=campaign.pk).floor, Campaign.objects.get(pk=campaign.pk).target) == (1.2, 2.0)


@pytest.mark.django_db
def test_the_cap_window_and_quiet_hours_are_the_policys(client_a, approved_content, population, people, now):
    from apps.orchestration.engine import campaign_launch

    subs = population(100)
    Subscriber.objects.filter(pk__in=[s.pk for s in subs[:50]]).update(last_content_push_at=now - timedelta(days=2))
    first = campaign_launch(content=approved_content("a"), now=now, initial_size=100)
    assert first.waves.get().sends == 50  # the others were pushed 2 days ago: within 7 days
    policy_set(client=client_a, user=people["admin"], cap_window=timedelta(days=1))
    Subscriber.objects.filter(pk__in=[s.pk for s in subs[:50]]).update(last_content_push_at=now - timedelta(days=2))
    second = campaign_launch(content=approved_content("b"), now=now, initial_size=100)
    assert second.waves.get().sends == 50  # two days ago is outside a one-day window
    # Noon UTC in the subscribers' zone: quiet from 11 to 13 means nobody now.
    policy_set(client=client_a, user=people["admin"], quiet_hours_start=11, quiet_hours_end=13)
    third = campaign_launch(content=approved_content("c", created_at=now + timedelta(days=2)),
                            now=now + timedelta(days=2, minutes=30), initial_size=100)
    assert third.waves.get().sends == 0


@pytest.mark.django_db
def test_admins_edit_the_policy_on_the_clients_page(client_a, people):
    from django.test import Client as WebClient

    web = WebClient()
    web.force_login(people["admin"])
    url = f"/admin/core/client/{client_a.pk}/change/"
    page = web.get(url)
    assert page.status_code == 200 and b"cap_window" in page.content and b"first_wave_size" in page.content
    p = client_a.policy
    data = {"slug": client_a.slug, "name": client_a.name, "api_rate": "",
            "policy-TOTAL_FORMS": "1", "policy-INITIAL_FORMS": "1", "policy-MIN_NUM_FORMS": "0",
            "policy-MAX_NUM_FORMS": "1", "policy-0-client": str(client_a.pk),
            "api_keys-TOTAL_FORMS": "1", "api_keys-INITIAL_FORMS": "1", "api_keys-MIN_NUM_FORMS": "0",
            "api_keys-MAX_NUM_FORMS": "1000", "api_keys-0-id": str(client_a.api_keys.get().pk),
            "api_keys-0-client": str(client_a.pk), "api_keys-0-name": "test", "api_keys-0-revoked_at_0": "",
            "api_keys-0-revoked_at_1": ""}
    for name in ("evaluation_delay", "content_lifetime", "cap_window", "observation_window"):
        data[f"policy-0-{name}"] = str(getattr(p, name))
    for name in ("candidate_threshold", "inactive_days", "quiet_hours_start", "quiet_hours_end", "first_wave_size",
                 "growth", "max_sends", "max_waves", "floor", "target", "alpha", "exploration_share", "holdout_share"):
        data[f"policy-0-{name}"] = str(getattr(p, name))
    data["policy-0-target"] = "2.8"
    response = web.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Policy.objects.get(client=client_a).target == 2.8
    row = Decision.objects.get(action="policy_set")
    assert row.before == {"target": DEFAULTS.target} and row.after == {"target": 2.8}
    assert row.actor_user == people["admin"]


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_each_clients_rules_into_its_policy():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    before = [("core", "0005_drop_unused_states")]
    after = [("core", "0006_policy")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    old.get_model("core", "Client").objects.create(slug="old", name="Old", evaluation_delay=timedelta(minutes=5),
                                                   content_lifetime=timedelta(hours=2), candidate_threshold=0.7,
                                                   quiet_hours_start=23, quiet_hours_end=6)
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    policy = new.get_model("core", "Policy").objects.get(client__slug="old")
    assert (policy.evaluation_delay, policy.content_lifetime, policy.candidate_threshold) == \
        (timedelta(minutes=5), timedelta(hours=2), 0.7)
    assert (policy.quiet_hours_start, policy.quiet_hours_end, policy.floor) == (23, 6, DEFAULTS.floor)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_page_filters_colour_by_the_rules_they_are_given():
    from apps.contents.templatetags.contents_tags import score_level
    from apps.dashboards.templatetags.dashboards_tags import level

    strict, lenient = Policy(floor=2.0, target=3.0), Policy(floor=1.0, target=1.5)
    assert (score_level(2.2, strict), score_level(2.2, lenient), score_level(None, strict)) == ("mid", "high", "none")
    assert (level(1.2, strict), level(1.2, lenient), level(3.0, strict), level(None, strict)) == ("low", "mid", "good", "none")
    assert level(2.5, DEFAULTS) == "good" and level(2.0, DEFAULTS) == "mid"
