"""Set-based SQL of the points app: earning from bills, the year-end expiry, credit stars.

Each function handles one scope (bills named in a temporary key table, or a customer-id range) in the caller's
transaction, with a fixed number of statements whatever the number of customers. Every writer of a customer's
lots first locks the customer's account row (PostgreSQL `FOR UPDATE`, in customer-id order; SQLite locks the
whole database for a write), so that the lots it reads cannot change under it. The expressions in which
PostgreSQL and SQLite differ come from `core.sql`. The reference rules are in `points/rules.py`; tests assert
that both agree.
"""

import datetime as dt
import json
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from core import dates
from core.models import OutboxEvent
from core.sql import Params, load_temp_table, statement_settings
from customers.models import Customer, MonthlyBill, StatusChange
from tiers.models import CustomerTier, TierChange

from . import rules
from .models import CreditRating, PointsAccount, PointsEntry, PointsLot

CUSTOMERS = Customer._meta.db_table
BILLS = MonthlyBill._meta.db_table
STATUS_CHANGES = StatusChange._meta.db_table
ACCOUNTS = PointsAccount._meta.db_table
LOTS = PointsLot._meta.db_table
ENTRIES = PointsEntry._meta.db_table
RATINGS = CreditRating._meta.db_table
OUTBOX = OutboxEvent._meta.db_table
STATE = CustomerTier._meta.db_table
TIER_CHANGES = TierChange._meta.db_table

KEYS = "points_bill_keys"
DELTA = "points_earn_delta"
TAKE = "points_earn_take"

Statement = tuple[str, Params]


def create_keys(pairs) -> None:
    """The bills (customer id, month) that `earn(keys=True)` looks at, in a temporary table (PostgreSQL: one COPY)."""
    with connection.cursor() as cursor:
        load_temp_table(cursor, KEYS, "customer_id bigint, month date", pairs)


def drop_keys() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {KEYS}")


def _lock_accounts(cursor, customers_sql: str, p: Params) -> None:
    """Create the missing accounts of the customers in `customers_sql` (a query of `id`s), then lock them all in
    customer-id order (two writers never wait for each other crosswise). PostgreSQL: one statement, whose
    `ON CONFLICT DO UPDATE … WHERE false` locks every existing account it meets (in that order) and updates none."""
    insert = f"""INSERT INTO {ACCOUNTS} (customer_id, balance, frozen, frozen_reason, total_consumption, updated_at)
            SELECT id, 0, {p.d.false}, '', 0, {p.d.now}
            FROM ({customers_sql}) x WHERE true ORDER BY id"""
    if p.d.postgres:
        cursor.execute(f"{insert} ON CONFLICT (customer_id) DO UPDATE SET balance = {ACCOUNTS}.balance WHERE false", p)
        return
    cursor.execute(f"{insert} ON CONFLICT (customer_id) DO NOTHING", p)
    if p.d.for_update:
        cursor.execute(
            f"SELECT customer_id FROM {ACCOUNTS} WHERE customer_id IN ({customers_sql}) "
            f"ORDER BY customer_id{p.d.for_update}",
            p,
        )


def reward_hundredths(p: Params, rewards: list[rules.Reward]) -> str:
    """The reward percent, in hundredths, of a bill row `b` of a customer row `c` (as rules.reward_percent):
    every matching brand rule, plus the matching tenure rule with the most years (full years at the end of the
    bill's month: on the first day of the next month, month index y * 12 + m)."""
    d = p.d
    parts = []
    for r in (r for r in rewards if r.kind == "brand"):
        hundredths = p(int(r.percent * 100))
        parts.append(f"(CASE WHEN c.brand = {p(r.brand)} THEN {hundredths} ELSE 0 END)" if r.brand else hundredths)
    tenure_rules = sorted((r for r in rewards if r.kind == "tenure"), key=lambda r: (-r.min_years, -r.percent))
    if tenure_rules:
        t = f"({d.year('b.month')} * 12 + {d.month('b.month')})"
        joined = (
            f"({d.year('c.join_date')} * 12 + {d.month('c.join_date')} - 1 "
            f"+ CASE WHEN {d.day('c.join_date')} > 1 THEN 1 ELSE 0 END)"
        )
        years = f"(CASE WHEN {t} >= {joined} THEN ({t} - {joined}) / 12 ELSE 0 END)"
        whens = []
        for r in tenure_rules:
            brand = f"c.brand = {p(r.brand)} AND " if r.brand else ""
            whens.append(f"WHEN {brand}{years} >= {p(r.min_years)} THEN {p(int(r.percent * 100))}")
        parts.append("(CASE " + " ".join(whens) + " ELSE 0 END)")
    return " + ".join(parts) if parts else "0"


