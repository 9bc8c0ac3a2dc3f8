"""A small bill push (billing's corrections, a few bills a request) must cost its bills, not the ledger: the points
earning joins the ledger entries to the bills that changed (customers.services.BILL_CHANGES). Found by the load test
(a 10-bill push p50 140 ms): that table had no statistics, the planner guessed hundreds of rows and read the whole
points ledger with a sequential scan to find the 10 bills' earlier postings (30 ms on a 2,000-member demo, growing
with the ledger); with its statistics taken it probes the (customer, month) index."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from core.sql import statement_settings
from customers import services as customer_services
from customers.factories import CustomerFactory, RegionFactory
from customers.models import Customer
from points import engine
from points.selectors import reward_rules
from vipclub import workflows

pytestmark = pytest.mark.django_db

MEMBERS, ENTRIES_EACH = 2_000, 24
PUSHED = 20_000  # two pushes of 10,000 bills
MONTH = dt.date(2026, 10, 1)


def test_a_ten_bill_push_probes_the_ledger_instead_of_reading_it():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner and statistics")
    region = RegionFactory()
    members = Customer.objects.bulk_create(CustomerFactory.build(region=region) for _ in range(MEMBERS))
    with connection.cursor() as cur:  # a ledger of two years of monthly earnings
        cur.execute(
            """INSERT INTO points_pointsentry (customer_id, kind, amount, year, bill_month, reference, occurred_on,
                                               created_at, actor)
               SELECT c.id, 'earn', 100, 2024 + m / 12, make_date(2024 + m / 12, 1 + m %% 12, 1), 'bill', %s, now(), ''
               FROM customers_customer c CROSS JOIN generate_series(0, %s) m""",
            [MONTH, ENTRIES_EACH - 1],
        )
        cur.execute("ANALYZE points_pointsentry")
    rows = [{"customer_id": c.pk, "month": MONTH, "amount": Decimal("88.00"), "paid": True} for c in members[:10]]
    result = customer_services.bills_bulk_upsert(rows=rows)
    assert result.changed == 10
    statement, p = engine.delta_sql(
        engine.earn_scope(on=MONTH, expiry_years=3, keys=customer_services.BILL_CHANGES, lo=None, hi=None),
        reward_rules(),
    )
    select = statement[statement.index("WITH t AS") :]
    with connection.cursor() as cur:
        cur.execute("EXPLAIN " + select, p)
        plan = "\n".join(row[0] for row in cur.fetchall())
    assert "Seq Scan on points_pointsentry" not in plan, plan
    # and the push itself: the 10 bills stored and earning
    assert workflows.bills_import(rows=rows, on=dt.date(2026, 11, 5)).updated == 10


def test_a_new_months_second_push_probes_each_bill_whatever_the_ledger_statistics_say():
    """Found by bench/scale.py (a month of 1M bills in pushes of 100k on a ledger analysed empty): the second push's
    earning never finished. The ledger's statistics knew nothing of the new month, the planner expected one posted
    entry and compared every entry of the month with every changed bill. Each bill's entries are probed instead."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner and statistics")
    region = RegionFactory()
    members = Customer.objects.bulk_create(CustomerFactory.build(region=region) for _ in range(PUSHED))
    with connection.cursor() as cur:
        cur.execute("ANALYZE points_pointsentry")  # the ledger's statistics: empty (a new club, or taken long ago)
    half = PUSHED // 2
    first = [{"customer_id": c.pk, "month": MONTH, "amount": Decimal("388.00"), "paid": True} for c in members[:half]]
    assert workflows.bills_import(rows=first, on=dt.date(2026, 11, 5)).created == half
    second = [{"customer_id": c.pk, "month": MONTH, "amount": Decimal("288.00"), "paid": True} for c in members[half:]]
    assert customer_services.bills_bulk_upsert(rows=second).changed == half
    statement, p = engine.delta_sql(
        engine.earn_scope(on=MONTH, expiry_years=3, keys=customer_services.BILL_CHANGES, lo=None, hi=None),
        reward_rules(),
    )
    with connection.cursor() as cur:
        cur.execute("EXPLAIN " + statement[statement.index("WITH t AS") :], p)
        plan = "\n".join(row[0] for row in cur.fetchall())
    assert "Seq Scan on points_pointsentry" not in plan, plan
    assert "Index Scan using points_entry_cust_month_idx" in plan, plan


