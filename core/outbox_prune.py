"""Pruning the outbox: events are kept VIPCLUB_OUTBOX_KEEP_DAYS (30) days, then deleted by a daily beat task."""

import datetime as dt

from django.db import connection, transaction

from .models import OutboxEvent

BATCH = 50_000  # ids per DELETE: short transactions, no long lock on the table


def outbox_prune(*, before: dt.datetime, batch: int = BATCH) -> int:
    """Delete the events recorded before `before`, oldest first, in id ranges of `batch` (set-based: one DELETE per
    range, each its own transaction). Ids grow with time, so the events to delete are the ids up to the last one
    recorded before `before`. Returns how many were deleted."""
    last = OutboxEvent.objects.filter(created_at__lt=before).order_by("-created_at").values_list("id", flat=True)
    last = last.first()
    if last is None:
        return 0
    first = OutboxEvent.objects.order_by("id").values_list("id", flat=True).first()
    table = OutboxEvent._meta.db_table
    deleted = 0
    for lo in range(first, last + 1, batch):
        hi = min(lo + batch - 1, last)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE id BETWEEN %s AND %s AND created_at < %s", [lo, hi, before])
            deleted += cursor.rowcount
    return deleted
