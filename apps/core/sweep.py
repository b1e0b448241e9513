"""What the minute sweep does, in order. Each entry is an idempotent service taking ``now``."""

from __future__ import annotations


def sweep_due(*, now) -> dict[str, int]:
    from apps.audience.services import subscribers_activity_rollup
    from apps.campaigns.services import campaigns_advance_due
    from apps.contents.services import contents_evaluate_due, contents_expire_due

    done = {"activity": subscribers_activity_rollup()}
    done["expired"] = contents_expire_due(now=now)
    done["evaluated"] = contents_evaluate_due(now=now)
    done.update(campaigns_advance_due(now=now))
    return done