@dataclass
class EarnResult:
    bills: int = 0  # bills whose earning changed (entries posted)
    customers: int = 0
    points: int = 0  # net change of the balances
    written_off: int = 0  # points a correction down could not take back (already spent)

    def add(self, other: "EarnResult") -> None:
        self.bills += other.bills
        self.customers += other.customers
        self.points += other.points
        self.written_off += other.written_off


WRITTEN_OFF = "correction exceeds the points left: written off"


def earn(
    *,
    on: dt.date,
    expiry_years: int,
    rewards: list[rules.Reward],
    keys: bool | str = False,
    lo: int | None = None,
    hi: int | None = None,
    actor: str = "",
) -> EarnResult:
    """Post what the bills in scope should have earned minus what they have earned (per bill and kind).

    Scope: the bills named in a temporary key table (`keys=True`: KEYS, see `create_keys`; or the name of a table
    of (customer_id, month, amount) rows with the amounts the bills table holds, e.g. the bills an upsert just
    changed), or every bill of the
    customers lo ≤ id ≤ hi. A bill whose year's points have expired on `on`, of a month after `on` (it cannot
    exist: the API takes only months that have ended; a row loaded around it must not make a lot expiring after
    the calendar's end, whose date no read could convert — issue 13), or of a closed customer, earns nothing.
    Positive differences go into the lot of the bill's year (kind earn, or reward); negative ones take
    points back oldest lot first (FIFO), and what was already spent is written off by an `adjust` entry so that
    the ledger still adds up to the lots. Must run inside a transaction."""
    scope = earn_scope(on=on, expiry_years=expiry_years, keys=keys, lo=lo, hi=hi)
    result = EarnResult()
    with connection.cursor() as cursor:
        _lock_accounts(cursor, scope.customers, scope.p)
        cursor.execute(f"DROP TABLE IF EXISTS {DELTA}")
        cursor.execute(f"DROP TABLE IF EXISTS {TAKE}")
        # probes priced per bill: 100k of them would bring in JIT (~0.5 s) for a statement that runs once
        with statement_settings(cursor, when=scope.probe, jit="off"):
            cursor.execute(*delta_sql(scope, rewards))
        cursor.execute(DELTA_COUNTS)
        result.bills, result.customers, negatives = (int(x) for x in cursor.fetchone())
        if not result.bills:
            cursor.execute(f"DROP TABLE {DELTA}")
            return result
        cursor.execute(*credit_lots_sql(expiry_years=expiry_years))
        if negatives:
            cursor.execute(*take_sql(on=on))
            cursor.execute(TAKE_APPLY)
        cursor.execute(*entries_sql(on=on, actor=actor))
        if negatives:
            cursor.execute(*write_off_sql(on=on, actor=actor))
            cursor.execute(f"SELECT COALESCE(SUM(pts), 0) FROM ({SHORT}) s")
            result.written_off = int(cursor.fetchone()[0])
        change = balance_change(negatives)
        if scope.p.d.postgres:  # one statement: the change computed once, the events from the updated balances
            cursor.execute(*balances_events_sql(change, kind="earn"))
            result.points = int(cursor.fetchone()[0])
        else:
            cursor.execute(f"SELECT COALESCE(SUM(pts), 0) FROM ({change}) x")
            result.points = int(cursor.fetchone()[0])
            cursor.execute(*balances_sql(change))
            cursor.execute(*events_sql(change, kind="earn"))
        cursor.execute(f"DROP TABLE {DELTA}")
        if negatives:
            cursor.execute(f"DROP TABLE {TAKE}")
    return result


