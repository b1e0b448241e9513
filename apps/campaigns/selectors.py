"""Reads of campaigns."""

from __future__ import annotations

import io

import numpy as np
from django.db.models import Prefetch, QuerySet

from apps.campaigns.models import Campaign, Wave, WaveFeatures, WavePool


def campaigns_of_client(*, client_id: int) -> QuerySet[Campaign]:
    return (
        Campaign.objects.filter(client_id=client_id)
        .select_related("content")
        .prefetch_related(Prefetch("waves", queryset=Wave.objects.order_by("number")))
    )


def running_campaign_ids(exclude_clients=()) -> list[int]:
    """Running campaigns, but for those of the clients in ``exclude_clients`` (e.g. paused ones)."""
    rows = Campaign.objects.filter(state=Campaign.State.RUNNING)
    if exclude_clients:
        rows = rows.exclude(client_id__in=list(exclude_clients))
    return list(rows.values_list("pk", flat=True))


def wave_pool(*, wave_id: int) -> dict | None:
    """The eligible pool kept for an exploring wave: ``ids``, ``ctr``, ``language``, ``push_sends``,
    ``push_clicks``, ``days_inactive`` arrays (None if not kept; pools kept before the last three
    were: zeros and NaN)."""
    row = WavePool.objects.filter(wave_id=wave_id).first()
    if row is None:
        return None
    with np.load(io.BytesIO(bytes(row.arrays))) as data:
        n = len(data["ids"])
        return {"ids": data["ids"], "ctr": data["ctr"].astype(float), "language": data["language"],
                "push_sends": data["push_sends"] if "push_sends" in data else np.zeros(n, np.int64),
                "push_clicks": data["push_clicks"] if "push_clicks" in data else np.zeros(n, np.int64),
                "days_inactive": data["days_inactive"].astype(float) if "days_inactive" in data else np.full(n, np.nan),
                # the long-horizon running sums (recsys.activity), when the pool kept them
                "reads_decayed": data["reads_decayed"] if "reads_decayed" in data else None,
                "active_days_decayed": data["active_days_decayed"] if "active_days_decayed" in data else None}


def wave_features(*, wave_ids) -> dict[int, tuple[np.ndarray, np.ndarray, list[str]]]:
    """(ids, x, names) kept for each of these waves' chosen people, by wave id (waves whose
    ranker computed none are absent). One query."""
    out = {}
    for row in WaveFeatures.objects.filter(wave_id__in=list(wave_ids)):
        with np.load(io.BytesIO(bytes(row.arrays))) as data:
            out[row.wave_id] = (data["ids"], data["x"], list(row.names))
    return out


def wave_window(*, wave: Wave) -> tuple[np.ndarray, np.ndarray]:
    """The window a wave's probes were drawn from: (ids, scores) in the ranker's order (empty
    arrays for a wave planned without one)."""
    if not wave.window:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    with np.load(io.BytesIO(bytes(wave.window))) as data:
        return data["ids"].astype(np.int64), data["scores"].astype(float)


def ramp_config(campaign: Campaign):
    """The campaign's ramp settings as ``recsys.ramp.RampConfig`` (validates them: ValueError names the field)."""
    from recsys.ramp import RampConfig

    return RampConfig(floor=campaign.floor, target=campaign.target, alpha=campaign.alpha,
                      initial_size=campaign.initial_size, growth=campaign.growth, max_waves=campaign.max_waves,
                      observation_window_s=campaign.observation_window.total_seconds())
