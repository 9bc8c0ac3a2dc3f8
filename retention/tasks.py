"""Thin Celery tasks of the retention app: primitive arguments in, one service call each."""

import datetime as dt

from celery import shared_task
from django.utils import timezone

from core.db import retry_on_conflict
from customers.rules import parse_month

from . import services


@shared_task(name="retention.refresh_risk")
@retry_on_conflict(atomic=False)  # idempotent or resumable: a deadlock runs it again
def refresh_risk_task(on: str | None = None) -> dict:
    """The risk list as of `on` (ISO date; default today in Asia/Shanghai). Idempotent: it rebuilds the list."""
    day = dt.date.fromisoformat(on) if on else timezone.localdate()
    return {"as_of": day.isoformat(), "at_risk": services.risk_refresh(on=day)}


@shared_task(name="retention.snapshot_month")
@retry_on_conflict(atomic=False)  # idempotent or resumable: a deadlock runs it again
def snapshot_month_task(month: str, base_date: str | None = None) -> dict:
    """Members at the end of `month` (YYYY-MM), taken again from the tier history. Idempotent."""
    now = timezone.now()
    snapshot = services.snapshot_month(
        month=parse_month(month),
        on=timezone.localdate(now),
        at=now,
        base_date=dt.date.fromisoformat(base_date) if base_date else None,
    )
    return {"month": month, "members": snapshot.members}
