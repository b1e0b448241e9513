"""The click model's loop: each wave keeps what the ranker saw of the people it chose, the
trainer learns who clicks from those rows once their clicks had time to arrive, and the product's
ranker then orders its shortlist by that model."""

import io
from datetime import timedelta

import numpy as np
import pytest

from apps.audience.models import Subscriber
from apps.campaigns.models import Wave, WaveFeatures
from apps.campaigns.selectors import wave_features
from apps.core.services import policy_set
from apps.delivery.models import Send
from apps.events.services import events_ingest
from apps.mlops.models import ModelKind
from apps.mlops.ranking import ModelRanker, ranker_for
from apps.mlops.selectors import active_version
from apps.mlops.training import train_click, train_mf
from apps.orchestration.engine import campaign_launch
from recsys.click import CLICK_FEATURES

STEP = timedelta(minutes=30)


def tribe_of(sub) -> str:
    return "a" if int(sub.external_id[1:]) < 200 else "b"


def active(sub) -> bool:  # the recently idle half
    return int(sub.external_id[1:]) % 2 == 0


@pytest.fixture
def world(request, client_a, people, population, content_factory, approved_content, now, settings, tmp_path):
    """400 subscribers in two tribes (p0-p199 read 'a' contents, p200-p399 'b'), all inactive
    (the default audience): the even ones idle for 8 days, the odd ones for 40. A click happens
    when the content is the person's tribe's and the person left recently: affinity alone cannot
    tell the two halves apart. Parametrized "none": no MF version is trained (the interim ranker)."""
    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    subs = population(400)
    rng = np.random.default_rng(3)
    events = []
    for j in range(20):
        for tribe, lo in (("a", 0), ("b", 200)):
            c = content_factory(client_a, f"old-{tribe}{j}", created_at=now - timedelta(days=3, hours=j))
            for i in rng.choice(np.arange(lo, lo + 200), 40, replace=False):
                events.append({"event_id": f"{tribe}{j}-{i}", "type": "read", "subscriber": f"p{i}", "content": c.external_id,
                               "occurred_at": (now - timedelta(days=3, hours=j, minutes=-int(rng.integers(1, 300)))).isoformat()})
    events_ingest(client=client_a, items=events, now=now)
    for s in subs:  # the activity the click law depends on, whatever the reads above did to it
        s.last_activity_at = now - (timedelta(days=8) if active(s) else timedelta(days=40))
    Subscriber.objects.bulk_update(subs, ["last_activity_at"])
    if getattr(request, "param", "mf") == "mf":
        assert train_mf(client=client_a, now=now) is not None and active_version(client_a, ModelKind.MF) is not None
    policy_set(client=client_a, user=people["admin"], first_wave_size=100, exploration_share=0.2, holdout_share=0.0,
               cap_window=timedelta(minutes=20), quiet_hours_start=0, quiet_hours_end=0, max_waves=1)
    return client_a, {s.pk: s for s in subs}


def recent_in_tribe(sub, tribe) -> bool:  # the default click law
    return tribe_of(sub) == tribe and active(sub)


def launch_and_click(client, subs, approved_content, now, j, *, score=None, clicks=recent_in_tribe):
    """Content j (tribe a when j is even; evaluated at ``score`` when given) gets three early
    readers, is launched at its time, its wave is delivered and the clicks of the law ``clicks``
    (who, the content's tribe) come ten minutes later."""
    at = now + j * STEP
    tribe = "a" if j % 2 == 0 else "b"
    name = f"new-{j}" if score is None else f"scored-{j}"
    content = approved_content(external_id=name, created_at=at - timedelta(minutes=40)) if score is None \
        else scored(approved_content, name, at, score)
    lo = 0 if tribe == "a" else 200
    events_ingest(client=client, now=at, items=[
        {"event_id": f"seed-{name}-{i}", "type": "read", "subscriber": f"p{lo + 2 * i + 1}", "content": content.external_id,
         "occurred_at": (at - timedelta(minutes=20)).isoformat()} for i in range(3)])
    campaign = campaign_launch(content=content, now=at)
    rows = Send.objects.filter(campaign=campaign, state=Send.State.PENDING)
    rows.update(state=Send.State.SENT, sent_at=at)
    clickers = [sid for sid in rows.model.objects.filter(campaign=campaign).values_list("subscriber_id", flat=True)
                if clicks(subs[sid], tribe)]
    Send.objects.filter(campaign=campaign, subscriber_id__in=clickers).update(clicked_at=at + timedelta(minutes=10))
    Wave.objects.filter(campaign=campaign).update(sent_at=at)
    return campaign