def test_a_push_turns_jit_off_for_its_probe_statement_only():
    """The probe statement runs without JIT (core.sql.statement_settings); the operator's own setting holds for the
    rest of the transaction, before and after the push."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's settings")
    region = RegionFactory()
    members = Customer.objects.bulk_create(CustomerFactory.build(region=region) for _ in range(3))
    seen = []

    def watch(execute, sql, params, many, context):
        if "LEFT JOIN LATERAL" in sql:
            with context["connection"].connection.cursor() as raw:
                raw.execute("SELECT current_setting('jit')")
                seen.append(raw.fetchone()[0])
        return execute(sql, params, many, context)

    rows = [{"customer_id": c.pk, "month": MONTH, "amount": Decimal("100.00"), "paid": True} for c in members]
    with connection.cursor() as cur:
        cur.execute("SELECT set_config('jit', 'on', true)")
    with connection.execute_wrapper(watch):
        assert workflows.bills_import(rows=rows, on=dt.date(2026, 11, 5)).created == 3
    assert seen == ["off"]
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('jit')")
        assert cur.fetchone()[0] == "on"


def test_a_new_months_second_push_locks_each_bill_by_its_key_not_by_the_month():
    """Found by bench/scale.py at 10M customers: a new month's second push of 100,000 bills ran one statement for
    over 7 minutes of CPU. The bills' statistics knew no bill of the month, the planner expected one and joined the
    staged bills to the month's bills on the month alone (a merge join by bill_month_idx, the customer a filter):
    every staged bill compared with every bill the first push had written. Each staged bill is probed by its key."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner and statistics")
    region = RegionFactory()
    members = Customer.objects.bulk_create(CustomerFactory.build(region=region) for _ in range(PUSHED))
    with connection.cursor() as cur:  # a year of bills of other months, analysed: the new month is not in them
        cur.execute(
            """INSERT INTO customers_monthlybill (customer_id, month, amount, paid, updated_at)
               SELECT c.id, make_date(2025, 1 + m, 1), 100, true, now()
               FROM customers_customer c CROSS JOIN generate_series(0, 11) m""",
        )
        cur.execute("ANALYZE customers_monthlybill")
    half = PUSHED // 2
    first = [{"customer_id": c.pk, "month": MONTH, "amount": Decimal("388.00"), "paid": True} for c in members[:half]]
    assert customer_services.bills_bulk_upsert(rows=first).created == half
    plans = []

    def explain(execute, sql, params, many, context):
        if sql.startswith("WITH old AS"):
            with context["connection"].connection.cursor() as raw:
                plans.append("\n".join(row[0] for row in raw.execute("EXPLAIN " + sql, params).fetchall()))
        return execute(sql, params, many, context)

    second = [{"customer_id": c.pk, "month": MONTH, "amount": Decimal("288.00"), "paid": True} for c in members]
    with connection.execute_wrapper(explain):
        result = customer_services.bills_bulk_upsert(rows=second)
    assert (result.created, result.updated, result.changed) == (PUSHED - half, half, PUSHED)
    (plan,) = plans
    assert "bill_month_idx" not in plan and "Seq Scan on customers_monthlybill" not in plan, plan
    assert "Nested Loop" in plan and "customer_id = customers_bills_stage.customer_id" in plan, plan  # by key


def test_a_failing_statement_under_changed_settings_keeps_its_own_error():
    """core.sql.statement_settings: when a statement of the block fails, its error is the one raised (not the aborted
    transaction's refusal of a restoring statement), and a rolled-back savepoint takes the settings back with it."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's settings")
    with connection.cursor() as cur:
        cur.execute("SELECT set_config('jit', 'on', true)")
        with pytest.raises(DatabaseError, match="division by zero"), transaction.atomic():
            with statement_settings(cur, jit="off"):
                cur.execute("SELECT 1 / 0")
        cur.execute("SELECT current_setting('jit')")
        assert cur.fetchone()[0] == "on"
