"""Thin task over the roll-up; beat runs it every five minutes (see the 0002 migration)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="apps.dashboards.tasks.rollup", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def rollup() -> dict:
    from apps.dashboards.services import dashboards_rollup

    return dashboards_rollup()
