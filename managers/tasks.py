"""Thin Celery tasks of the managers app: primitive arguments in, one service call each."""

import datetime as dt

from celery import shared_task
from django.utils import timezone

from core.db import retry_on_conflict

from . import daily


@shared_task(name="managers.run_daily")
@retry_on_conflict(atomic=False)  # idempotent or resumable: a deadlock runs it again
def run_daily_task(on: str | None = None) -> dict:
    """The daily job of DOMAIN §4 for `day` (ISO date; default today in Asia/Shanghai). Idempotent: a retry or a
    second delivery of the same day changes nothing."""
    business_day = dt.date.fromisoformat(on) if on else timezone.localdate(timezone=daily.BUSINESS_TZ)
    return daily.daily_run(on=business_day, at=timezone.now())
