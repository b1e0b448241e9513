"""Writes of campaigns and waves: their rows, states and running totals.

The engine that decides what happens to a campaign (launch, wave planning, ramp decisions, the
end) is ``apps.orchestration.engine``; it writes campaigns only through these functions, and so
do the outbox's dispatcher and attribution when they count deliveries, clicks and cancellations.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from datetime import datetime

import numpy as np
from django.db.models import F

from apps.audience.selectors import Segment
from apps.campaigns.models import Campaign, Wave, WaveFeatures, WavePool
from apps.campaigns.selectors import ramp_config
from apps.core.sql import create_with_blob


def campaign_create(*, content, user=None, now: datetime, segment: dict, **settings) -> Campaign:
    """The campaign row of a content, with its ramp settings and segment, as the engine took them
    from the client's policy (validated: ValueError names the field)."""
    campaign = Campaign(client_id=content.client_id, content=content, created_by=user, created_at=now,
                        segment=segment, **settings)
    ramp_config(campaign)
    Segment.from_json(campaign.segment)
    campaign.save()
    return campaign


def campaign_close(*, campaign: Campaign, state: str, reason: str, now: datetime) -> None:
    """Mark a campaign ended (``done`` or ``stopped``) with the reason."""
    Campaign.objects.filter(pk=campaign.pk).update(state=state, ended_at=now, end_reason=reason[:500])
    campaign.state, campaign.ended_at, campaign.end_reason = state, now, reason[:500]


def wave_create(*, campaign: Campaign, number: int, planned_size: int, now: datetime, probe_size: int | None = None) -> Wave:
    """A planned wave: ``planned_size`` people, of whom ``probe_size`` probes of a window (default: all)."""
    return Wave.objects.create(campaign=campaign, number=number, planned_size=planned_size, created_at=now,
                               probe_size=planned_size if probe_size is None else probe_size)


