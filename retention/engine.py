"""Set-based SQL of the retention app (PostgreSQL and SQLite): month-end member counts and snapshot retention from
the tier history, and the risk list. A fixed number of statements whatever the number of customers; the reference
rules are in `retention/rules.py` and the tests check that both agree.

Members on a day D = customers whose latest tier change (by id: the latest recorded) effective on or before D leads
to a tier. The history is the engine's own table (`TierChange`): every run's change, closure, override and move-in
is in it, so any past month end can be counted again.
"""

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from core import dates
from core.sql import Params
from customers.models import BillingMonth, Customer, MonthlyBill, StatusChange
from managers.models import Obligation
from tiers.models import CustomerTier, TierChange

from .models import MemberCount, RiskScore, SnapshotRetention

CUSTOMERS = Customer._meta.db_table
CHANGES = TierChange._meta.db_table
TIERS_NOW = CustomerTier._meta.db_table
BILLS = MonthlyBill._meta.db_table
STATUS_CHANGES = StatusChange._meta.db_table
OBLIGATIONS = Obligation._meta.db_table


def members_on(p: Params, on: dt.date) -> str:
    """A query of (customer_id, tier_id) for the members on `on`."""
    return (
        f"SELECT tc.customer_id, tc.to_tier_id AS tier_id FROM {CHANGES} tc "
        f"JOIN (SELECT MAX(id) AS id FROM {CHANGES} WHERE effective_on <= {p(on)} GROUP BY customer_id) latest "
        "ON latest.id = tc.id WHERE tc.to_tier_id IS NOT NULL"
    )