@dataclass(frozen=True)
class EarnScope:
    p: Params  # the parameters of the three queries below
    customers: str  # a query of the customers' `id`s
    bills: str  # a query of their bills that may earn: (customer_id, month, amount)
    posted: str  # the filter of their bills' posted entries
    # PostgreSQL: each bill's posted entries probed by the (customer, month) index instead (named bills: see delta_sql)
    probe: bool = False


def earn_scope(*, on: dt.date, expiry_years: int, keys: bool | str, lo: int | None, hi: int | None) -> EarnScope:
    """The bills in scope: named in the key table (`keys`: True for KEYS, or a table's name), or every bill of the customers lo ≤ id ≤ hi; of the
    years whose points are still live on `on`, up to `on`."""
    p = Params()
    since = dt.date(rules.first_live_year(on, expiry_years), 1, 1)
    if keys:
        table = KEYS if keys is True else keys
        if keys is True:
            bills = (
                f"SELECT b.customer_id, b.month, b.amount FROM {BILLS} b "
                f"JOIN {table} k ON k.customer_id = b.customer_id AND k.month = b.month "
                f"WHERE b.month >= {p(since)} AND b.month <= {p(on)}"
            )
        else:  # the table holds the bills' amounts as just stored (e.g. customers.services.BILL_CHANGES): the bills
            # table is not read again (its statistics know nothing yet of a new month: joining it misled the planner)
            bills = f"SELECT customer_id, month, amount FROM {table} WHERE month >= {p(since)} AND month <= {p(on)}"
        return EarnScope(
            p=p,
            customers=f"SELECT DISTINCT customer_id AS id FROM {table}",
            bills=bills,
            posted=f"customer_id IN (SELECT customer_id FROM {table}) AND bill_month IN (SELECT month FROM {table})",
            probe=True,
        )
    return EarnScope(
        p=p,
        customers=f"SELECT id FROM {CUSTOMERS} WHERE id BETWEEN {p(lo)} AND {p(hi)} AND status <> 'closed'",
        bills=(
            f"SELECT customer_id, month, amount FROM {BILLS} "
            f"WHERE customer_id BETWEEN {p(lo)} AND {p(hi)} AND month >= {p(since)} AND month <= {p(on)}"
        ),
        posted=f"customer_id BETWEEN {p(lo)} AND {p(hi)} AND bill_month >= {p(since)}",
    )


def delta_sql(scope: EarnScope, rewards: list[rules.Reward]) -> Statement:
    """Into the DELTA table: what every bill in scope should have earned minus what it has earned (the
    differences only), with its year and whether it corrects an earlier posting."""
    p, d = scope.p, scope.p.d
    base = d.floor_int("b.amount")
    reward = reward_hundredths(p, rewards)
    sums = """SUM(CASE WHEN kind = 'earn' THEN amount ELSE 0 END) AS earned,
                   SUM(CASE WHEN kind = 'reward' THEN amount ELSE 0 END) AS rewarded"""
    if scope.probe and d.postgres:
        # Named bills (a push, an import batch): each bill's entries by one probe of the (customer, month) index,
        # whatever the ledger's statistics say. Joined by the planner, a month its statistics did not know yet (a
        # new month's second push, a ledger analysed empty) was expected to hold one entry: it nested-looped every
        # entry of the month against every changed bill (a 1M-bill month's second push of 100k never finished).
        posted, join = (
            "",
            f"""LEFT JOIN LATERAL (
                SELECT {sums}, COUNT(*) AS n FROM {ENTRIES} e
                WHERE e.customer_id = t.customer_id AND e.bill_month = t.month AND e.kind IN ('earn', 'reward')
            ) posted ON true""",
        )
        correction = "CASE WHEN posted.n = 0 THEN 0 ELSE 1 END"
    else:
        posted = f""", posted AS (
            SELECT customer_id, bill_month, {sums}
            FROM {ENTRIES}
            WHERE {scope.posted} AND bill_month IS NOT NULL AND kind IN ('earn', 'reward')
            GROUP BY customer_id, bill_month
        )"""
        join = "LEFT JOIN posted ON posted.customer_id = t.customer_id AND posted.bill_month = t.month"
        correction = "CASE WHEN posted.customer_id IS NULL THEN 0 ELSE 1 END"
    sql = (
        d.temp_create(DELTA)
        + f"""
        WITH t AS (
            SELECT b.customer_id, b.month, {base} AS base, ({base} * ({reward})) / 10000 AS reward
            FROM ({scope.bills}) b JOIN {CUSTOMERS} c ON c.id = b.customer_id
            WHERE c.status <> 'closed'
        ){posted}
        SELECT t.customer_id, t.month, {d.year("t.month")} AS year,
               t.base - COALESCE(posted.earned, 0) AS d_earn,
               t.reward - COALESCE(posted.rewarded, 0) AS d_reward,
               {correction} AS correction
        FROM t {join}
        WHERE t.base <> COALESCE(posted.earned, 0) OR t.reward <> COALESCE(posted.rewarded, 0)
        """
    )
    return sql, p


