"""Thin Celery tasks of the rating engine: primitive ids in, one service call each."""

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import services


# A chunk takes seconds (50,000 customers in about 1 s on PostgreSQL, see the README); the limits stop a stuck one
# well before the broker's visibility timeout (VIPCLUB_BROKER_VISIBILITY_TIMEOUT, twice the hard limit), so a
# chunk still running is never delivered a second time. A chunk stopped by its limit stays not done: the run fails
# (soft limit) or stalls (hard limit, the process killed) and tiers.heal_runs sends it again.
@shared_task(
    name="tiers.rerate_chunk",
    acks_late=True,
    soft_time_limit=max(1, settings.VIPCLUB_CHUNK_TIME_LIMIT - 30),
    time_limit=settings.VIPCLUB_CHUNK_TIME_LIMIT,
)
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
def scheduled_rerate_task(on: str | None = None) -> list[int]:
    """Daily at the configured hour: start this month's run of each active policy once its run day has
    come and last month is closed; resume runs that stopped. Returns the runs started or resumed."""
    return services.tier_runs_scheduled(
        on=dt.date.fromisoformat(on) if on else timezone.localdate(), now=timezone.now()
    )


@shared_task(name="tiers.heal_runs")
def heal_runs_task(stalled_after: int | None = None) -> dict[str, list[int]]:
    """Every few minutes (beat) and when a worker starts (stalled_after=0): dispatch the runs that stopped making
    progress for `stalled_after` seconds (default VIPCLUB_RUN_STALLED_AFTER) or were never dispatched, and the
    follow-ups that did not finish."""
    seconds = settings.VIPCLUB_RUN_STALLED_AFTER if stalled_after is None else stalled_after
    return services.tier_runs_heal(stalled_after=dt.timedelta(seconds=seconds), now=timezone.now())
