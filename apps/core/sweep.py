"""What the minute sweep does, in order. Each entry is an idempotent service taking ``now``."""

from __future__ import annotations


def sweep_due(*, now) -> dict[str, int]:
    from apps.contents.services import contents_expire_due

    return {
        "expired": contents_expire_due(now=now),
    }
