"""Set-based SQL of the points app: earning from bills, the year-end expiry, credit stars.

Each function handles one scope (bills named in a temporary key table, or a customer-id range) in the caller's
transaction, with a fixed number of statements whatever the number of customers. Every writer of a customer's
lots first locks the customer's account row (PostgreSQL `FOR UPDATE`, in customer-id order; SQLite locks the
whole database for a write), so that the lots it reads cannot change under it. PostgreSQL and SQLite differ in
a few expressions, kept side by side below. The reference rules are in `points/rules.py`; tests assert that
both agree.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from core.sql import Params

from . import rules


@dataclass(frozen=True)
class Dialect:
    floor_int: str  # integer yuan of a non-negative amount, floored
    fen: str  # integer fen of an amount
    year: str  # integer year of a date
    month: str  # integer month of a date
    day: str  # integer day of a date
    dec31: str  # the date 31 December of an integer year
    date_cast: str  # appended to a date parameter
    temp_create: str
    for_update: str  # row locks ('' where the database locks as a whole)
    false: str


POSTGRES = Dialect(
    floor_int="FLOOR({})::bigint",
    fen="(({}) * 100)::bigint",
    year="EXTRACT(YEAR FROM {})::int",
    month="EXTRACT(MONTH FROM {})::int",
    day="EXTRACT(DAY FROM {})::int",
    dec31="make_date({}, 12, 31)",
    date_cast="::date",
    temp_create="CREATE TEMP TABLE {} ON COMMIT DROP AS ",
    for_update=" FOR UPDATE",
    false="false",
)
SQLITE = Dialect(
    floor_int="CAST({} AS INTEGER)",
    fen="CAST(ROUND(({}) * 100) AS INTEGER)",
    year="CAST(strftime('%%Y', {}) AS INTEGER)",
    month="CAST(strftime('%%m', {}) AS INTEGER)",
    day="CAST(strftime('%%d', {}) AS INTEGER)",
    dec31="printf('%%04d-12-31', {})",
    date_cast="",
    temp_create="CREATE TEMP TABLE {} AS ",
    for_update="",
    false="0",
)


def dialect() -> Dialect:
    return POSTGRES if connection.vendor == "postgresql" else SQLITE


KEYS = "points_bill_keys"


def create_keys(pairs) -> None:
    """The bills (customer id, month) that `earn(keys=True)` looks at, in a temporary table."""
    d = dialect()
    pairs = list(pairs)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {KEYS}")
        if d is POSTGRES:
            cursor.execute(f"CREATE TEMP TABLE {KEYS} (customer_id bigint, month date) ON COMMIT DROP")
        else:
            cursor.execute(f"CREATE TEMP TABLE {KEYS} (customer_id integer, month date)")
        for start in range(0, len(pairs), 1000):
            batch = pairs[start : start + 1000]
            values = ", ".join(["(%s, %s)"] * len(batch))
            cursor.execute(
                f"INSERT INTO {KEYS} (customer_id, month) VALUES {values}",
                [x for customer_id, month in batch for x in (customer_id, connection.ops.adapt_datefield_value(month))],
            )


def drop_keys() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {KEYS}")


def _lock_accounts(cursor, d: Dialect, customers_sql: str, p: "Params") -> None:
    """Create the missing accounts of the customers in `customers_sql` (a query of `id`s), then lock them all in
    customer-id order (two writers never wait for each other crosswise)."""
    cursor.execute(
        f"""INSERT INTO points_pointsaccount (customer_id, balance, frozen, frozen_reason, total_consumption,
                                              updated_at)
            SELECT id, 0, {d.false}, '', 0, {p(timezone.now())}
            FROM ({customers_sql}) x WHERE true ORDER BY id
            ON CONFLICT (customer_id) DO NOTHING""",
        p,
    )
    if d.for_update:
        cursor.execute(
            f"SELECT customer_id FROM points_pointsaccount WHERE customer_id IN ({customers_sql}) "
            f"ORDER BY customer_id{d.for_update}",
            p,
        )


def reward_hundredths(p: "Params", d: Dialect, rewards: list[rules.Reward]) -> str:
    """The reward percent, in hundredths, of a bill row `b` of a customer row `c` (as rules.reward_percent):
    every matching brand rule, plus the matching tenure rule with the most years (full years at the end of the
    bill's month: on the first day of the next month, month index y * 12 + m)."""
    parts = []
    for r in (r for r in rewards if r.kind == "brand"):
        hundredths = p(int(r.percent * 100))
        parts.append(f"(CASE WHEN c.brand = {p(r.brand)} THEN {hundredths} ELSE 0 END)" if r.brand else hundredths)
    tenure_rules = sorted((r for r in rewards if r.kind == "tenure"), key=lambda r: (-r.min_years, -r.percent))
    if tenure_rules:
        t = f"({d.year.format('b.month')} * 12 + {d.month.format('b.month')})"
        joined = (
            f"({d.year.format('c.join_date')} * 12 + {d.month.format('c.join_date')} - 1 "
            f"+ CASE WHEN {d.day.format('c.join_date')} > 1 THEN 1 ELSE 0 END)"
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
    keys: bool = False,
    lo: int | None = None,
    hi: int | None = None,
    actor: str = "",
) -> EarnResult:
    """Post what the bills in scope should have earned minus what they have earned (per bill and kind).

    Scope: the bills named in the temporary key table (`keys=True`, see `create_keys`), or every bill of the
    customers lo ≤ id ≤ hi. A bill whose year's points have expired on `on`, of a month after `on` (it cannot
    exist: the API takes only months that have ended; a row loaded around it must not make a lot expiring after
    the calendar's end, whose date no read could convert — issue 13), or of a closed customer, earns nothing.
    Positive differences go into the lot of the bill's year (kind earn, or reward); negative ones take
    points back oldest lot first (FIFO), and what was already spent is written off by an `adjust` entry so that
    the ledger still adds up to the lots. Must run inside a transaction."""
    d = dialect()
    p = Params(d)
    now = timezone.now()
    since = dt.date(rules.first_live_year(on, expiry_years), 1, 1)
    if keys:
        customers_sql = f"SELECT DISTINCT customer_id AS id FROM {KEYS}"
        bills_sql = (
            f"SELECT b.customer_id, b.month, b.amount FROM customers_monthlybill b "
            f"JOIN {KEYS} k ON k.customer_id = b.customer_id AND k.month = b.month "
            f"WHERE b.month >= {p(since, True)} AND b.month <= {p(on, True)}"
        )
        posted_filter = f"customer_id IN (SELECT customer_id FROM {KEYS}) AND bill_month IN (SELECT month FROM {KEYS})"
    else:
        customers_sql = f"SELECT id FROM customers_customer WHERE id BETWEEN {p(lo)} AND {p(hi)} AND status <> 'closed'"
        bills_sql = (
            f"SELECT customer_id, month, amount FROM customers_monthlybill "
            f"WHERE customer_id BETWEEN {p(lo)} AND {p(hi)} AND month >= {p(since, True)} AND month <= {p(on, True)}"
        )
        posted_filter = f"customer_id BETWEEN {p(lo)} AND {p(hi)} AND bill_month >= {p(since, True)}"
    base = d.floor_int.format("b.amount")
    reward = reward_hundredths(p, d, rewards)
    delta, take = "points_earn_delta", "points_earn_take"
    result = EarnResult()
    with connection.cursor() as cursor:
        _lock_accounts(cursor, d, customers_sql, p)
        cursor.execute(f"DROP TABLE IF EXISTS {delta}")
        cursor.execute(f"DROP TABLE IF EXISTS {take}")
        # what every bill in scope should have earned minus what it has earned: the differences only
        cursor.execute(
            d.temp_create.format(delta)
            + f"""
            WITH t AS (
                SELECT b.customer_id, b.month, {base} AS base, ({base} * ({reward})) / 10000 AS reward
                FROM ({bills_sql}) b JOIN customers_customer c ON c.id = b.customer_id
                WHERE c.status <> 'closed'
            ), posted AS (
                SELECT customer_id, bill_month,
                       SUM(CASE WHEN kind = 'earn' THEN amount ELSE 0 END) AS earned,
                       SUM(CASE WHEN kind = 'reward' THEN amount ELSE 0 END) AS rewarded
                FROM points_pointsentry
                WHERE {posted_filter} AND bill_month IS NOT NULL AND kind IN ('earn', 'reward')
                GROUP BY customer_id, bill_month
            )
            SELECT t.customer_id, t.month, {d.year.format("t.month")} AS year,
                   t.base - COALESCE(posted.earned, 0) AS d_earn,
                   t.reward - COALESCE(posted.rewarded, 0) AS d_reward,
                   CASE WHEN posted.customer_id IS NULL THEN 0 ELSE 1 END AS correction
            FROM t LEFT JOIN posted ON posted.customer_id = t.customer_id AND posted.bill_month = t.month
            WHERE t.base <> COALESCE(posted.earned, 0) OR t.reward <> COALESCE(posted.rewarded, 0)
            """,
            p,
        )
        cursor.execute(
            f"SELECT COUNT(*), COUNT(DISTINCT customer_id), "
            f"COALESCE(SUM(CASE WHEN d_earn < 0 OR d_reward < 0 THEN 1 ELSE 0 END), 0) FROM {delta}"
        )
        result.bills, result.customers, negatives = (int(x) for x in cursor.fetchone())
        if not result.bills:
            cursor.execute(f"DROP TABLE {delta}")
            return result

        # 1. positive differences into the lot of the bill's year (one lot per customer, year and kind)
        q = Params(d)
        cursor.execute(
            f"""INSERT INTO points_pointslot (customer_id, year, kind, original, remaining, expires_on, created_at)
            SELECT customer_id, year, kind, SUM(pts), SUM(pts), {d.dec31.format(f"year + {q(expiry_years)}")}, {q(now)}
            FROM (SELECT customer_id, year, 'earn' AS kind, d_earn AS pts FROM {delta} WHERE d_earn > 0
                  UNION ALL
                  SELECT customer_id, year, 'reward' AS kind, d_reward AS pts FROM {delta} WHERE d_reward > 0) x
            WHERE true GROUP BY customer_id, year, kind ORDER BY customer_id, year, kind
            ON CONFLICT (customer_id, year, kind) DO UPDATE SET
                original = points_pointslot.original + excluded.original,
                remaining = points_pointslot.remaining + excluded.remaining""",
            q,
        )
        need = f"""(SELECT customer_id, -SUM(CASE WHEN d_earn < 0 THEN d_earn ELSE 0 END)
                                       - SUM(CASE WHEN d_reward < 0 THEN d_reward ELSE 0 END) AS n
                    FROM {delta} GROUP BY customer_id)"""
        if negatives:
            # 2. negative differences take points back, oldest lot first, at most what is left
            q = Params(d)
            cursor.execute(
                d.temp_create.format(take)
                + f"""
                WITH live AS (
                    SELECT l.id, l.customer_id, l.remaining, need.n,
                           SUM(l.remaining) OVER (PARTITION BY l.customer_id ORDER BY l.expires_on, l.id
                                                  ROWS UNBOUNDED PRECEDING) AS cum
                    FROM points_pointslot l JOIN {need} need ON need.customer_id = l.customer_id AND need.n > 0
                    WHERE l.remaining > 0 AND l.expires_on >= {q(on, True)}
                )
                SELECT id, customer_id,
                       CASE WHEN n - (cum - remaining) >= remaining THEN remaining ELSE n - (cum - remaining) END
                       AS take
                FROM live WHERE cum - remaining < n
                """,
                q,
            )
            cursor.execute(
                f"UPDATE points_pointslot SET remaining = points_pointslot.remaining - t.take "
                f"FROM {take} t WHERE points_pointslot.id = t.id"
            )
        # 3. the ledger: one entry per bill and kind that changed
        q = Params(d)
        reference = f"CASE WHEN correction = 1 THEN {q('bill correction')} ELSE {q('bill')} END"
        cursor.execute(
            f"""INSERT INTO points_pointsentry (customer_id, kind, amount, year, bill_month, reference, detail,
                                                occurred_on, created_at, actor)
            SELECT customer_id, kind, pts, year, month, ref, NULL, {q(on, True)}, {q(now)}, {q(actor)}
            FROM (SELECT customer_id, 'earn' AS kind, d_earn AS pts, year, month, {reference} AS ref
                  FROM {delta} WHERE d_earn <> 0
                  UNION ALL
                  SELECT customer_id, 'reward' AS kind, d_reward AS pts, year, month, {reference} AS ref
                  FROM {delta} WHERE d_reward <> 0) x
            ORDER BY customer_id, month, kind""",
            q,
        )
        taken = f"(SELECT customer_id, SUM(take) AS taken FROM {take} GROUP BY customer_id)"
        if negatives:
            #    what a correction down could not take back (already spent) is written off
            q = Params(d)
            short = f"""SELECT need.customer_id, need.n - COALESCE(tk.taken, 0) AS pts
                        FROM {need} need LEFT JOIN {taken} tk ON tk.customer_id = need.customer_id
                        WHERE need.n > COALESCE(tk.taken, 0)"""
            cursor.execute(
                f"""INSERT INTO points_pointsentry (customer_id, kind, amount, reference, detail, occurred_on,
                                                    created_at, actor)
                SELECT customer_id, 'adjust', pts, {q(WRITTEN_OFF)}, NULL, {q(on, True)}, {q(now)}, {q(actor)}
                FROM ({short}) s ORDER BY customer_id""",
                q,
            )
            cursor.execute(f"SELECT COALESCE(SUM(pts), 0) FROM ({short}) s")
            result.written_off = int(cursor.fetchone()[0])
        # 4. the balances (the net change of each customer's lots) and the consumption totals
        credit = f"""(SELECT customer_id,
                             SUM(CASE WHEN d_earn > 0 THEN d_earn ELSE 0 END)
                             + SUM(CASE WHEN d_reward > 0 THEN d_reward ELSE 0 END) AS credited,
                             SUM(d_earn) AS consumption
                      FROM {delta} GROUP BY customer_id)"""
        change = (
            f"""SELECT cr.customer_id, cr.credited - COALESCE(tk.taken, 0) AS pts, cr.consumption
                FROM {credit} cr LEFT JOIN {taken} tk ON tk.customer_id = cr.customer_id"""
            if negatives
            else f"SELECT customer_id, credited AS pts, consumption FROM {credit} cr"
        )
        cursor.execute(f"SELECT COALESCE(SUM(pts), 0) FROM ({change}) x")
        result.points = int(cursor.fetchone()[0])
        q = Params(d)
        cursor.execute(
            f"""UPDATE points_pointsaccount SET balance = points_pointsaccount.balance + x.pts,
                   total_consumption = points_pointsaccount.total_consumption + x.consumption,
                   updated_at = {q(now)}
            FROM ({change}) x WHERE points_pointsaccount.customer_id = x.customer_id""",
            q,
        )
        cursor.execute(f"DROP TABLE {delta}")
        if negatives:
            cursor.execute(f"DROP TABLE {take}")
    return result


@dataclass
class ExpireResult:
    customers: int = 0
    lots: int = 0
    points: int = 0


def expire(*, on: dt.date, lo: int, hi: int, actor: str = "") -> ExpireResult:
    """Expire what is left in every lot of the customers lo ≤ id ≤ hi that expires on or before `on`: one
    `expire` entry per customer and lot year, the lots emptied, the balances lowered. Idempotent: an expired lot
    has nothing left. Must run inside a transaction."""
    d = dialect()
    p = Params(d)
    now = timezone.now()
    tmp = "points_expiring"
    result = ExpireResult()
    live = (
        f"SELECT DISTINCT customer_id AS id FROM points_pointslot WHERE customer_id BETWEEN {p(lo)} AND {p(hi)} "
        f"AND expires_on <= {p(on, True)} AND remaining > 0"
    )
    with connection.cursor() as cursor:
        if d.for_update:
            cursor.execute(
                f"SELECT customer_id FROM points_pointsaccount WHERE customer_id IN ({live}) "
                f"ORDER BY customer_id{d.for_update}",
                p,
            )
        cursor.execute(f"DROP TABLE IF EXISTS {tmp}")
        q = Params(d)
        cursor.execute(
            d.temp_create.format(tmp)
            + f"""SELECT id, customer_id, year, remaining FROM points_pointslot
                  WHERE customer_id BETWEEN {q(lo)} AND {q(hi)} AND expires_on <= {q(on, True)} AND remaining > 0""",
            q,
        )
        cursor.execute(f"SELECT COUNT(*), COUNT(DISTINCT customer_id), COALESCE(SUM(remaining), 0) FROM {tmp}")
        result.lots, result.customers, result.points = (int(x) for x in cursor.fetchone())
        if result.lots:
            q = Params(d)
            cursor.execute(
                f"""INSERT INTO points_pointsentry (customer_id, kind, amount, year, reference, detail, occurred_on,
                                                    created_at, actor)
                SELECT customer_id, 'expire', -SUM(remaining), year, {q("year-end expiry")}, NULL,
                       {q(on, True)}, {q(now)}, {q(actor)}
                FROM {tmp} GROUP BY customer_id, year ORDER BY customer_id, year""",
                q,
            )
            cursor.execute(
                f"UPDATE points_pointslot SET remaining = 0 FROM {tmp} t WHERE points_pointslot.id = t.id",
            )
            q = Params(d)
            cursor.execute(
                f"""UPDATE points_pointsaccount SET balance = points_pointsaccount.balance - x.pts,
                       updated_at = {q(now)}
                FROM (SELECT customer_id, SUM(remaining) AS pts FROM {tmp} GROUP BY customer_id) x
                WHERE points_pointsaccount.customer_id = x.customer_id""",
                q,
            )
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
    d = dialect()
    p = Params(d)
    now = timezone.now()
    first, last = rules.suspension_window(on, table.suspension_months)
    brand = (
        "CASE c.brand " + " ".join(f"WHEN {p(b)} THEN {p(v)}" for b, v in table.brand_points.items()) + " ELSE 0 END"
        if table.brand_points
        else "0"
    )
    tenure = (
        "CASE "
        + " ".join(
            f"WHEN c.join_date <= {p(rules.years_before(on, years), True)} THEN {p(points)}"
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
    sql = f"""
    INSERT INTO points_creditrating (customer_id, stars, score, as_of, computed_at)
    SELECT id, {stars}, score, {p(on, True)}, {p(now)} FROM (
        SELECT c.id, {brand} + {tenure} + {bands} - {p(table.suspension_penalty)} * COALESCE(s.n, 0) AS score
        FROM customers_customer c
        LEFT JOIN (
            SELECT customer_id, SUM({d.fen.format("amount")}) AS fen, COUNT(*) AS n FROM (
                SELECT customer_id, amount,
                       ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY month DESC) AS rn
                FROM customers_monthlybill
                WHERE customer_id BETWEEN {p(lo)} AND {p(hi)} AND month < {p(on.replace(day=1), True)}
            ) lb WHERE rn <= {p(table.bills_counted)} GROUP BY customer_id
        ) a ON a.customer_id = c.id
        LEFT JOIN (
            SELECT customer_id, COUNT(*) AS n FROM customers_statuschange
            WHERE customer_id BETWEEN {p(lo)} AND {p(hi)} AND to_status = 'suspended'
              AND occurred_at >= {p(_aware_midnight(first))} AND occurred_at < {p(_aware_midnight(last + dt.timedelta(days=1)))}
            GROUP BY customer_id
        ) s ON s.customer_id = c.id
        WHERE c.id BETWEEN {p(lo)} AND {p(hi)} AND c.status <> 'closed'
    ) x WHERE true
    ON CONFLICT (customer_id) DO UPDATE SET
        stars = excluded.stars, score = excluded.score, as_of = excluded.as_of, computed_at = excluded.computed_at
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, p)
        q = Params(d)
        cursor.execute(
            f"SELECT stars, COUNT(*) FROM points_creditrating WHERE customer_id BETWEEN {q(lo)} AND {q(hi)} "
            f"AND computed_at = {q(now)} GROUP BY stars",
            q,
        )
        by_stars = {int(s): n for s, n in cursor.fetchall()}
    return CreditResult(customers=sum(by_stars.values()), by_stars=by_stars)