@pytest.mark.django_db
def test_the_click_model_learns_from_the_waves_it_logged_and_then_ranks(world, approved_content, now):
    client, subs = world
    first = ranker_for(client)
    assert isinstance(first, ModelRanker) and first.click_version is None
    campaigns = [launch_and_click(client, subs, approved_content, now, j) for j in range(16)]
    last = now + 15 * STEP

    # every wave kept the ranker's rows of the people it sent to, explored ones included
    for c in campaigns:
        wave = c.waves.get()
        ids, x, names = wave_features(wave_ids=[wave.pk])[wave.pk]
        sent = set(Send.objects.filter(wave=wave, state=Send.State.SENT).values_list("subscriber_id", flat=True))
        assert names == list(CLICK_FEATURES) and x.shape == (len(ids), len(CLICK_FEATURES))
        assert set(ids.tolist()) == sent
        explored = set(Send.objects.filter(wave=wave, chosen_by="explored").values_list("subscriber_id", flat=True))
        assert explored and explored <= set(ids.tolist())
        days = x[:, CLICK_FEATURES.index("days_inactive")]
        since = (wave.created_at - now).total_seconds() / 86400  # days inactive at the wave's time
        expect = np.array([8.0 if active(subs[int(i)]) else 40.0 for i in ids]) + since
        np.testing.assert_allclose(days, expect, atol=1e-3)

    # clicks of the last day have not all arrived: nothing to learn from yet
    assert train_click(client=client, now=last + timedelta(hours=1), min_follow_up_hours=24.0) is None
    assert active_version(client, ModelKind.CLICK) is None

    version = train_click(client=client, now=last + timedelta(hours=25), min_follow_up_hours=24.0)
    assert version is not None and version.is_active, version and version.metrics
    m = version.metrics
    # judged on the latest waves, which it did not train on, against the affinity order it replaces
    assert m["test_clicks"] >= 20 and m["auc"] > m["baseline_auc"] + 0.1, m
    # beside it, both as whole rankers on the same explored test waves, off-policy
    ope = m["promotion"]["ope"]
    assert ope["challenger"]["waves"] == ope["champion"]["waves"] > 0, ope
    for side in ope.values():
        assert side["interval"][0] <= side["estimate"] <= side["interval"][1] and side["explored_clicks"] >= 0
    assert ope["challenger"]["estimate"] > ope["champion"]["estimate"]  # as the AUC says here
    # nothing new has matured since: no challenger trained on the same rows again
    assert train_click(client=client, now=last + timedelta(hours=25, minutes=30), min_follow_up_hours=24.0) is None

    # the product's ranker now re-ranks by it: the active half of the right tribe comes first
    ranker = ranker_for(client)
    assert ranker.click_version == version and ranker.name.endswith(f"+click v{version.version}")
    from apps.audience.selectors import Segment
    from apps.delivery.selectors import eligible_candidates

    at = last + timedelta(hours=26)
    content = approved_content(external_id="judge", created_at=at - timedelta(minutes=40))
    seed = np.array(sorted(s.pk for s in subs.values() if s.external_id in ("p1", "p3", "p5")))
    cands = eligible_candidates(client=client, content_id=content.pk, now=at, segment=Segment(activity="any", inactive_days=7),
                                cap_window=timedelta(minutes=20), quiet_start=0, quiet_end=0)
    with_click = ranker.rank(candidates=cands, content=content, seed_ids=seed, k=60, now=at, rng=np.random.default_rng(0))
    without = ModelRanker(ranker.version).rank(candidates=cands, content=content, seed_ids=seed, k=60, now=at,
                                               rng=np.random.default_rng(0))
    good = lambda ids: sum(tribe_of(subs[int(i)]) == "a" and active(subs[int(i)]) for i in ids)  # noqa: E731
    assert good(with_click.ids) >= 50, good(with_click.ids)
    assert good(with_click.ids) > good(without.ids) + 10, (good(with_click.ids), good(without.ids))
    assert np.all((with_click.total >= 0) & (with_click.total <= 1))  # calibrated probabilities
    assert WaveFeatures.objects.count() == len(campaigns)


