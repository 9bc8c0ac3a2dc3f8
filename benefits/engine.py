"""Set-based grants: every member's quota of the current period, as a few SQL statements per id range.

One pass (`sync`) over a range of customers, inside the caller's transaction:

1. opens the missing accounts of the current year and month of every member entitled to a periodic benefit,
   granted her tier's quota (`INSERT … SELECT … ON CONFLICT DO NOTHING`), and appends their grant entries;
2. finds, into a temporary table, the accounts whose grant must change: the current periods' when the tier
   changed — the new tier's quota plus the complaint compensation kept on the account (`extra`), never below what
   was used ("what was used stays used") — or reduced to what
   was used when the customer left the club; and, when `expire_past`, the ended periods' with a rest to expire;
3. locks just those (PostgreSQL; SQLite has one writer at a time), appends one ledger entry per change (adjust,
   grant or expire) and applies them (`UPDATE … FROM`), both computed from the locked rows' current values.

A second pass with the same inputs finds nothing to change, so a crashed job is simply run again. No query runs
per customer; the expressions in which PostgreSQL and SQLite differ come from `core.sql`. Measured on PostgreSQL
15 (2 shared cores), 100,000 members: opening a year (480,000 grants) 21 s, a month (100,000 grants and 100,000
expiries) 14 s, the new year (480,000 of each) 44 s, a pass with nothing to do 5 s.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from core import dates
from core.models import OutboxEvent
from core.sql import Dialect, Params
from customers.models import Customer
from tiers.models import CustomerTier

from . import rules
from .models import Benefit, BenefitAccount, BenefitEntry, TierEntitlement

TEMP = "benefit_sync"
CUSTOMERS = Customer._meta.db_table
TIERS_NOW = CustomerTier._meta.db_table
BENEFITS = Benefit._meta.db_table
ENTITLEMENTS = TierEntitlement._meta.db_table
ACCOUNTS = BenefitAccount._meta.db_table
ENTRIES = BenefitEntry._meta.db_table
OUTBOX = OutboxEvent._meta.db_table
ENTRY_COLUMNS = """(account_id, customer_id, benefit_id, kind, granted_delta, used_delta, remaining_after, tier_id,
                    hours, valid_until, occurred_on, actor, reference, idempotency_key, reversal_of_id, created_at)"""


def quota_sql(d: Dialect, entitlement: str = "e", benefit: str = "b") -> str:
    """The entitlement's quota per period in whole units (see `rules.quota`)."""
    e, b = entitlement, benefit
    return (
        f"CASE WHEN {e}.unlimited THEN 0 "
        f"WHEN {b}.unit = 'money' THEN COALESCE({d.fen(f'{e}.money_cap')}, 0) "
        f"WHEN {b}.unit = 'hours' THEN COALESCE({e}.per_month_limit, 0) "
        f"WHEN {b}.unit = 'count' THEN COALESCE({e}.quantity, 0) ELSE 0 END"
    )


def gives_sql(p: Params, state: str = "s", benefit: str = "b") -> str:
    """Whether the tier's entitlement applies (see `rules.gives`): a tier held only by a key-person floor gives only
    the benefits marked for it."""
    return f"({state}.source <> {p(rules.KEY_PERSON)} OR {benefit}.for_key_person_floor)"


@dataclass
class Scope:
    """Which customers (an id range or a list) and, optionally, which benefits."""

    lo: int | None = None
    hi: int | None = None
    customer_ids: tuple[int, ...] | None = None
    benefit_ids: tuple[int, ...] | None = None

    def customers(self, column: str, p: Params) -> str:
        if self.customer_ids is not None:
            return f"{column} IN {p.in_list(self.customer_ids)}" if self.customer_ids else "1 = 0"
        return f"{column} BETWEEN {p(self.lo)} AND {p(self.hi)}"

    def benefits(self, column: str, p: Params) -> str:
        if self.benefit_ids is None:
            return "1 = 1"
        return f"{column} IN {p.in_list(self.benefit_ids)}" if self.benefit_ids else "1 = 0"


