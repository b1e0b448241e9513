"""Two simulated newsrooms with different readers' tastes, in one product: each trains its own
models on its own history, and the same question gets each client's own answer."""

from datetime import timedelta

import numpy as np
import pytest

from apps.simulation.runner import StrategyRun, _history, _setup
from recsys.simulate.world import World, WorldConfig


def _client(seed: int, n: int):
    world = World(WorldConfig(n_subscribers=n, seed=seed))
    run = StrategyRun(strategy="product", world=world, now=world.config.start)
    _setup(run, seed=seed)
    _history(run)
    return run


def _audience(run, topic: int, seed_people: np.ndarray, k: int = 150):
    """Who the client's ranker picks for a new content of ``topic`` read first by the world's
    people ``seed_people`` (positions): (positions chosen, in order; the ranker's name)."""
    from apps.audience.models import Subscriber
    from apps.audience.selectors import Segment
    from apps.contents.services import content_upsert
    from apps.delivery.selectors import eligible_candidates
    from apps.mlops.ranking import ranker_for

    subs = run.world.subscribers
    name = run.world.vocab.topics[topic].name
    content = content_upsert(client=run.client, external_id=f"probe-{topic}", now=run.now,
                             data={"title": name, "body": name, "category": name, "created_at": run.now}).content
    ids = dict(Subscriber.objects.filter(client=run.client).values_list("external_id", "pk"))
    seed = np.array(sorted(ids[str(subs.external_id[i])] for i in seed_people))
    cands = eligible_candidates(client=run.client, content_id=content.pk, now=run.now, cap_window=timedelta(days=7),
                                segment=Segment(activity="any", inactive_days=7), quiet_start=0, quiet_end=0)
    ranked = ranker_for(run.client).rank(candidates=cands, content=content, seed_ids=seed, k=k, now=run.now,
                                         rng=np.random.default_rng(0))
    ext = dict(Subscriber.objects.filter(client=run.client).values_list("pk", "external_id"))
    index = {str(e): n for n, e in enumerate(subs.external_id)}
    return np.array([index[ext[int(i)]] for i in ranked.ids]), ranked.ranker


@pytest.mark.slow
@pytest.mark.django_db
def test_two_simulated_clients_with_different_tastes_get_their_own_models_and_audiences(settings, tmp_path):
    from apps.mlops.training import train_mf

    settings.PUSHADMIN = {**settings.PUSHADMIN, "ARTIFACTS_DIR": tmp_path / "artifacts"}
    a, b = _client(11, 3000), _client(12, 3000)
    va, vb = train_mf(client=a.client, now=a.now), train_mf(client=b.client, now=b.now)
    assert va.is_active and vb.is_active and va.client_id != vb.client_id
    topic = 0
    taste_a = a.world.subscribers.taste[:, topic]
    keen = np.argsort(-taste_a, kind="stable")[:8]  # world A's keenest readers of the topic read it first
    chosen_a, ranker_a = _audience(a, topic, keen)
    chosen_b, ranker_b = _audience(b, topic, keen)  # the same positions in world B: other people, other tastes
    # (each by its own MF version, in the order its own held-out contents chose)
    assert ranker_a.startswith(f"model:mf v{va.version}") and ranker_b.startswith(f"model:mf v{vb.version}")
    # client A finds people who like what its early readers like; client B, from the same
    # positions, answers by its own readers' histories: a different audience
    assert taste_a[chosen_a].mean() > 1.5 * taste_a.mean(), (taste_a[chosen_a].mean(), taste_a.mean())
    overlap = len(set(chosen_a.tolist()) & set(chosen_b.tolist())) / len(chosen_a)
    assert overlap < 0.5, overlap