@pytest.mark.django_db
@pytest.mark.parametrize("world", ["none"], indirect=True)
def test_waves_before_any_model_already_teach_the_click_model(world, approved_content, now):
    """A client's first waves are ranked by the rule-based interim ranker (no MF version yet):
    they keep the click model's rows too, what is known without factors filled in and the model
    components missing, and a click model learns from them which people click (here: the ones
    who left recently) before any factor exists."""
    client, subs = world
    assert ranker_for(client).name.startswith("interim:")
    campaigns = [launch_and_click(client, subs, approved_content, now, j) for j in range(16)]
    last = now + 15 * STEP
    model_columns = [n for n in CLICK_FEATURES if n.split("_z")[0] in ("content", "mf", "lookalike", "neighbors", "category")]
    assert len(model_columns) == 10
    for c in campaigns:
        wave = c.waves.get()
        assert wave.ranker.startswith("interim:")
        ids, x, names = wave_features(wave_ids=[wave.pk])[wave.pk]
        sent = set(Send.objects.filter(wave=wave, state=Send.State.SENT).values_list("subscriber_id", flat=True))
        assert names == list(CLICK_FEATURES) and set(ids.tolist()) == sent
        assert np.isnan(x[:, [CLICK_FEATURES.index(n) for n in model_columns]]).all()
        days = x[:, CLICK_FEATURES.index("days_inactive")]
        since = (wave.created_at - now).total_seconds() / 86400
        np.testing.assert_allclose(days, np.array([8.0 if active(subs[int(i)]) else 40.0 for i in ids]) + since, atol=1e-3)
        ctr = x[:, CLICK_FEATURES.index("baseline_ctr")]
        assert np.all((ctr > 0) & (ctr < 1))
        hour = x[:, CLICK_FEATURES.index("hour")]
        assert np.all(hour == wave.created_at.hour)

    version = train_click(client=client, now=last + timedelta(hours=25), min_follow_up_hours=24.0)
    assert version is not None and version.is_active, version and version.metrics
    m = version.metrics
    # the order it replaces knows nothing without factors (0.5); the model tells the recently idle apart
    assert m["baseline_auc"] == 0.5 and m["auc"] > 0.6, m


