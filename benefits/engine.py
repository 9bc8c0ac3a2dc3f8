"""Set-based grants: every member's quota of the current period, as a few SQL statements per id range.

One pass (`sync`) over a range of customers, inside the caller's transaction:

1. opens the missing accounts of the current year and month of every member entitled to a periodic benefit,
   granted her tier's quota (`INSERT … SELECT … ON CONFLICT DO NOTHING`), and appends their grant entries;
2. finds, into a temporary table, the accounts whose grant must change: the current periods' when the tier
   changed — the new tier's quota, never below what was used ("what was used stays used") — or reduced to what
   was used when the customer left the club; and, when `expire_past`, the ended periods' with a rest to expire;
3. locks just those (PostgreSQL; SQLite has one writer at a time), appends one ledger entry per change (adjust,
   grant or expire) and applies them (`UPDATE … FROM`), both computed from the locked rows' current values.

A second pass with the same inputs finds nothing to change, so a crashed job is simply run again. No query runs
per customer. PostgreSQL and SQLite differ in a few expressions, kept side by side below. Measured on PostgreSQL
15 (2 shared cores), 100,000 members: opening a year (480,000 grants) 21 s, a month (100,000 grants and 100,000
expiries) 14 s, the new year (480,000 of each) 44 s, a pass with nothing to do 5 s.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from . import rules

TEMP = "benefit_sync"


@dataclass(frozen=True)
class Dialect:
    greatest: str
    fen: str  # integer fen of a decimal yuan column
    temp_create: str
    lock: bool


POSTGRES = Dialect(
    greatest="GREATEST",
    fen="CAST(ROUND({col} * 100) AS BIGINT)",
    temp_create="CREATE TEMP TABLE {name} ON COMMIT DROP AS ",
    lock=True,
)
SQLITE = Dialect(
    greatest="MAX",
    fen="CAST(ROUND({col} * 100) AS INTEGER)",
    temp_create="CREATE TEMP TABLE {name} AS ",
    lock=False,
)


def dialect() -> Dialect:
    return POSTGRES if connection.vendor == "postgresql" else SQLITE


def quota_sql(d: Dialect, entitlement: str = "e", benefit: str = "b") -> str:
    """The entitlement's quota per period in whole units (see `rules.quota`)."""
    e, b = entitlement, benefit
    return (
        f"CASE WHEN {e}.unlimited THEN 0 "
        f"WHEN {b}.unit = 'money' THEN COALESCE({d.fen.format(col=f'{e}.money_cap')}, 0) "
        f"WHEN {b}.unit = 'hours' THEN COALESCE({e}.per_month_limit, 0) "
        f"WHEN {b}.unit = 'count' THEN COALESCE({e}.quantity, 0) ELSE 0 END"
    )


@dataclass
class Scope:
    """Which customers (an id range or a list) and, optionally, which benefits."""

    lo: int | None = None
    hi: int | None = None
    customer_ids: tuple[int, ...] | None = None
    benefit_ids: tuple[int, ...] | None = None

    def customers(self, column: str, params: dict) -> str:
        if self.customer_ids is not None:
            if not self.customer_ids:
                return "1 = 0"
            names = []
            for i, value in enumerate(self.customer_ids):
                params[f"c{i}"] = value
                names.append(f"%(c{i})s")
            return f"{column} IN ({', '.join(names)})"
        params["lo"], params["hi"] = self.lo, self.hi
        return f"{column} BETWEEN %(lo)s AND %(hi)s"

    def benefits(self, column: str, params: dict) -> str:
        if self.benefit_ids is None:
            return "1 = 1"
        names = []
        for i, value in enumerate(self.benefit_ids):
            params[f"b{i}"] = value
            names.append(f"%(b{i})s")
        return f"{column} IN ({', '.join(names)})" if names else "1 = 0"


def past_keys(as_of: dt.date, months: int = 24, years: int = 2) -> list[str]:
    """The period keys a pass looks back on for rests to expire (a job missed for a while still catches up)."""
    first = as_of.replace(day=1)
    keys = []
    for _ in range(months):
        first = (first - dt.timedelta(days=1)).replace(day=1)
        keys.append(f"{first:%Y-%m}")
    keys += [str(as_of.year - n) for n in range(1, years + 1)]
    return keys


