"""The outbound events feed (API.md `GET /feed/`): the outbox read in commit order with a cursor.

Ids come from a sequence, which is not commit order: under concurrent transactions, event 9 may commit after event
10. A reader that served 10 and moved its cursor past it would never see 9. So the feed serves events up to a safe
*horizon* only, the largest id below which every event is committed (or rolled back for good):

- SQLite has one writer at a time (a write transaction holds the database's write lock from its first write to its
  commit), so ids commit in order: the horizon is the largest id visible.
- PostgreSQL: each read observes, in one statement, the largest visible id `top` and the transactions in progress
  (`pg_current_snapshot()`'s xip list, less those that pg_stat_activity shows on other databases of the server). An event below `top` that is not visible yet belongs to one of those
  transactions: it took its id before `top` was taken, and it had a transaction id by then, because every writer
  changes its rows before it writes their events (the change and its event share the transaction; the rating engine
  locks its chunk row first). Once all of them have ended, `top` is safe. The observations are kept per process
  (a few, newest first); the horizon is the largest `top` whose transactions have all ended, so a reader lags at
  most the length of the writing transactions in flight at its previous read (a rating chunk: seconds; a long
  writing transaction on the database delays the feed as long) and never skips an event.
  An observation with no transaction in progress is safe at once.
"""

import threading

from django.db import connection

from .models import OutboxEvent

EVENT_TYPES = (  # API.md "Outbound events"
    "tier.changed",
    "tier.expiring",
    "benefits.granted",
    "points.changed",
    "points.expiring",
    "manager.assigned",
    "retention.case_opened",
    "retention.case_closed",
    "privileges.changed",
    "complaint.changed",
    "gift_order.changed",
    "sms.requested",
)
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
KEEP_OBSERVATIONS = 32

_lock = threading.Lock()
_observations: dict[str, list[tuple[int, frozenset[int]]]] = {}  # per database alias: (top, xids in progress)
_horizons: dict[str, int] = {}


def _parse_snapshot(text: str) -> tuple[int, frozenset[int]]:
    """`xmin:xmax:xip,…` → (xmin, in-progress xids)."""
    xmin, _xmax, xip = text.split(":")
    return int(xmin), frozenset(int(x) for x in xip.split(",") if x)


def safe_horizon() -> int:
    """The largest event id at or below which the feed may serve (see the module's note)."""
    table = OutboxEvent._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
            return cursor.fetchone()[0]
        cursor.execute(
            f"""SELECT pg_current_snapshot()::text, (SELECT COALESCE(MAX(id), 0) FROM {table}),
                   ARRAY(SELECT backend_xid::text FROM pg_stat_activity
                         WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database())"""
        )
        snapshot, top, elsewhere = cursor.fetchone()
    xmin, in_progress = _parse_snapshot(snapshot)
    # transactions of the server's other databases cannot write this table: not waited for (their 32-bit xids)
    elsewhere = {int(x) for x in elsewhere or ()}
    in_progress = frozenset(x for x in in_progress if x % 2**32 not in elsewhere)

    def ended(xids: frozenset[int]) -> bool:
        return all(x < xmin or x not in in_progress for x in xids)

    key = connection.alias + ":" + connection.settings_dict["NAME"]
    with _lock:
        if top < _horizons.get(key, 0):  # the table was emptied and its ids restarted: forget what was observed
            _observations.pop(key, None)
            _horizons.pop(key, None)
        kept = _observations.get(key, [])
        horizon = max([_horizons.get(key, 0)] + [t for t, xids in kept if ended(xids)])
        if not in_progress:
            horizon = max(horizon, top)
        pending = [(t, xids) for t, xids in kept if t > horizon and not ended(xids)]
        if top > horizon:
            pending.insert(0, (top, in_progress))
        _observations[key] = pending[:KEEP_OBSERVATIONS]
        _horizons[key] = horizon
    return horizon


def feed_page(*, after: int, types: list[str], limit: int) -> tuple[list[OutboxEvent], int]:
    """Events with after < id <= the safe horizon (of `types` if any), oldest first, at most `limit`; and the
    cursor of the next page: the last event served, or the horizon when the page is not full (the events in between
    are of other types)."""
    horizon = safe_horizon()
    events = OutboxEvent.objects.filter(id__gt=after, id__lte=horizon)
    if types:
        events = events.filter(type__in=types)
    page = list(events.order_by("id")[:limit])
    if len(page) == limit:
        return page, page[-1].id
    return page, max(after, horizon)
