"""Thin Celery tasks of the benefits app."""

import datetime as dt

from celery import shared_task
from django.utils import timezone

from core.db import retry_on_conflict

from . import services


@shared_task(name="benefits.grant_period", acks_late=True)
@retry_on_conflict(atomic=False)  # idempotent or resumable: a deadlock runs it again
def grant_period_task(on: str | None = None) -> dict[str, int]:
    """At each period start (beat, the 1st of every month): open the new month's (and in January the new
    year's) accounts of every member and expire what is left of the ended periods. Idempotent."""
    return services.benefit_grants_run(on=dt.date.fromisoformat(on) if on else timezone.localdate())