@pytest.mark.django_db
def test_with_a_click_model_a_wave_takes_only_people_its_content_is_worth_their_slot_to(world, approved_content, now):
    """The weekly slot's price (apps.mlops.slots): after training, every pushable person's price
    is the renewal value of the last week's contents for them; a new wave's ranked people are
    those the content is worth at least their price to, the rest counted as held back, and every
    send records its value and the price."""
    from apps.mlops.slots import slot_prices_refresh, slot_values
    from apps.core.services import policy_set
    from recsys.slots import renewal_prices

    client, subs = world
    campaigns = [launch_and_click(client, subs, approved_content, now, j) for j in range(16)]
    at = now + 15 * STEP + timedelta(hours=25)
    assert train_click(client=client, now=at, min_follow_up_hours=24.0).is_active
    # the stream a slot is priced on is the contents of the last cap window (here 20 minutes, so
    # that waves find people): priced on a week of it, then planned with the short cap again
    policy_set(client=client, cap_window=timedelta(days=7), slot_objective="clicks")
    done = slot_prices_refresh(client=client, now=at)
    assert done["priced"] > 0 and done["contents"] == len(campaigns) and done["objective"] == "clicks"
    ids, values, names = slot_values(client=client, now=at)
    prices = dict(Subscriber.objects.filter(client=client).values_list("pk", "slot_price"))
    np.testing.assert_allclose([prices[int(i)] for i in ids], renewal_prices(values), rtol=1e-5)
    assert values.shape == (len(ids), len(campaigns)) and np.all((values >= 0) & (values <= 1))
    policy_set(client=client, cap_window=timedelta(minutes=20))

    # half the people: a price no content reaches (their slot is kept for something better)
    dear = {pk for pk in subs if pk % 2 == 0}
    Subscriber.objects.filter(pk__in=dear).update(slot_price=2.0)
    later = at + timedelta(hours=1)
    content = approved_content(external_id="priced", created_at=later - timedelta(minutes=40))
    events_ingest(client=client, now=later, items=[
        {"event_id": f"priced-seed-{i}", "type": "read", "subscriber": f"p{2 * i + 1}", "content": content.external_id,
         "occurred_at": (later - timedelta(minutes=20)).isoformat()} for i in range(3)])
    campaign = campaign_launch(content=content, now=later)
    wave = campaign.waves.get()
    sends = list(Send.objects.filter(wave=wave).values_list("subscriber_id", "chosen_by", "value", "slot_price", "score"))
    ranked = [s for s in sends if s[1] != "explored"]
    assert ranked and not any(s[0] in dear for s in ranked)  # nobody whose price the content cannot meet
    for sid, how, value, price, score in ranked:
        assert value is not None and price is not None and value >= price and value == pytest.approx(score)
    explored = [s for s in sends if s[1] == "explored"]
    assert all(s[2] is None and s[3] is not None for s in explored)  # drawn at random: priced, not valued
    from apps.core.models import Decision

    plan = Decision.objects.get(campaign=campaign, action="wave_plan", subject="wave:1")
    assert plan.numbers["held_back_by_price"] > 0
    wave.refresh_from_db()
    assert wave.plan_numbers == plan.numbers and wave.plan_numbers["planned"] == wave.planned_size  # kept on the wave

    # first come: no prices, nobody held back
    policy_set(client=client, slot_objective="first_come")
    assert slot_prices_refresh(client=client, now=later)["why"] == "first come"
    assert not Subscriber.objects.filter(client=client, slot_price__gt=0).exists()


def scored(approved_content, external_id, at, score):
    """An approved content created 40 minutes before ``at``, evaluated at ``score``."""
    content = approved_content(external_id=external_id, created_at=at - timedelta(minutes=40))
    type(content).objects.filter(pk=content.pk).update(push_score=score)
    content.refresh_from_db()
    return content


