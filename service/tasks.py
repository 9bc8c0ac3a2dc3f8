"""Thin Celery tasks of the service app: primitive arguments in, one service call each."""

import datetime as dt

from celery import shared_task
from django.utils import timezone

from core.db import retry_on_conflict

from . import services, surveys


@shared_task(name="service.escalate_late")
@retry_on_conflict(atomic=False)  # idempotent: a retry escalates nothing twice
def escalate_late_task(at: str | None = None) -> dict:
    """Escalate the complaints late at `at` (ISO date-time; default now): every few minutes from beat, for the
    hour-level deadlines (acknowledge 2 h, reply 48 h) as well as the working-day one."""
    moment = dt.datetime.fromisoformat(at) if at else timezone.now()
    return services.complaints_escalate_late(at=moment)


@shared_task(name="service.surveys_daily")
@retry_on_conflict(atomic=False)  # idempotent: every survey has its reference
def surveys_daily_task(on: str | None = None) -> dict:
    """The daily survey step (closed retention cases, completed first contacts, the quarterly sample) for `on` (ISO
    date; default today)."""
    now = timezone.now()
    day = dt.date.fromisoformat(on) if on else timezone.localdate(now)
    return surveys.surveys_daily(on=day, at=now)