def member_counts_insert(*, snapshot_id: int, on: dt.date) -> int:
    """Members on `on` per tier and branch into the snapshot's MemberCount rows: one INSERT … SELECT … GROUP BY."""
    p = Params()
    sql = (
        f"INSERT INTO {MemberCount._meta.db_table} (snapshot_id, tier_id, region_id, members) "
        f"SELECT {p(snapshot_id)}, m.tier_id, c.region_id, COUNT(*) FROM ({members_on(p, on)}) m "
        f"JOIN {CUSTOMERS} c ON c.id = m.customer_id GROUP BY m.tier_id, c.region_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, p)
        return cursor.rowcount


def snapshot_retention_insert(*, base_date: dt.date, month: dt.date, on: dt.date) -> int:
    """Of the members on `base_date` (by their tier then and their branch), how many are members on `on`."""
    p = Params()
    sql = (
        f"INSERT INTO {SnapshotRetention._meta.db_table} (base_date, month, tier_id, region_id, base_members, retained) "
        f"SELECT {p(base_date)}, {p(month)}, b.tier_id, c.region_id, COUNT(*), "
        "SUM(CASE WHEN e.customer_id IS NULL THEN 0 ELSE 1 END) "
        f"FROM ({members_on(p, base_date)}) b JOIN {CUSTOMERS} c ON c.id = b.customer_id "
        f"LEFT JOIN ({members_on(p, on)}) e ON e.customer_id = b.customer_id "
        "GROUP BY b.tier_id, c.region_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, p)
        return cursor.rowcount


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def look_back_start(on: dt.date, months: int) -> dt.datetime:
    """00:00 (club time) of the first day of the `months` months up to `on`, `on` included: the day after the
    same day `months` months before (clamped to that month's last day), as the credit rating counts suspensions
    (DOMAIN §7): on 2026-11-20 with 12 months, from 2025-11-21."""
    return _day_start(dates.months_before(on, months) + dt.timedelta(days=1))


def spend_anchor(on: dt.date) -> dt.date | None:
    """The latest closed billing month before `on`'s month: the last of the "last 3 bills"."""
    return (
        BillingMonth.objects.filter(closed_at__isnull=False, month__lt=on.replace(day=1))
        .order_by("-month")
        .values_list("month", flat=True)
        .first()
    )


def risk_scores_select(p: Params, *, on: dt.date, weights: dict[str, tuple[Decimal, int]]) -> str:
    """The SELECT of the risk list: one row per member with a score above zero (customer_id, score, the facts)."""
    d = p.d

    def weight(signal: str) -> str:
        return d.numeric(p(str(weights.get(signal, (Decimal(0), 0))[0])))

    def parameter(signal: str, default: int) -> int:
        return int(weights.get(signal, (0, default))[1] or default)

    anchor = spend_anchor(on)
    drop = parameter("falling_spend", 20)
    arrears_months = parameter("arrears", 6)
    if anchor is not None:
        recent_from, before_from, before_to = (
            dates.add_months(anchor, -2),
            dates.add_months(anchor, -5),
            dates.add_months(anchor, -3),
        )
        arrears_from = dates.add_months(anchor, -(arrears_months - 1))
        fen = d.fen("amount")
        bills = (
            f"SELECT customer_id, "
            f"SUM(CASE WHEN month >= {p(recent_from)} THEN {fen} ELSE 0 END) AS recent, "
            f"SUM(CASE WHEN month >= {p(before_from)} AND month <= {p(before_to)} THEN {fen} ELSE 0 END) AS before_, "
            f"SUM(CASE WHEN month >= {p(arrears_from)} AND paid = {p(False)} THEN 1 ELSE 0 END) AS unpaid "
            f"FROM {BILLS} WHERE month >= {p(min(before_from, arrears_from))} AND month <= {p(anchor)} "
            "GROUP BY customer_id"
        )
    else:  # no closed month yet: no spend or arrears signal
        bills = f"SELECT id AS customer_id, 0 AS recent, 0 AS before_, 0 AS unpaid FROM {CUSTOMERS} WHERE 1 = 0"
    until = _day_start(on + dt.timedelta(days=1))
    suspensions_from = look_back_start(on, parameter("suspension", 12))
    closures_from = look_back_start(on, parameter("closure_request", 12))
    statuses = (
        "SELECT customer_id, "
        f"SUM(CASE WHEN to_status = 'suspended' AND occurred_at >= {p(suspensions_from)} THEN 1 ELSE 0 END) AS susp, "
        f"SUM(CASE WHEN to_status = 'pending_closure' AND occurred_at >= {p(closures_from)} THEN 1 ELSE 0 END) "
        "AS closures "
        f"FROM {STATUS_CHANGES} WHERE to_status IN ('suspended', 'pending_closure') "
        f"AND occurred_at >= {p(min(suspensions_from, closures_from))} AND occurred_at < {p(until)} "
        "GROUP BY customer_id"
    )
    overdue = f"SELECT customer_id, COUNT(*) AS n FROM {OBLIGATIONS} WHERE status = 'overdue' GROUP BY customer_id"
    facts = (
        "SELECT c.id AS customer_id, COALESCE(b.recent, 0) AS recent, COALESCE(b.before_, 0) AS before_, "
        f"CASE WHEN COALESCE(b.before_, 0) > 0 AND COALESCE(b.recent, 0) * 100 <= b.before_ * {p(100 - drop)} "
        "THEN 1 ELSE 0 END AS falling, "
        "COALESCE(s.susp, 0) AS susp, COALESCE(b.unpaid, 0) AS unpaid, COALESCE(s.closures, 0) AS closures, "
        "COALESCE(o.n, 0) AS overdue "
        f"FROM {CUSTOMERS} c JOIN {TIERS_NOW} ct ON ct.customer_id = c.id "
        f"LEFT JOIN ({bills}) b ON b.customer_id = c.id "
        f"LEFT JOIN ({statuses}) s ON s.customer_id = c.id "
        f"LEFT JOIN ({overdue}) o ON o.customer_id = c.id "
        "WHERE ct.tier_id IS NOT NULL AND c.status <> 'closed'"
    )
    score = (
        f"{weight('falling_spend')} * f.falling + {weight('suspension')} * f.susp + {weight('arrears')} * f.unpaid"
        f" + {weight('closure_request')} * f.closures + {weight('overdue_contact')} * f.overdue"
    )
    return f"SELECT * FROM (SELECT f.*, {score} AS score FROM ({facts}) f) x WHERE score > 0"


def risk_scores_rebuild(*, on: dt.date, weights: dict[str, tuple[Decimal, int]]) -> int:
    """Rebuild RiskScore for the members (a tier, not closed) on `on`: one DELETE and one INSERT … SELECT that
    aggregates bills, status changes and overdue obligations per customer. Only scores above zero are kept."""
    p = Params()
    select = risk_scores_select(p, on=on, weights=weights)
    table = RiskScore._meta.db_table
    sql = (
        f"INSERT INTO {table} (customer_id, score, spend_recent, spend_before, falling_spend, suspensions, arrears, "
        "closure_requests, overdue_contacts, as_of) "
        "SELECT customer_id, score, recent / 100.0, before_ / 100.0, falling = 1, susp, unpaid, closures, overdue, "
        f"{p(on)} FROM ({select}) r"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")
        cursor.execute(sql, p)
        return cursor.rowcount