def past_keys(on: dt.date, months: int = 24, years: int = 2) -> list[str]:
    """The period keys a pass looks back on for rests to expire (a job missed for a while still catches up)."""
    keys = [dates.month_str(dates.add_months(on, -n)) for n in range(1, months + 1)]
    return keys + [str(on.year - n) for n in range(1, years + 1)]


@dataclass(frozen=True)
class Pass:
    """The placeholders of one pass's fixed values (the current year and month, the business date, the trail)."""

    p: Params
    ykey: str
    ystart: str
    yend: str
    mkey: str
    mstart: str
    mend: str
    on: str
    now: str
    actor: str
    reference: str

    @classmethod
    def of(cls, p: Params, *, on: dt.date, actor: str) -> "Pass":
        year, month = rules.period_bounds(rules.YEAR, on), rules.period_bounds(rules.MONTH, on)
        return cls(
            p=p,
            ykey=p(year.key),
            ystart=p(year.start),
            yend=p(year.end),
            mkey=p(month.key),
            mstart=p(month.start),
            mend=p(month.end),
            on=p(on),
            now=p.d.now,
            actor=p(actor[:60]),
            reference=p(f"grants as of {on.isoformat()}"),
        )


def sync(
    *, scope: Scope, on: dt.date, create: bool = True, expire_past: bool = True, actor: str = "system"
) -> dict[str, int]:
    """One pass over `scope` on `on` (see the module). Must run inside a transaction.
    Returns the ledger entries written per kind."""
    v = Pass.of(Params(), on=on, actor=actor)
    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {ENTRIES}")
        last_entry = cursor.fetchone()[0]
        if create:
            cursor.execute(open_accounts_sql(v, scope), v.p)
            cursor.execute(grant_entries_sql(v, scope), v.p)
            if cursor.rowcount:
                counts["grant"] = cursor.rowcount
        cursor.execute(f"DROP TABLE IF EXISTS {TEMP}")
        cursor.execute(changes_sql(v, scope, past_keys(on) if expire_past else None), v.p)
        if v.p.d.for_update:  # lock just those (SQLite has one writer at a time)
            cursor.execute(
                f"""SELECT COUNT(*) FROM (SELECT a.id FROM {ACCOUNTS} a
                    WHERE a.id IN (SELECT account_id FROM {TEMP}) ORDER BY a.id{v.p.d.for_update}) locked""",
            )
        change = Change(v.p.d)
        cursor.execute(change.counts_sql(), v.p)
        for k, n in cursor.fetchall():
            counts[k] = counts.get(k, 0) + n
        cursor.execute(change.entries_sql(v), v.p)
        cursor.execute(change.apply_sql(v), v.p)
        cursor.execute(f"DROP TABLE {TEMP}")
        if counts.get("grant"):
            q = Params()
            cursor.execute(granted_events_sql(q, scope, after_id=last_entry, on=on), q)
    return counts


def granted_events_sql(p: Params, scope: Scope, *, after_id: int, on: dt.date) -> str:
    """6. A `benefits.granted {period_start, items: [{benefit, granted}]}` outbound event per customer and period
    of the grant entries this pass wrote (ids above `after_id`), in its transaction (DOMAIN §11)."""
    d = p.d
    item = d.json_object({"benefit": "code", "granted": "granted"})
    grouped = f"""
        SELECT customer_id, period_start, {d.json_agg(item, "code")} AS items
        FROM (SELECT e.customer_id, a.period_start, b.code, e.granted_delta AS granted
              FROM {ENTRIES} e
              JOIN {ACCOUNTS} a ON a.id = e.account_id
              JOIN {BENEFITS} b ON b.id = e.benefit_id
              WHERE e.id > {p(after_id)} AND e.kind = 'grant' AND e.occurred_on = {p(on)}
                AND {scope.customers("e.customer_id", p)}
              ORDER BY e.customer_id, a.period_start, b.code) g0
        GROUP BY customer_id, period_start"""
    data = d.json_object({"period_start": "g.period_start", "items": d.json_nested("g.items")})
    return f"""INSERT INTO {OUTBOX} (type, customer_id, msisdn, occurred_at, data, created_at)
        SELECT 'benefits.granted', g.customer_id, c.msisdn, {d.now}, {data}, {d.now}
        FROM ({grouped}) g JOIN {CUSTOMERS} c ON c.id = g.customer_id
        ORDER BY g.customer_id, g.period_start"""


