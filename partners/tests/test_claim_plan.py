"""A big fan-out (the monthly run's tier changes: one event per re-rated member) into a delivery table whose
statistics were taken when it was small: the claim must still cost its window, not the backlog. Found by
bench/webhooks.py (382 events/s instead of 2,855): on stale statistics the planner checked each claimed row's
"earlier open delivery of the same customer" by walking every open delivery before it in event order (2.2 s and
3.3M buffers a claim at 100k deliveries) instead of one probe of the customer index (21 ms)."""

import datetime as dt

import pytest
from django.db import connection

from partners import delivery, factories

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)
EVENTS = 30_000


def test_a_claim_after_a_big_fan_out_reads_its_window_not_the_backlog():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner and statistics")
    endpoint = factories.endpoint(url="http://127.0.0.1:9/hook", at=T0)
    with connection.cursor() as cur:
        cur.execute(
            """INSERT INTO core_outboxevent (type, customer_id, msisdn, occurred_at, data, created_at)
               SELECT 'tier.changed', NULL, '199' || lpad(g::text, 8, '0'), %s, '{}'::jsonb, %s
               FROM generate_series(1, %s) g RETURNING id""",
            [T0, T0, EVENTS],
        )
        ids = [row[0] for row in cur.fetchall()]
    assert delivery._insert_deliveries(endpoint, lo=min(ids) - 1, hi=max(ids), at=T0) == EVENTS
    # Half the backlog delivered: the claim's window starts deep in the table, as in the middle of a run.
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE partners_delivery SET status = 'delivered' WHERE endpoint_id = %s AND event_id <= %s",
            [endpoint.pk, ids[EVENTS // 2]],
        )
        cur.execute(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + delivery.claim_sql(lock=False),
            [endpoint.pk, T0, T0, 2000, T0, 500],
        )
        plan = cur.fetchone()[0][0]
    assert plan["Plan"]["Actual Rows"] == 500  # the batch: one event per customer, all due
    buffers = plan["Plan"]["Shared Hit Blocks"] + plan["Plan"]["Shared Read Blocks"]
    # One probe per window row (2,000) is ~10 buffers each; walking the backlog is ~1,000 index entries each.
    assert buffers < 50_000, f"the claim read {buffers:,} buffers for a window of 2,000 rows"
