"""The daily job reads the members' tier states in two steps of every day: `tier.expiring` (score-won validities
that end in 30 days) and `changes` (states updated since the previous run, validities that ended since its day, key
persons). Both must find those few states by index, not read every member's. Found by bench/daily.py on a faster
machine (2026-12-05): the two sequential scans of the 418,750 tier states were 85 ms of an ordinary day's 323 ms,
2.22 x the bare scan of the members (goal 2 x), and each grows with the club while the day's work does not."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.sql import Params
from customers.factories import CustomerFactory, RegionFactory
from customers.models import Customer
from managers import daily
from managers.calendar import WorkCalendar
from tiers import services as tier_services
from tiers.models import Tier

pytestmark = pytest.mark.django_db

MEMBERS = 5_000
DAY = dt.date(2026, 10, 14)
AT = timezone.make_aware(dt.datetime(2026, 10, 14, 6, 0))


def explain(sql: str, params=None) -> str:
    with connection.cursor() as cur:
        cur.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cur.fetchall())


@pytest.fixture
def club():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner and statistics")
    region = RegionFactory()
    Customer.objects.bulk_create(CustomerFactory.build(region=region) for _ in range(MEMBERS))
    gold = Tier.objects.get(code="gold").pk
    with connection.cursor() as cur:  # validities spread over a year, every state written two days ago
        cur.execute(
            """INSERT INTO tiers_customertier (customer_id, tier_id, source, valid_until, since, score_tier_id,
                                               score_valid_until, updated_at)
               SELECT id, %s, CASE WHEN id %% 10 = 0 THEN 'plan' ELSE 'score' END,
                      DATE '2026-10-01' + CAST(id %% 365 AS INTEGER), DATE '2026-01-01',
                      CASE WHEN id %% 10 = 0 THEN %s END,
                      CASE WHEN id %% 10 = 0 THEN DATE '2026-10-01' + CAST(id %% 365 AS INTEGER) END,
                      %s
               FROM customers_customer""",
            [gold, gold, AT - dt.timedelta(days=2)],
        )
        cur.execute("ANALYZE tiers_customertier")


def test_the_tier_expiring_step_finds_the_validities_ending_in_30_days_by_index(club):
    with CaptureQueriesContext(connection) as queries:
        tier_services.tier_expiring_emit(on=DAY, at=AT)
    (statement,) = [q["sql"] for q in queries.captured_queries if "'tier.expiring'" in q["sql"]]
    plan = explain(statement)
    assert "Seq Scan on tiers_customertier" not in plan, plan


def test_the_changes_step_finds_the_changed_tier_states_by_index(club):
    calendar = WorkCalendar.from_db()
    _digest, marks, leads = daily.run_facts(calendar)
    since = daily.Since(day=DAY - dt.timedelta(days=1), at=AT - dt.timedelta(days=1), marks=marks)
    p = Params()
    select = daily.changed_select(p, day=DAY, since=since, calendar=calendar, leads=leads)
    with connection.cursor() as cur:  # as the incremental run plans it
        for statement in daily._step_settings(p.d, incremental=True):
            cur.execute(statement)
    plan = explain(select, p)
    assert "Seq Scan on tiers_customertier" not in plan, plan