def npz_bytes(**arrays: np.ndarray) -> bytes:
    """``np.savez_compressed``'s file (``np.load`` reads it) at zlib's fastest level: a wave's
    pool of a million people is kept in under half the time for a few percent more bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, arr in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(arr), allow_pickle=False)
    return buf.getvalue()


def wave_record_plan(*, wave: Wave, sends: int, expected_clicks: float, allocation: dict, ranker: str,
                     numbers: dict, now: datetime, empty_reason: str = "", model_versions: dict | None = None,
                     stage: int = 1, window_ids=None, window_scores=None) -> Wave:
    """What planning did: the wave is sending, or, with no send, decided at once (stop). ``stage``
    and the window (ids and scores in the ranker's order) say whom its probes sample."""
    wave.allocation, wave.ranker, wave.model_versions = allocation, ranker, model_versions or {}
    wave.plan_numbers = numbers
    wave.stage = stage
    if window_ids is not None:
        wave.window = npz_bytes(ids=np.asarray(window_ids, dtype=np.int64),
                                scores=np.asarray(window_scores, dtype=np.float32))
    wave.sends, wave.expected_clicks = sends, expected_clicks
    wave.state = Wave.State.SENDING if sends else Wave.State.DECIDED
    if not sends:
        wave.decision, wave.decided_at = Wave.Decision.STOP, now
        wave.decision_reason, wave.decision_numbers = empty_reason[:500], numbers
    wave.save()
    Campaign.objects.filter(pk=wave.campaign_id).update(sends=F("sends") + sends,
                                                        expected_clicks=F("expected_clicks") + expected_clicks)
    return wave


def wave_pool_pack(*, ids, ctr, language, push_sends=None, push_clicks=None, days_inactive=None,
                   reads_decayed=None, active_days_decayed=None) -> tuple[int, bytes]:
    """(size, bytes) of an exploring wave's pool (``WavePool``): pure, so it can run beside the
    planning that goes on (compressing a pool of millions takes seconds; zlib lets go of the
    interpreter while it works)."""
    n = len(ids)
    return n, npz_bytes(ids=np.asarray(ids, dtype=np.int64), ctr=np.asarray(ctr, dtype=np.float32),
                        language=np.asarray(language, dtype=str),
                        push_sends=np.zeros(n, np.int64) if push_sends is None else np.asarray(push_sends, dtype=np.int64),
                        push_clicks=np.zeros(n, np.int64) if push_clicks is None else np.asarray(push_clicks, dtype=np.int64),
                        days_inactive=np.full(n, np.nan, np.float32) if days_inactive is None
                        else np.asarray(days_inactive, dtype=np.float32),
                        **{name: np.asarray(v, dtype=np.float64) for name, v in
                           (("reads_decayed", reads_decayed), ("active_days_decayed", active_days_decayed)) if v is not None})


def wave_pool_store(*, wave: Wave, packed: tuple[int, bytes]) -> WavePool:
    """Keep who was eligible for an exploring wave (see ``WavePool``), as ``wave_pool_pack``
    packed them: with their push history and days inactive, a ranker that uses them (the click
    model's) re-ranks the pool as it was."""
    size, arrays = packed
    return create_with_blob(WavePool, "arrays", arrays, wave=wave, size=size)


def wave_features_record(*, wave: Wave, ids, x, names) -> WaveFeatures | None:
    """Keep the click model's inputs of the people a wave chose (see ``WaveFeatures``)."""
    ids, x = np.asarray(ids, dtype=np.int64), np.asarray(x, dtype=np.float32)
    if not len(ids):
        return None
    if x.shape != (len(ids), len(names)):
        raise ValueError(f"features: expected {len(ids)} rows of {len(names)} columns, got {x.shape}")
    return create_with_blob(WaveFeatures, "arrays", npz_bytes(ids=ids, x=x), wave=wave, size=len(ids), names=list(names))


def wave_record_sent(*, wave: Wave, sent_at: datetime) -> None:
    """Every send of the wave is done: it is observed for the campaign's window from ``sent_at``."""
    wave.sent_at = sent_at
    wave.observe_until = sent_at + wave.campaign.observation_window
    wave.state = Wave.State.OBSERVING
    wave.save(update_fields=["sent_at", "observe_until", "state"])


def wave_record_wait(*, wave: Wave, reason: str, numbers: dict, now: datetime, next_look: datetime) -> bool:
    """The ramp looked and waits for late clicks: the look's numbers and reason are kept on the
    wave (it stays observing) and it is looked at again from ``next_look``. Returns True when
    this look started the wait."""
    started = wave.waiting_since is None
    if started:
        wave.waiting_since = now
    wave.decision_numbers, wave.decision_reason = numbers, reason[:500]
    wave.observe_until = next_look
    wave.save(update_fields=["waiting_since", "decision_numbers", "decision_reason", "observe_until"])
    return started


def wave_record_decision(*, wave: Wave, decision: str, reason: str, numbers: dict, now: datetime) -> None:
    wave.decision, wave.decided_at, wave.state = decision, now, Wave.State.DECIDED
    wave.decision_numbers = numbers
    wave.decision_reason = reason[:500]
    wave.save(update_fields=["decision", "decided_at", "state", "decision_numbers", "decision_reason"])


def waves_close_open(*, campaign: Campaign, reason: str, code: str, now: datetime) -> int:
    """Close the waves a campaign's end interrupted (planned, sending or observing): decided, stop."""
    return Wave.objects.filter(campaign_id=campaign.pk).exclude(state=Wave.State.DECIDED).update(
        state=Wave.State.DECIDED, decision=Wave.Decision.STOP, decided_at=now, decision_reason=reason[:500],
        decision_numbers={"code": code})


def waves_count_delivery(*, delivered: Mapping[int, int], failed: Mapping[int, int]) -> None:
    """Add the dispatcher's results to their waves (wave id -> count)."""
    for field, counts in (("delivered", delivered), ("failed", failed)):
        for wave_id, n in sorted(counts.items()):
            Wave.objects.filter(pk=wave_id).update(**{field: F(field) + n})


def clicks_count(*, by_wave: Mapping[int, int], by_campaign: Mapping[int, int]) -> None:
    """Add first clicks of sends to their waves and campaigns (id -> count)."""
    for model, counts in ((Wave, by_wave), (Campaign, by_campaign)):
        for pk, n in sorted(counts.items()):
            model.objects.filter(pk=pk).update(clicks=F("clicks") + n)


def sends_uncount(*, by_wave: Mapping[int, tuple[int, float]]) -> None:
    """Take cancelled sends (never handed to a provider) out of their waves' and campaigns' sends
    and expected clicks: wave id -> (sends, expected clicks)."""
    campaigns: dict[int, list] = {}
    for wave_id, campaign_id in Wave.objects.filter(pk__in=list(by_wave)).values_list("pk", "campaign_id"):
        n, expected = by_wave[wave_id]
        Wave.objects.filter(pk=wave_id).update(sends=F("sends") - n, expected_clicks=F("expected_clicks") - expected)
        acc = campaigns.setdefault(campaign_id, [0, 0.0])
        acc[0] += n
        acc[1] += expected
    for campaign_id, (n, expected) in sorted(campaigns.items()):
        Campaign.objects.filter(pk=campaign_id).update(sends=F("sends") - n, expected_clicks=F("expected_clicks") - expected)