DELTA_COUNTS = (
    f"SELECT COUNT(*), COUNT(DISTINCT customer_id), "
    f"COALESCE(SUM(CASE WHEN d_earn < 0 OR d_reward < 0 THEN 1 ELSE 0 END), 0) FROM {DELTA}"
)
# per customer: the points that negative differences take back
NEED = f"""(SELECT customer_id, -SUM(CASE WHEN d_earn < 0 THEN d_earn ELSE 0 END)
                                   - SUM(CASE WHEN d_reward < 0 THEN d_reward ELSE 0 END) AS n
                FROM {DELTA} GROUP BY customer_id)"""
# per customer: the points taken back from the lots
TAKEN = f"(SELECT customer_id, SUM(take) AS taken FROM {TAKE} GROUP BY customer_id)"
# per customer: what a correction down could not take back (already spent)
SHORT = f"""SELECT need.customer_id, need.n - COALESCE(tk.taken, 0) AS pts
                    FROM {NEED} need LEFT JOIN {TAKEN} tk ON tk.customer_id = need.customer_id
                    WHERE need.n > COALESCE(tk.taken, 0)"""
TAKE_APPLY = f"UPDATE {LOTS} SET remaining = {LOTS}.remaining - t.take FROM {TAKE} t WHERE {LOTS}.id = t.id"


def credit_lots_sql(*, expiry_years: int) -> Statement:
    """1. Positive differences into the lot of the bill's year (one lot per customer, year and kind)."""
    p = Params()
    sql = f"""INSERT INTO {LOTS} (customer_id, year, kind, original, remaining, expires_on, created_at)
        SELECT customer_id, year, kind, SUM(pts), SUM(pts), {p.d.dec31(f"year + {p(expiry_years)}")}, {p.d.now}
        FROM (SELECT customer_id, year, 'earn' AS kind, d_earn AS pts FROM {DELTA} WHERE d_earn > 0
              UNION ALL
              SELECT customer_id, year, 'reward' AS kind, d_reward AS pts FROM {DELTA} WHERE d_reward > 0) x
        WHERE true GROUP BY customer_id, year, kind ORDER BY customer_id, year, kind
        ON CONFLICT (customer_id, year, kind) DO UPDATE SET
            original = {LOTS}.original + excluded.original,
            remaining = {LOTS}.remaining + excluded.remaining"""
    return sql, p


def take_sql(*, on: dt.date) -> Statement:
    """2. Into the TAKE table: what negative differences take back, oldest live lot first, at most what is left
    (applied by TAKE_APPLY)."""
    p = Params()
    sql = (
        p.d.temp_create(TAKE)
        + f"""
        WITH live AS (
            SELECT l.id, l.customer_id, l.remaining, need.n,
                   SUM(l.remaining) OVER (PARTITION BY l.customer_id ORDER BY l.expires_on, l.id
                                          ROWS UNBOUNDED PRECEDING) AS cum
            FROM {LOTS} l JOIN {NEED} need ON need.customer_id = l.customer_id AND need.n > 0
            WHERE l.remaining > 0 AND l.expires_on >= {p(on)}
        )
        SELECT id, customer_id,
               CASE WHEN n - (cum - remaining) >= remaining THEN remaining ELSE n - (cum - remaining) END AS take
        FROM live WHERE cum - remaining < n
        """
    )
    return sql, p


