"""`tier.expiring` events (DOMAIN §11, API.md `tier.expiring {tier, valid_until, score, needed}`): 30 days before a
score-won validity ends — the tier held by score (`valid_until`) or the score tier kept beside a floor
(`score_valid_until`) — one event per member and validity, with the score so far and the spend still needed to keep
the tier at the run that re-rates it (rules.expiring_figures, the same figures in SQL).

One `INSERT … SELECT` for the whole club per business date (the members whose validity ends on that date + 30; the
bills aggregated for them only), guarded by NOT EXISTS on the outbox: the daily job run twice for a day, or replayed,
writes no second event for the same validity."""

import datetime as dt

from django.db import connection

from core import dates
from core.sql import Params

from . import rules
from .engine import BILLS, CUSTOMERS, OUTBOX, STATE, _month_filter
from .models import score_tier, score_validity


def _money(p: Params, fen: str) -> str:
    """A decimal string of yuan ("350.00") from integer fen."""
    if p.d.postgres:
        return f"CAST(ROUND(CAST({fen} AS NUMERIC) / 100, 2) AS TEXT)"
    return f"printf('%%.2f', ({fen}) / 100.0)"


def _json_text(p: Params, column: str, key: str) -> str:
    if p.d.postgres:
        return f"{column}->>'{key}'"
    return f"json_extract({column}, '$.{key}')"


def expiring_sql(
    p: Params,
    policy: rules.Policy,
    *,
    on: dt.date,
    at: dt.datetime,
    tiers: dict[int, str],
    closed_months: list[dt.date],
) -> str:
    """The statement writing the `tier.expiring` events of business date `on` (`tiers`: tier id → code)."""
    d = p.d
    valid_until = on + dt.timedelta(days=rules.EXPIRING_NOTICE_DAYS)
    month = rules.run_month_after(policy, valid_until)
    evaluated = rules.evaluation_date(month, policy.run_day)
    window = [m for m in rules.window_months(month, policy.window_months) if m in set(closed_months)]
    v = p(valid_until)
    won = score_tier("ct.")
    thresholds = {tid: policy.thresholds[code] for tid, code in tiers.items() if code in policy.thresholds}
    if policy.kind == rules.ANNUAL:
        bonus_rows = sorted(policy.tenure_bonus, reverse=True)
        bonus = (
            "CASE "
            + " ".join(
                f"WHEN c.join_date <= {p(dates.years_before(evaluated, years))} THEN {p(bonus)}"
                for years, bonus in bonus_rows
            )
            + " ELSE 0 END"
            if bonus_rows
            else "0"
        )
        bill_sum = d.sum_yuan("bl.amount")
        score = f"(COALESCE(b.bill_sum, 0) + {bonus})"
        threshold = p.case("x.tier_id", [(t, int(thr)) for t, thr in thresholds.items()])
        needed_fen = f"{d.greatest(f'({threshold}) - {score}', '0')} * 100"
        score_text = f"CAST({score} AS TEXT)"
    else:
        n = policy.window_months
        bill_sum = d.sum_fen("bl.amount")
        threshold = p.case("x.tier_id", [(t, rules.to_fen(thr) * n) for t, thr in thresholds.items()])
        needed_fen = d.greatest(f"({threshold}) - COALESCE(b.bill_sum, 0)", "0")
        score_text = _money(p, f"(COALESCE(b.bill_sum, 0) / {p(n)})")
    data = d.json_object(
        {
            "tier": p.case("x.tier_id", list(tiers.items()), "NULL"),
            "valid_until": p(valid_until.isoformat()),
            "score": score_text,
            "needed": _money(p, needed_fen),
        }
    )
    # no WITH prefix: Python's sqlite3 reports no row count for a statement starting with WITH
    x = f"""SELECT ct.customer_id, {won} AS tier_id
            FROM {STATE} ct
            WHERE {score_validity("ct.")} = {v} AND {won} IS NOT NULL"""
    return f"""INSERT INTO {OUTBOX} (type, customer_id, msisdn, occurred_at, data, created_at)
        SELECT 'tier.expiring', x.customer_id, c.msisdn, {p(at)}, {data}, {d.now}
        FROM ({x}) x JOIN {CUSTOMERS} c ON c.id = x.customer_id
        LEFT JOIN (
            SELECT bl.customer_id, {bill_sum} AS bill_sum
            FROM {BILLS} bl JOIN ({x}) xb ON xb.customer_id = bl.customer_id
            WHERE 1 = 1 {_month_filter(p, window).replace("month", "bl.month")}
            GROUP BY bl.customer_id
        ) b ON b.customer_id = x.customer_id
        WHERE c.status <> 'closed'
          AND NOT EXISTS (
            SELECT 1 FROM {OUTBOX} o
            WHERE o.customer_id = x.customer_id AND o.type = 'tier.expiring'
              AND {_json_text(p, "o.data", "valid_until")} = {p(valid_until.isoformat())})
        ORDER BY x.customer_id"""


def emit_expiring(
    *, policy: rules.Policy, on: dt.date, at: dt.datetime, tiers: dict[int, str], closed_months: list[dt.date]
) -> int:
    """Write the `tier.expiring` events of `on`; how many."""
    p = Params()
    sql = expiring_sql(p, policy, on=on, at=at, tiers=tiers, closed_months=closed_months)
    with connection.cursor() as cursor:
        cursor.execute(sql, p)
        return max(cursor.rowcount, 0)
