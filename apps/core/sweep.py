"""What the minute sweep does, in order. Each entry is an idempotent service taking ``now``."""

from __future__ import annotations


def sweep_due(*, now) -> dict[str, int]:
    from apps.audience.services import subscribers_activity_rollup
    from apps.contents.services import contents_expire_due

    return {
        "activity": subscribers_activity_rollup(),
        "expired": contents_expire_due(now=now),
    }