def open_accounts_sql(v: Pass, scope: Scope) -> str:
    """1. The missing accounts of the current year and month of every member entitled to a periodic benefit,
    granted the tier's quota at once."""
    p, quota = v.p, quota_sql(v.p.d)
    return f"""
        INSERT INTO {ACCOUNTS}
            (customer_id, benefit_id, period_key, period_start, period_end, granted, used, unlimited, updated_at)
        SELECT s.customer_id, b.id,
               CASE WHEN b.period = 'year' THEN {v.ykey} ELSE {v.mkey} END,
               CASE WHEN b.period = 'year' THEN {v.ystart} ELSE {v.mstart} END,
               CASE WHEN b.period = 'year' THEN {v.yend} ELSE {v.mend} END,
               {quota}, 0, e.unlimited, {v.now}
        FROM {TIERS_NOW} s
        JOIN {CUSTOMERS} c ON c.id = s.customer_id
        JOIN {ENTITLEMENTS} e ON e.tier_id = s.tier_id
        JOIN {BENEFITS} b ON b.id = e.benefit_id
        WHERE {scope.customers("s.customer_id", p)} AND {scope.benefits("b.id", p)}
          AND c.status <> 'closed' AND b.active AND b.period IN ('year', 'month') AND b.unit <> 'flag'
          AND {gives_sql(p)}
          AND ({quota} > 0 OR e.unlimited)
          AND NOT EXISTS (
              SELECT 1 FROM {ACCOUNTS} a
              WHERE a.customer_id = s.customer_id AND a.benefit_id = b.id
                AND a.period_key = CASE WHEN b.period = 'year' THEN {v.ykey} ELSE {v.mkey} END)
        ON CONFLICT DO NOTHING
        """


def grant_entries_sql(v: Pass, scope: Scope) -> str:
    """2. Their grant entries: accounts of the current periods with a grant and no entry yet. Exactly once under
    concurrency: a second transaction inserting the same account waited for the first one's commit (unique
    index), so it sees that one's entry here."""
    p = v.p
    return f"""
        INSERT INTO {ENTRIES} {ENTRY_COLUMNS}
        SELECT a.id, a.customer_id, a.benefit_id, 'grant', a.granted, 0, a.granted - a.used, s.tier_id,
               NULL, NULL, {v.on}, {v.actor}, {v.reference}, NULL, NULL, {v.now}
        FROM {ACCOUNTS} a
        JOIN {BENEFITS} b ON b.id = a.benefit_id
        LEFT JOIN {TIERS_NOW} s ON s.customer_id = a.customer_id
        WHERE {scope.customers("a.customer_id", p)} AND {scope.benefits("a.benefit_id", p)}
          AND a.period_key IN ({v.ykey}, {v.mkey})
          AND ((b.period = 'year' AND a.period_key = {v.ykey}) OR (b.period = 'month' AND a.period_key = {v.mkey}))
          AND a.granted > 0
          AND NOT EXISTS (SELECT 1 FROM {ENTRIES} x WHERE x.account_id = a.id)
        ORDER BY a.id
        """


