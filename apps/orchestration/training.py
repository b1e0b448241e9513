"""The training schedule's step: every model kind retrained, in the order their inputs need
(MF and the click-delay curve first, then the click model on the waves' logged rows;
push-worthiness last, on finished campaigns)."""

from __future__ import annotations

from datetime import datetime

from apps.mlops.training import train_click, train_click_delay, train_mf, train_push_worthiness


def models_retrain(*, now: datetime) -> dict[str, object]:
    """Train a version of each kind at ``now``; each is promoted only if it beats the active one."""
    return {"mf": train_mf(now=now), "click_delay": train_click_delay(now=now), "click": train_click(now=now),
            "push_worthiness": train_push_worthiness(now=now)}