def entries_sql(*, on: dt.date, actor: str) -> Statement:
    """3. The ledger: one entry per bill and kind that changed."""
    p = Params()
    reference = f"CASE WHEN correction = 1 THEN {p('bill correction')} ELSE {p('bill')} END"
    sql = f"""INSERT INTO {ENTRIES} (customer_id, kind, amount, year, bill_month, reference, detail, occurred_on,
                                      created_at, actor)
        SELECT customer_id, kind, pts, year, month, ref, NULL, {p(on)}, {p.d.now}, {p(actor)}
        FROM (SELECT customer_id, 'earn' AS kind, d_earn AS pts, year, month, {reference} AS ref
              FROM {DELTA} WHERE d_earn <> 0
              UNION ALL
              SELECT customer_id, 'reward' AS kind, d_reward AS pts, year, month, {reference} AS ref
              FROM {DELTA} WHERE d_reward <> 0) x
        ORDER BY customer_id, month, kind"""
    return sql, p


def write_off_sql(*, on: dt.date, actor: str) -> Statement:
    """What a correction down could not take back (already spent) is written off by an `adjust` entry."""
    p = Params()
    sql = f"""INSERT INTO {ENTRIES} (customer_id, kind, amount, reference, detail, occurred_on, created_at, actor)
        SELECT customer_id, 'adjust', pts, {p(WRITTEN_OFF)}, NULL, {p(on)}, {p.d.now}, {p(actor)}
        FROM ({SHORT}) s ORDER BY customer_id"""
    return sql, p


def balance_change(negatives: bool) -> str:
    """Per customer: the net change of the lots (`pts`) and of the consumption total."""
    credit = f"""(SELECT customer_id,
                         SUM(CASE WHEN d_earn > 0 THEN d_earn ELSE 0 END)
                         + SUM(CASE WHEN d_reward > 0 THEN d_reward ELSE 0 END) AS credited,
                         SUM(d_earn) AS consumption
                  FROM {DELTA} GROUP BY customer_id)"""
    if negatives:
        return f"""SELECT cr.customer_id, cr.credited - COALESCE(tk.taken, 0) AS pts, cr.consumption
            FROM {credit} cr LEFT JOIN {TAKEN} tk ON tk.customer_id = cr.customer_id"""
    return f"SELECT customer_id, credited AS pts, consumption FROM {credit} cr"


def balances_sql(change: str) -> Statement:
    """4. The balances and the consumption totals."""
    p = Params()
    sql = f"""UPDATE {ACCOUNTS} SET balance = {ACCOUNTS}.balance + x.pts,
               total_consumption = {ACCOUNTS}.total_consumption + x.consumption,
               updated_at = {p.d.now}
        FROM ({change}) x WHERE {ACCOUNTS}.customer_id = x.customer_id"""
    return sql, p


def events_sql(change: str, *, kind: str) -> Statement:
    """5. A `points.changed` outbound event per customer whose balance changed (`change`: customer_id, pts), with the
    new balance (run after the balances), in the same transaction (DOMAIN §11)."""
    p = Params()
    data = p.d.json_object({"delta": "x.pts", "balance": "a.balance", "kind": f"'{kind}'"})
    sql = f"""INSERT INTO {OUTBOX} (type, customer_id, msisdn, occurred_at, data, created_at)
        SELECT 'points.changed', x.customer_id, c.msisdn, {p.d.now}, {data}, {p.d.now}
        FROM ({change}) x JOIN {ACCOUNTS} a ON a.customer_id = x.customer_id
        JOIN {CUSTOMERS} c ON c.id = x.customer_id
        WHERE x.pts <> 0 ORDER BY x.customer_id"""
    return sql, p


