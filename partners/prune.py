"""Pruning the delivery log: settled deliveries (delivered, parked) are kept VIPCLUB_WEBHOOK_LOG_KEEP_DAYS days (the
outbox's 30 by default), then deleted by a daily beat task (`partners.prune_deliveries`), as core.outbox_prune does
for the events. Deliveries still open (pending, failed: a paused endpoint's backlog) are kept whatever their age."""

import datetime as dt

from django.db import connection, transaction
from django.db.models import Max, Min

from .models import Delivery

BATCH = 50_000  # ids per DELETE: short transactions, no long lock on the table
SETTLED = (Delivery.Status.DELIVERED, Delivery.Status.PARKED)


def deliveries_prune(*, before: dt.datetime, batch: int = BATCH) -> int:
    """Delete the settled deliveries whose last news (delivered, last attempt, else fanned out or replayed) is before
    `before`, oldest first, in id ranges of `batch` (set-based: one DELETE per range, each its own transaction).
    Deliveries are fanned out in time order, so the rows to look at are the ids below the first one fanned out (or
    replayed) since `before`: found through the primary key, not a scan of the log. Returns how many were deleted."""
    bounds = Delivery.objects.aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        return 0
    first_kept = Delivery.objects.filter(retry_from__gte=before).order_by("id").values_list("id", flat=True).first()
    last = (first_kept - 1) if first_kept is not None else bounds["hi"]
    table = Delivery._meta.db_table
    deleted = 0
    for lo in range(bounds["lo"], last + 1, batch):
        hi = min(lo + batch - 1, last)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""DELETE FROM {table} WHERE id BETWEEN %s AND %s AND status IN (%s, %s)
                    AND COALESCE(delivered_at, last_attempt_at, retry_from) < %s""",
                [lo, hi, *SETTLED, before],
            )
            deleted += cursor.rowcount
    return deleted
