"""Thin Celery tasks of the rating engine: primitive ids in, one service call each."""

import datetime as dt

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="tiers.rerate_chunk", acks_late=True)
def rerate_chunk_task(chunk_id: int) -> None:
    chunk = services.RatingChunk.objects.filter(pk=chunk_id).values_list("run_id", flat=True).first()
    if chunk is None:
        return
    if services.tier_run_chunk(chunk_id=chunk_id):
        rerate_finish_task.delay(chunk)


@shared_task(name="tiers.rerate_finish", acks_late=True)
def rerate_finish_task(run_id: int) -> None:
    services.tier_run_finish(run_id=run_id)


@shared_task(name="tiers.scheduled_rerate")
def scheduled_rerate_task(today: str | None = None) -> list[int]:
    """Daily at the configured hour: start this month's run of each active policy once its run day has
    come and last month is closed; resume runs that stopped. Returns the runs started or resumed."""
    return services.tier_runs_scheduled(today=dt.date.fromisoformat(today) if today else timezone.localdate())