def balances_events_sql(change: str, *, kind: str) -> Statement:
    """4 and 5 in one PostgreSQL statement: the balances updated from `change` (computed once), their RETURNING
    feeding the `points.changed` events (the new balance without reading the accounts again); answers the net
    change of the balances."""
    p = Params()
    data = p.d.json_object({"delta": "up.pts", "balance": "up.balance", "kind": f"'{kind}'"})
    sql = f"""WITH x AS MATERIALIZED ({change}),
        up AS (
            UPDATE {ACCOUNTS} SET balance = {ACCOUNTS}.balance + x.pts,
                   total_consumption = {ACCOUNTS}.total_consumption + x.consumption, updated_at = {p.d.now}
            FROM x WHERE {ACCOUNTS}.customer_id = x.customer_id
            RETURNING {ACCOUNTS}.customer_id, {ACCOUNTS}.balance, x.pts
        ),
        ev AS (
            INSERT INTO {OUTBOX} (type, customer_id, msisdn, occurred_at, data, created_at)
            SELECT 'points.changed', up.customer_id, c.msisdn, {p.d.now}, {data}, {p.d.now}
            FROM up JOIN {CUSTOMERS} c ON c.id = up.customer_id
            WHERE up.pts <> 0 ORDER BY up.customer_id
        )
        SELECT COALESCE(SUM(pts), 0) FROM x"""
    return sql, p


@dataclass
class ExpireResult:
    customers: int = 0
    lots: int = 0
    points: int = 0


def expire(*, on: dt.date, lo: int, hi: int, actor: str = "") -> ExpireResult:
    """Expire what is left in every lot of the customers lo ≤ id ≤ hi that expires on or before `on`: one
    `expire` entry per customer and lot year, the lots emptied, the balances lowered. Idempotent: an expired lot
    has nothing left. Must run inside a transaction."""
    p = Params()
    d = p.d
    tmp = "points_expiring"
    result = ExpireResult()
    live = (
        f"SELECT DISTINCT customer_id AS id FROM {LOTS} WHERE customer_id BETWEEN {p(lo)} AND {p(hi)} "
        f"AND expires_on <= {p(on)} AND remaining > 0"
    )
    with connection.cursor() as cursor:
        if d.for_update:
            cursor.execute(
                f"SELECT customer_id FROM {ACCOUNTS} WHERE customer_id IN ({live}) ORDER BY customer_id{d.for_update}",
                p,
            )
        cursor.execute(f"DROP TABLE IF EXISTS {tmp}")
        q = Params()
        cursor.execute(
            d.temp_create(tmp)
            + f"""SELECT id, customer_id, year, remaining FROM {LOTS}
                  WHERE customer_id BETWEEN {q(lo)} AND {q(hi)} AND expires_on <= {q(on)} AND remaining > 0""",
            q,
        )
        cursor.execute(f"SELECT COUNT(*), COUNT(DISTINCT customer_id), COALESCE(SUM(remaining), 0) FROM {tmp}")
        result.lots, result.customers, result.points = (int(x) for x in cursor.fetchone())
        if result.lots:
            q = Params()
            cursor.execute(
                f"""INSERT INTO {ENTRIES} (customer_id, kind, amount, year, reference, detail, occurred_on,
                                                    created_at, actor)
                SELECT customer_id, 'expire', -SUM(remaining), year, {q("year-end expiry")}, NULL,
                       {q(on)}, {d.now}, {q(actor)}
                FROM {tmp} GROUP BY customer_id, year ORDER BY customer_id, year""",
                q,
            )
            cursor.execute(
                f"UPDATE {LOTS} SET remaining = 0 FROM {tmp} t WHERE {LOTS}.id = t.id",
            )
            q = Params()
            cursor.execute(
                f"""UPDATE {ACCOUNTS} SET balance = {ACCOUNTS}.balance - x.pts,
                       updated_at = {d.now}
                FROM (SELECT customer_id, SUM(remaining) AS pts FROM {tmp} GROUP BY customer_id) x
                WHERE {ACCOUNTS}.customer_id = x.customer_id""",
                q,
            )
            change = f"SELECT customer_id, -SUM(remaining) AS pts FROM {tmp} GROUP BY customer_id"
            cursor.execute(*events_sql(change, kind="expire"))
        cursor.execute(f"DROP TABLE {tmp}")
    return result


def _aware_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@dataclass
class CreditResult:
    customers: int = 0
    by_stars: dict | None = None


