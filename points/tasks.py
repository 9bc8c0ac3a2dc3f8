"""Thin Celery tasks of the points app: primitive arguments in, one service call each."""

import datetime as dt

from celery import shared_task
from django.utils import timezone

from core.db import retry_on_conflict

from . import services


def _day(on: str | None) -> dt.date:
    return dt.date.fromisoformat(on) if on else timezone.localdate()


@shared_task(name="points.expire_year_end", acks_late=True)
@retry_on_conflict(atomic=False)  # idempotent or resumable: a deadlock runs it again
def expire_year_end_task(on: str | None = None) -> dict:
    """The 3-year rolling clearance: on 31 December (beat, late evening), everything left in the lots that expire
    on or before `day` (ISO date, default today) is expired, set-based and in chunks. Idempotent (a retry
    resumes the job; a second run finds nothing left)."""
    job = services.points_expire(on=_day(on))
    return {"job": job.pk, "status": job.status, **job.counts}


@shared_task(name="points.expiring_list")
def expiring_list_task(year: int | None = None) -> dict:
    """The November list: members whose points expire on 31 December of `year` (default this year), written to
    var/exports/points-expiring-YYYY.csv for the branches."""
    path, n = services.expiring_export_file(year=year or timezone.localdate().year)
    return {"path": str(path), "customers": n}


@shared_task(name="points.credit_stars", acks_late=True)
@retry_on_conflict(atomic=False)  # idempotent or resumable: a deadlock runs it again
def credit_stars_task(on: str | None = None) -> dict:
    """Credit stars of every customer as of `day` (the monthly pipeline calls the service directly)."""
    job = services.credit_ratings_compute(on=_day(on))
    return {"job": job.pk, "status": job.status, **job.counts}