def changes_sql(v: Pass, scope: Scope, past_keys: list[str] | None) -> str:
    """3. Into the TEMP table, the accounts whose grant must change: the current periods' (tier changed, left the
    club) and, with `past_keys` (expire_past), the ended periods' with something left. Each arm can use an
    index."""
    p, d = v.p, v.p.d
    current = (
        f"(a.period_key IN ({v.ykey}, {v.mkey}, '') AND ((b.period = 'year' AND a.period_key = {v.ykey})"
        f" OR (b.period = 'month' AND a.period_key = {v.mkey}) OR (b.period = 'none' AND a.period_key = '')))"
    )
    past = "(1 = 0)"
    if past_keys is not None:
        past = (
            f"(a.period_key IN {p.in_list(past_keys)} AND b.period IN ('year', 'month')"
            f" AND a.period_end < {v.on} AND a.granted > a.used AND NOT a.unlimited)"
        )
    return (
        d.temp_create(TEMP)
        + f"""
        SELECT * FROM (
            SELECT a.id AS account_id, a.customer_id, a.benefit_id,
                   CASE WHEN {past} THEN 1 ELSE 0 END AS past,
                   CASE WHEN {past} THEN NULL ELSE t.tier_id END AS tier_id,
                   COALESCE(t.quota, 0) AS quota,
                   CASE WHEN {past} THEN a.unlimited ELSE COALESCE(t.unlimited, FALSE) END AS new_unlimited,
                   a.granted, a.used, a.unlimited, a.extra
            FROM {ACCOUNTS} a
            JOIN {BENEFITS} b ON b.id = a.benefit_id
            LEFT JOIN (
                SELECT s.customer_id, s.tier_id, e.benefit_id, {quota_sql(d)} AS quota, e.unlimited
                FROM {TIERS_NOW} s
                JOIN {CUSTOMERS} c ON c.id = s.customer_id AND c.status <> 'closed'
                JOIN {ENTITLEMENTS} e ON e.tier_id = s.tier_id
                JOIN {BENEFITS} b ON b.id = e.benefit_id AND b.active
                WHERE {scope.customers("s.customer_id", p)} AND {gives_sql(p)}
            ) t ON t.customer_id = a.customer_id AND t.benefit_id = a.benefit_id
            WHERE {scope.customers("a.customer_id", p)} AND {scope.benefits("a.benefit_id", p)}
              AND ({current} OR {past})
        ) x
        WHERE x.new_unlimited <> x.unlimited OR x.granted <> CASE WHEN x.past = 1 THEN x.used
            WHEN x.new_unlimited THEN x.granted ELSE {d.greatest("x.quota + x.extra", "x.used")} END
        """
    )


class Change:
    """4-5. The changes of the TEMP accounts, decided on the locked rows' current values: a redemption may have
    used more since the snapshot, never beyond what the new grant keeps. One ledger entry (adjust, grant or
    expire) per change, then the change itself."""

    def __init__(self, d: Dialect):
        self.new_granted = (
            f"CASE WHEN x.past = 1 THEN a.used WHEN x.new_unlimited THEN a.granted "
            f"ELSE {d.greatest('x.quota + a.extra', 'a.used')} END"
        )
        self.changed = f"(x.new_unlimited <> a.unlimited OR {self.new_granted} <> a.granted)"
        self.kind = (
            "CASE WHEN x.past = 1 THEN 'expire' WHEN x.new_unlimited THEN 'adjust'"
            " WHEN x.quota = 0 AND a.extra = 0 THEN 'expire'"
            " WHEN a.granted = 0 THEN 'grant' ELSE 'adjust' END"
        )
        self.joined = f"FROM {TEMP} x JOIN {ACCOUNTS} a ON a.id = x.account_id WHERE {self.changed}"

    def counts_sql(self) -> str:
        return f"SELECT {self.kind} AS kind, COUNT(*) {self.joined} GROUP BY {self.kind}"

    def entries_sql(self, v: Pass) -> str:
        return f"""
            INSERT INTO {ENTRIES} {ENTRY_COLUMNS}
            SELECT x.account_id, x.customer_id, x.benefit_id, {self.kind}, {self.new_granted} - a.granted, 0,
                   CASE WHEN x.new_unlimited THEN NULL ELSE {self.new_granted} - a.used END, x.tier_id,
                   NULL, NULL, {v.on}, {v.actor}, {v.reference}, NULL, NULL, {v.now}
            {self.joined} ORDER BY x.account_id
            """

    def apply_sql(self, v: Pass) -> str:
        return f"""
            UPDATE {ACCOUNTS} AS a
            SET granted = {self.new_granted}, unlimited = x.new_unlimited, updated_at = {v.now}
            FROM {TEMP} x WHERE a.id = x.account_id AND {self.changed}
            """