def credit(*, table: rules.CreditTable, on: dt.date, lo: int, hi: int) -> CreditResult:
    """Compute and store the credit stars on `on` of every customer lo ≤ id ≤ hi who is not closed (§7; see
    rules.credit_score). Must run inside a transaction."""
    p = Params()
    d = p.d
    first, last = rules.suspension_window(on, table.suspension_months)
    brand = (
        "CASE c.brand " + " ".join(f"WHEN {p(b)} THEN {p(v)}" for b, v in table.brand_points.items()) + " ELSE 0 END"
        if table.brand_points
        else "0"
    )
    tenure = (
        "CASE "
        + " ".join(
            f"WHEN c.join_date <= {p(dates.years_before(on, years))} THEN {p(points)}"
            for years, points in table.tenure_points
            if years > 0
        )
        + f" ELSE {p(rules.tenure_points(table, 0))} END"
    )
    bands = (
        "CASE "
        + " ".join(
            f"WHEN COALESCE(a.fen, 0) <= {p(rules.to_fen(ceiling))} * COALESCE(a.n, 0) THEN {p(points)}"
            for ceiling, points in table.average_bands
        )
        + f" ELSE {p(table.over_top_band_points)} END"
    )
    stars = (
        "CASE " + " ".join(f"WHEN score >= {p(m)} THEN {p(s)}" for m, s in table.star_thresholds) + " ELSE 0 END"
        if table.star_thresholds
        else "0"
    )
    new = f"""SELECT id, {stars} AS stars, score FROM (
        SELECT c.id, {brand} + {tenure} + {bands} - {p(table.suspension_penalty)} * COALESCE(s.n, 0) AS score
        FROM {CUSTOMERS} c
        LEFT JOIN (
            SELECT customer_id, SUM({d.fen("amount")}) AS fen, COUNT(*) AS n FROM (
                SELECT customer_id, amount,
                       ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY month DESC) AS rn
                FROM {BILLS}
                WHERE customer_id BETWEEN {p(lo)} AND {p(hi)} AND month < {p(on.replace(day=1))}
            ) lb WHERE rn <= {p(table.bills_counted)} GROUP BY customer_id
        ) a ON a.customer_id = c.id
        LEFT JOIN (
            SELECT customer_id, COUNT(*) AS n FROM {STATUS_CHANGES}
            WHERE customer_id BETWEEN {p(lo)} AND {p(hi)} AND to_status = 'suspended'
              AND occurred_at >= {p(_aware_midnight(first))} AND occurred_at < {p(_aware_midnight(last + dt.timedelta(days=1)))}
            GROUP BY customer_id
        ) s ON s.customer_id = c.id
        WHERE c.id BETWEEN {p(lo)} AND {p(hi)} AND c.status <> 'closed'
    ) x"""
    upsert = f"""INSERT INTO {RATINGS} (customer_id, stars, score, as_of, computed_at)
    SELECT id, stars, score, {p(on)}, {d.now} FROM {{new}} n WHERE true
    ON CONFLICT (customer_id) DO UPDATE SET
        stars = excluded.stars, score = excluded.score, as_of = excluded.as_of, computed_at = excluded.computed_at"""
    # the members whose privileges the new stars change (DOMAIN §10): their `privileges.changed` events, read
    # against the stars stored before this upsert
    changes = f"""SELECT n.id AS customer_id,
            {privilege_key_sql("t.tier_id IS NOT NULL", "r.stars")} AS old_key,
            {privilege_key_sql("t.tier_id IS NOT NULL", "n.stars")} AS new_key
        FROM {{new}} n LEFT JOIN {RATINGS} r ON r.customer_id = n.id LEFT JOIN {STATE} t ON t.customer_id = n.id"""
    events = privileges_events_sql(p, table, changes)
    with connection.cursor() as cursor:
        if d.postgres:  # one statement: the stars computed once; both writes see the ratings as they were
            cursor.execute(
                f"WITH n0 AS MATERIALIZED ({new}), ev AS ({events.format(new='n0')}) {upsert.format(new='n0')}", p
            )
        else:  # no data-modifying CTEs: the events first (they read the stored stars), then the upsert
            cursor.execute(events.format(new=f"({new})"), p)
            cursor.execute(upsert.format(new=f"({new})"), p)
        # the ratings just written: the statement above upserted one for every customer of the range not closed
        q = Params()
        cursor.execute(
            f"SELECT r.stars, COUNT(*) FROM {RATINGS} r JOIN {CUSTOMERS} c ON c.id = r.customer_id "
            f"WHERE r.customer_id BETWEEN {q(lo)} AND {q(hi)} AND c.status <> 'closed' GROUP BY r.stars",
            q,
        )
        by_stars = {int(s): n for s, n in cursor.fetchall()}
    return CreditResult(customers=sum(by_stars.values()), by_stars=by_stars)