def sync(
    *, scope: Scope, as_of: dt.date, create: bool = True, expire_past: bool = True, actor: str = "system"
) -> dict[str, int]:
    """One pass over `scope` as of `as_of` (see the module). Must run inside a transaction.
    Returns the ledger entries written per kind."""
    d = dialect()
    ops = connection.ops
    year = rules.period_bounds(rules.YEAR, as_of)
    month = rules.period_bounds(rules.MONTH, as_of)
    params: dict = {
        "ykey": year.key,
        "ystart": ops.adapt_datefield_value(year.start),
        "yend": ops.adapt_datefield_value(year.end),
        "mkey": month.key,
        "mstart": ops.adapt_datefield_value(month.start),
        "mend": ops.adapt_datefield_value(month.end),
        "on": ops.adapt_datefield_value(as_of),
        "now": ops.adapt_datetimefield_value(timezone.now()),
        "actor": actor[:60],
        "reference": f"grants as of {as_of.isoformat()}",
    }
    quota = quota_sql(d)
    counts: dict[str, int] = {}
    entry_columns = """(account_id, customer_id, benefit_id, kind, granted_delta, used_delta, remaining_after, tier_id,
                        hours, valid_until, occurred_on, actor, reference, idempotency_key, reversal_of_id, created_at)"""
    with connection.cursor() as cursor:
        if create:
            # 1. the missing accounts of the current year and month, granted the tier's quota at once
            cursor.execute(
                f"""
                INSERT INTO benefits_benefitaccount
                    (customer_id, benefit_id, period_key, period_start, period_end, granted, used, unlimited, updated_at)
                SELECT s.customer_id, b.id,
                       CASE WHEN b.period = 'year' THEN %(ykey)s ELSE %(mkey)s END,
                       CASE WHEN b.period = 'year' THEN %(ystart)s ELSE %(mstart)s END,
                       CASE WHEN b.period = 'year' THEN %(yend)s ELSE %(mend)s END,
                       {quota}, 0, e.unlimited, %(now)s
                FROM tiers_customertier s
                JOIN customers_customer c ON c.id = s.customer_id
                JOIN benefits_tierentitlement e ON e.tier_id = s.tier_id
                JOIN benefits_benefit b ON b.id = e.benefit_id
                WHERE {scope.customers("s.customer_id", params)} AND {scope.benefits("b.id", params)}
                  AND c.status <> 'closed' AND b.active AND b.period IN ('year', 'month') AND b.unit <> 'flag'
                  AND ({quota} > 0 OR e.unlimited)
                  AND NOT EXISTS (
                      SELECT 1 FROM benefits_benefitaccount a
                      WHERE a.customer_id = s.customer_id AND a.benefit_id = b.id
                        AND a.period_key = CASE WHEN b.period = 'year' THEN %(ykey)s ELSE %(mkey)s END)
                ON CONFLICT DO NOTHING
                """,
                params,
            )
            # 2. their grant entries: accounts of the current periods with a grant and no entry yet. Exactly once
            # under concurrency: a second transaction inserting the same account waited for the first one's commit
            # (unique index), so it sees that one's entry here.
            cursor.execute(
                f"""
                INSERT INTO benefits_benefitentry {entry_columns}
                SELECT a.id, a.customer_id, a.benefit_id, 'grant', a.granted, 0, a.granted - a.used, s.tier_id,
                       NULL, NULL, %(on)s, %(actor)s, %(reference)s, NULL, NULL, %(now)s
                FROM benefits_benefitaccount a
                JOIN benefits_benefit b ON b.id = a.benefit_id
                LEFT JOIN tiers_customertier s ON s.customer_id = a.customer_id
                WHERE {scope.customers("a.customer_id", params)} AND {scope.benefits("a.benefit_id", params)}
                  AND a.period_key IN (%(ykey)s, %(mkey)s)
                  AND ((b.period = 'year' AND a.period_key = %(ykey)s) OR (b.period = 'month' AND a.period_key = %(mkey)s))
                  AND a.granted > 0
                  AND NOT EXISTS (SELECT 1 FROM benefits_benefitentry x WHERE x.account_id = a.id)
                ORDER BY a.id
                """,
                params,
            )
            if cursor.rowcount:
                counts["grant"] = cursor.rowcount
        # 3. the accounts whose grant must change: the current periods' (tier changed, left the club) and, when
        # `expire_past`, the ended periods' with something left. Each arm can use an index.
        current = (
            "(a.period_key IN (%(ykey)s, %(mkey)s, '') AND ((b.period = 'year' AND a.period_key = %(ykey)s)"
            " OR (b.period = 'month' AND a.period_key = %(mkey)s) OR (b.period = 'none' AND a.period_key = '')))"
        )
        past = "(1 = 0)"
        if expire_past:
            names = []
            for i, key in enumerate(past_keys(as_of)):
                params[f"k{i}"] = key
                names.append(f"%(k{i})s")
            past = (
                f"(a.period_key IN ({', '.join(names)}) AND b.period IN ('year', 'month')"
                " AND a.period_end < %(on)s AND a.granted > a.used AND NOT a.unlimited)"
            )
        cursor.execute(f"DROP TABLE IF EXISTS {TEMP}")
        cursor.execute(
            d.temp_create.format(name=TEMP)
            + f"""
            SELECT * FROM (
                SELECT a.id AS account_id, a.customer_id, a.benefit_id,
                       CASE WHEN {past} THEN 1 ELSE 0 END AS past,
                       CASE WHEN {past} THEN NULL ELSE t.tier_id END AS tier_id,
                       COALESCE(t.quota, 0) AS quota,
                       CASE WHEN {past} THEN a.unlimited ELSE COALESCE(t.unlimited, FALSE) END AS new_unlimited,
                       a.granted, a.used, a.unlimited
                FROM benefits_benefitaccount a
                JOIN benefits_benefit b ON b.id = a.benefit_id
                LEFT JOIN (
                    SELECT s.customer_id, s.tier_id, e.benefit_id, {quota} AS quota, e.unlimited
                    FROM tiers_customertier s
                    JOIN customers_customer c ON c.id = s.customer_id AND c.status <> 'closed'
                    JOIN benefits_tierentitlement e ON e.tier_id = s.tier_id
                    JOIN benefits_benefit b ON b.id = e.benefit_id AND b.active
                    WHERE {scope.customers("s.customer_id", params)}
                ) t ON t.customer_id = a.customer_id AND t.benefit_id = a.benefit_id
                WHERE {scope.customers("a.customer_id", params)} AND {scope.benefits("a.benefit_id", params)}
                  AND ({current} OR {past})
            ) x
            WHERE x.new_unlimited <> x.unlimited OR x.granted <> CASE WHEN x.past = 1 THEN x.used
                WHEN x.new_unlimited THEN x.granted ELSE {d.greatest}(x.quota, x.used) END
            """,
            params,
        )
        # 4. lock just those (PostgreSQL; SQLite has one writer at a time) and decide on their current values: a
        # redemption may have used more since the snapshot above, never beyond what the new grant keeps.
        if d.lock:
            cursor.execute(
                f"""SELECT COUNT(*) FROM (SELECT a.id FROM benefits_benefitaccount a
                    WHERE a.id IN (SELECT account_id FROM {TEMP}) ORDER BY a.id FOR UPDATE) locked""",
            )
        new_granted = (
            f"CASE WHEN x.past = 1 THEN a.used WHEN x.new_unlimited THEN a.granted "
            f"ELSE {d.greatest}(x.quota, a.used) END"
        )
        changed = f"(x.new_unlimited <> a.unlimited OR {new_granted} <> a.granted)"
        kind = (
            "CASE WHEN x.past = 1 THEN 'expire' WHEN x.new_unlimited THEN 'adjust' WHEN x.quota = 0 THEN 'expire'"
            " WHEN a.granted = 0 THEN 'grant' ELSE 'adjust' END"
        )
        joined = f"FROM {TEMP} x JOIN benefits_benefitaccount a ON a.id = x.account_id WHERE {changed}"
        cursor.execute(f"SELECT {kind} AS kind, COUNT(*) {joined} GROUP BY {kind}", params)
        for k, n in cursor.fetchall():
            counts[k] = counts.get(k, 0) + n
        # 5. one ledger entry per change, then the change itself
        cursor.execute(
            f"""
            INSERT INTO benefits_benefitentry {entry_columns}
            SELECT x.account_id, x.customer_id, x.benefit_id, {kind}, {new_granted} - a.granted, 0,
                   CASE WHEN x.new_unlimited THEN NULL ELSE {new_granted} - a.used END, x.tier_id,
                   NULL, NULL, %(on)s, %(actor)s, %(reference)s, NULL, NULL, %(now)s
            {joined} ORDER BY x.account_id
            """,
            params,
        )
        cursor.execute(
            f"""
            UPDATE benefits_benefitaccount AS a
            SET granted = {new_granted}, unlimited = x.new_unlimited, updated_at = %(now)s
            FROM {TEMP} x WHERE a.id = x.account_id AND {changed}
            """,
            params,
        )
        cursor.execute(f"DROP TABLE {TEMP}")
    return counts