@pytest.mark.django_db
def test_a_contents_predicted_improvement_tells_the_click_model_one_content_from_another(world, approved_content, now):
    """The click model's one input that differs between contents for the same person is the
    content's predicted click improvement (``push_score``), kept on every wave as it was at the
    push. Here people click only the right tribe's contents scored high: trained on those waves,
    the model gives the same people a higher probability for a high-scored content than for a
    low-scored one, so a slot's price can tell them apart. Waves logged before the input existed
    still teach it (the column missing, not the wave dropped)."""
    client, subs = world
    campaigns = []
    for j in range(24):
        high = j % 4 < 2  # only the high-scored are clicked, by the content's tribe
        campaign = launch_and_click(client, subs, approved_content, now, j, score=3.0 if high else 0.5,
                                    clicks=lambda sub, tribe, high=high: high and tribe_of(sub) == tribe)
        campaigns.append(campaign)
        wave = campaign.waves.get()
        x = wave_features(wave_ids=[wave.pk])[wave.pk][1]
        np.testing.assert_array_equal(x[:, CLICK_FEATURES.index("push_score")], campaign.content.push_score)
    # the first four waves as they were logged before the input existed
    old = [n for n in CLICK_FEATURES if n != "push_score"]
    for campaign in campaigns[:4]:
        row = WaveFeatures.objects.get(wave__campaign=campaign)
        ids, x, _ = wave_features(wave_ids=[row.wave_id])[row.wave_id]
        buf = io.BytesIO()
        np.savez(buf, ids=ids, x=x[:, [CLICK_FEATURES.index(n) for n in old]])
        WaveFeatures.objects.filter(pk=row.pk).update(names=old, arrays=buf.getvalue())
    sent = Send.objects.filter(campaign__in=campaigns, state=Send.State.SENT).count()

    version = train_click(client=client, now=now + 23 * STEP + timedelta(hours=25), min_follow_up_hours=24.0)
    assert version is not None and version.is_active, version and version.metrics
    assert version.metrics["sends"] + version.metrics["test_sends"] == sent  # every wave used, the old ones too

    ranker = ranker_for(client)
    from apps.audience.selectors import Segment
    from apps.delivery.selectors import eligible_candidates

    at = now + 23 * STEP + timedelta(hours=26)
    tribe_a = np.array(sorted(pk for pk, s in subs.items() if tribe_of(s) == "a"))
    seed = np.array(sorted(s.pk for s in subs.values() if s.external_id in ("p1", "p3", "p5")))
    got = {}
    for name, score in (("good", 3.0), ("weak", 0.5)):
        content = scored(approved_content, f"judge-{name}", at, score)
        cands = eligible_candidates(client=client, content_id=content.pk, now=at,
                                    segment=Segment(activity="any", inactive_days=7),
                                    cap_window=timedelta(minutes=20), quiet_start=0, quiet_end=0)
        p = ranker.click_probabilities(candidates=cands, content=content, seed_ids=seed, now=at)
        got[name] = p[np.isin(cands.ids, tribe_a)]
    # the same people, the same tribe's content: the better-scored one is worth more to them
    assert got["good"].mean() > 2 * got["weak"].mean(), (got["good"].mean(), got["weak"].mean())
    assert (got["good"] >= got["weak"]).all()  # monotone in the score, person by person


@pytest.mark.django_db
def test_a_click_model_is_not_trained_on_the_sends_of_a_single_content(world, approved_content, now):
    """The fit holds whole contents out to stop, calibrate and measure on: with every send before
    the test waves of one content there is nothing to hold out, and the trainer waits (it used
    to hand LightGBM an empty training set and fail the whole retraining round)."""
    from recsys.click import ClickModel, ClickParams

    client, subs = world
    for j in range(2):  # the first content's wave to train on, the second's to test on
        launch_and_click(client, subs, approved_content, now, j, clicks=lambda sub, tribe: tribe_of(sub) == tribe)
    at = now + STEP + timedelta(hours=25)
    assert train_click(client=client, now=at, min_follow_up_hours=24.0, min_clicks=5, min_test_clicks=5) is None
    assert active_version(client, ModelKind.CLICK) is None
    # and the model itself says why, naming the field
    x = np.random.default_rng(0).random((400, len(CLICK_FEATURES)))
    y = (x[:, 0] > 0.5).astype(float)
    with pytest.raises(ValueError, match="groups: rows of at least two contents"):
        ClickModel(ClickParams(num_threads=1)).fit(x, y, np.zeros(400, dtype=np.int64))
    # two contents are enough: one trains, the other is held out (too few rows here for a split:
    # one probability for all, whose calibration error is still measured)
    fitted = ClickModel(ClickParams(num_threads=1)).fit(x, y, np.repeat([1, 2], 200))
    assert fitted.metrics["holdout_rows"] == 200 and np.isfinite(fitted.metrics["holdout_ece"])