# -- privileges (DOMAIN §10): `privileges.changed` events, set-based ---------------------------------------------------


def privilege_key_sql(member: str, stars: str) -> str:
    """rules.privilege_key in SQL: `member` a condition, `stars` the stored stars (NULL when none: 0)."""
    return f"(CASE WHEN {member} THEN 10 ELSE 0 END + COALESCE({stars}, 0))"


def privileges_events_sql(p: Params, table: rules.CreditTable, changes: str) -> str:
    """Insert a `privileges.changed` event (API.md: the privileges, with the msisdn) for every row of `changes`
    (customer_id, old_key, new_key: privilege keys before and after) whose privileges differ. The SQL holds no rule of
    its own: the answers and which of them differ come from rules.privilege_table (the rule the endpoint calls),
    looked up by key. Braces of `changes` are kept for the caller's format(). The customer's holiday opt-out (the
    same before and after in these set-based changes) is added to both keys here."""
    answers = rules.privilege_table(table)
    opted = f"CASE WHEN c.holiday_opt_out THEN {rules.OPTED_OUT_KEY} ELSE 0 END"
    old_key, new_key = f"(x.old_key + {opted})", f"(x.new_key + {opted})"
    classes: dict[str, int] = {}  # each distinct answer, numbered: two keys with the same number answer the same
    class_of = [(key, classes.setdefault(json.dumps(a, sort_keys=True), len(classes))) for key, a in answers.items()]
    cast = "CAST({} AS jsonb)" if p.d.postgres else "{}"
    data = (
        f"CASE {new_key} "
        + " ".join(f"WHEN {p(key)} THEN {cast.format(p(json.dumps(a)))}" for key, a in answers.items())
        + " END"
    )
    return f"""INSERT INTO {OUTBOX} (type, customer_id, msisdn, occurred_at, data, created_at)
        SELECT 'privileges.changed', x.customer_id, c.msisdn, {p.d.now}, {data}, {p.d.now}
        FROM ({changes}) x JOIN {CUSTOMERS} c ON c.id = x.customer_id
        WHERE {p.case(old_key, class_of, "-1")} <> {p.case(new_key, class_of, "-1")}
        ORDER BY x.customer_id"""


def privileges_after_tier_changes(
    *, table: rules.CreditTable, run_id: int | None, on: dt.date, lo: int, hi: int, after_id: int
) -> int:
    """The `privileges.changed` events of the tier changes just written in the caller's transaction (a rating run's
    chunk: `run_id`, the customers lo ≤ id ≤ hi; the daily floors step: no run, effective `on`), history ids above
    `after_id`: one INSERT … SELECT, whatever the number of changes. Returns the events written."""
    p = Params()
    run = f"h.run_id = {p(run_id)}" if run_id is not None else f"h.run_id IS NULL AND h.effective_on = {p(on)}"
    changes = f"""SELECT h.customer_id,
            {privilege_key_sql("h.from_tier_id IS NOT NULL", "r.stars")} AS old_key,
            {privilege_key_sql("h.to_tier_id IS NOT NULL", "r.stars")} AS new_key
        FROM {TIER_CHANGES} h LEFT JOIN {RATINGS} r ON r.customer_id = h.customer_id
        WHERE {run} AND h.customer_id BETWEEN {p(lo)} AND {p(hi)} AND h.id > {p(after_id)}"""
    with connection.cursor() as cursor:
        cursor.execute(privileges_events_sql(p, table, changes), p)
        return max(cursor.rowcount, 0)
