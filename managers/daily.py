"""The daily job of DOMAIN §4: open what is due, mark what is late as overdue, tell managers and supervisors.

`daily_run(on=…)` runs the steps below in order, each in its own transaction and each a handful of set-based
statements over the whole club (no query per customer). A step that opens obligations selects the ones missing
(NOT EXISTS on the obligation's unique (customer, kind, period)) into a temporary table, then inserts them with
ON CONFLICT DO NOTHING: a step run twice for a day opens nothing the second time, and every business date is the
`on` parameter (`day` in the steps), so past days can be replayed. Python computes only small per-date lookups (periods and due
dates of the rules, the birthdays whose gift is due in the window, holidays, card reminder dates per arrival
date) that the SQL joins as VALUES tables.

PostgreSQL and SQLite differ in a few expressions, kept side by side in `Dialect`.

Steps (the keys of the result's `counts` and `seconds`; `details` splits some counts by kind; `seconds` also
times `changes`, the collection of what changed):
  tier_floors           tiers.services.tier_floors_apply: floors that start today apply, those ended are lifted;
                        the quotas of those whose tier changed follow at once (benefits.services.benefit_grants_sync)
  tier_expiring         tiers.services.tier_expiring_emit: a `tier.expiring` event for each member whose score-won
                        validity ends 30 days from `day` (score so far, spend still needed), once per validity
  branch_change         members whose branch changed and who still have a manager of the old one are reassigned
                        to a manager of the new branch (services.assignments_follow_branch; the customers API
                        does it at once, this catches any other way a branch changed)
  recurring             periodic contact (monthly / quarterly per tier), routine SMS (weekly) and routine call
                        (monthly), per ContactRule: the period containing `day`, due its last day (Sunday for a
                        week); one pass over the members for the three kinds
  birthday_gift         due `lead_days` before the next birthday, opened when the due date is within 14 days
  holiday_greeting      group key persons (members or not), due on four festivals of the lunar calendar, opened
                        14 days ahead
  unreachable_followup  not reached 5 working days after assignment, latest call powered off or forwarded:
                        one follow-up due in 7 days, the next when its due date has come, until reached
  card_pickup_reminder  cards awaiting pickup: weekly in the first month, then monthly, opened 7 days ahead
  overdue               open obligations due before `day` become overdue
  notifications         one digest per manager (overdue, due today) and per supervisor (their managers' overdue),
                        and, with a real mail backend, one email per manager
Only customers with an active assignment get obligations (the manager is required); periodic, routine and
birthday obligations only for customers whose status is active or suspended.

Incremental runs (issue 20): a run continues from the previous finished run (DailyRun: its day, its start, the
highest ids it saw, a digest of the rules and the calendar). Before the steps, `changed_select` collects into a
temporary table the customers whose facts changed since then (customers, tier states, cards by `updated_at`;
assignments, contacts, plan periods, key persons by id; the customers of a manager whose row changed — a history row
that records a change or deletion, not `migrate`'s "initial state" backfill of managers loaded in bulk, which would
make every one of their members look changed) or whose dates came since its day (an assignment starting,
its 5th working day, a validity ending, a plan period starting, a birthday gift entering the window, a follow-up
falling due), and the steps (floors, branch changes, recurring, birthdays, follow-ups, card reminders) look only at
those — each exactly as the pass over the whole club would (managers/tests/test_daily_incremental.py compares
both). A recurring rule whose period began since the previous run (a new week, month or quarter) looks at every
member. A full pass when there is no previous run, when it was for a later day or more than MAX_GAP_DAYS ago, when
the digest differs, or on `run_daily --full`. Not seen by an incremental run: writes that bypass `updated_at` (a
raw `UPDATE` of customers, tier states or cards) and obligations deleted by hand; the next full pass sees them.
"""

import datetime as dt
import hashlib
import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from benefits import services as benefit_services
from core.sql import Params, dialect
from customers.models import Customer, KeyPerson, PlanPeriod
from tiers import selectors as tier_selectors
from tiers import services as tier_services
from tiers.models import CustomerTier, RatingPolicy, Tier, TierChange, TierOverride, TransferFloor, score_validity

from . import rules, selectors, services
from .calendar import WorkCalendar, greeting_festivals
from .models import (
    AccountManager,
    Assignment,
    CardState,
    ContactLog,
    ContactRule,
    DailyRun,
    MembershipCard,
    Notification,
    Obligation,
    ObligationKind,
    ObligationStatus,
)

logger = logging.getLogger(__name__)

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")
MEMBER_STATUSES = ("active", "suspended")  # periodic, routine and birthday obligations
WINDOW_DAYS = 14  # birthday gifts and holiday greetings are opened when due within the next 14 days
BIRTH_YEARS = 150  # PostgreSQL matches dates of birth of the last 150 years
PICKUP_WINDOW_DAYS = 7  # card pickup reminders: 7 days ahead
CONSOLE_BACKENDS = (
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
)

DIGEST = "daily_digest"
SUPERVISOR_DIGEST = "supervisor_digest"

OPEN, OVERDUE = ObligationStatus.OPEN.value, ObligationStatus.OVERDUE.value


# -- SQL ------------------------------------------------------------------------------------------------------------

OBLIGATIONS = Obligation._meta.db_table
NOTIFICATIONS = Notification._meta.db_table
MANAGERS = AccountManager._meta.db_table
ASSIGNMENTS = Assignment._meta.db_table
CONTACTS = ContactLog._meta.db_table
CARDS = MembershipCard._meta.db_table
CUSTOMERS = Customer._meta.db_table
KEY_PERSONS = KeyPerson._meta.db_table
TIERS_NOW = CustomerTier._meta.db_table
PLANS = PlanPeriod._meta.db_table
TIER_CHANGES = TierChange._meta.db_table
TRANSFER_FLOORS = TransferFloor._meta.db_table
OVERRIDES = TierOverride._meta.db_table
RULES = ContactRule._meta.db_table
TIERS = Tier._meta.db_table
POLICIES = RatingPolicy._meta.db_table
MANAGER_HISTORY = AccountManager.history.model._meta.db_table


def _step_settings(d, incremental: bool = False) -> tuple[str, ...]:
    """Statements run at the start of a step's transaction. PostgreSQL: the anti-join hashes a period's
    obligations (~470k rows at 1M customers): in memory, not in 8 batches on disk; no JIT: each step's statements
    run once a day, and compiling them cost more than running them (the floors statement of the tiers engine:
    21 s of JIT for a 7 s statement at 1M customers, EXPLAIN ANALYZE in README "Scaling"); the commit does not wait
    for the WAL to reach the disk (every step is idempotent and the run is recorded last: a crash loses at most the
    last steps, which the next run does again). An incremental run reads a few thousand customers by their keys:
    index probes priced as the cached pages they are (random_page_cost 1.1), else the planner hashes whole tables
    to find them."""
    return (
        (
            "SELECT set_config('work_mem', '32MB', true), set_config('jit', 'off', true),"
            " set_config('synchronous_commit', 'off', true),"
            f" set_config('random_page_cost', '{'1.1' if incremental else '4'}', true)",
        )
        if d.postgres
        else ()
    )


def _execute(sql: str, params: dict) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def _fetch(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _day_end(day: dt.date) -> dt.datetime:
    """The first instant after `day` (local): contacts and key persons after it do not count when replaying."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, BUSINESS_TZ)


STAGE = "daily_new_obligation"


def _open(select: str, p: Params, day: dt.date, by_kind: bool = False) -> int | dict[str, int]:
    """Open obligations: `select` yields (customer_id, manager_id, kind, period, due_on) of the obligations that do
    not exist yet (it leaves existing ones out with NOT EXISTS); they are staged in a temporary table, then
    inserted in key order (the unique index fills in order: markedly faster for a period's 400k rows). Staging
    lets PostgreSQL run the heavy read (members, joins, anti-join) with parallel workers, which an INSERT … SELECT
    never uses; ON CONFLICT DO NOTHING still guards against a concurrent run. (A single `INSERT … SELECT`
    counting per kind in a data-modifying CTE was measured against it at 1M customers: the same time for a
    quarter's 837k rows, 1.6 × slower when nothing is missing, the ordinary day: README "Scaling".)"""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cursor.execute(p.d.temp_create(STAGE) + select, p)
        kinds = [None]
        if by_kind:
            cursor.execute(f"SELECT DISTINCT kind FROM {STAGE}")
            kinds = sorted(row[0] for row in cursor.fetchall())
        opened = {}
        for kind in kinds:
            q = Params()
            cursor.execute(
                f"""INSERT INTO {OBLIGATIONS}
                        (customer_id, manager_id, kind, period, opened_on, due_on, status, note)
                    SELECT customer_id, manager_id, kind, period, {q(day)}, due_on, {q(OPEN)}, {q("")}
                    FROM {STAGE} WHERE {"kind = " + q(kind) if kind else "1 = 1"}
                    ORDER BY customer_id, kind, period
                    ON CONFLICT (customer_id, kind, period) DO NOTHING""",
                q,
            )
            opened[kind] = max(cursor.rowcount, 0)
        cursor.execute(f"DROP TABLE {STAGE}")
    return opened if by_kind else opened[None]


def _missing(p: Params, customer: str, kind: str, period: str, keys: set[tuple[str, str]]) -> str:
    """The obligation (customer, kind, period) (SQL expressions) does not exist yet. `keys` are the (kind,
    period) pairs looked up: repeated as a filter, they let PostgreSQL hash only this period's obligations."""
    kinds, periods = sorted({k for k, _ in keys}), sorted({period for _, period in keys})
    return f"""NOT EXISTS (SELECT 1 FROM {OBLIGATIONS} o
                           WHERE o.customer_id = {customer} AND o.kind = {kind} AND o.period = {period}
                             AND o.kind IN {p.in_list(kinds)} AND o.period IN {p.in_list(periods)})"""


def _members(p: Params, day: dt.date, tier_ids, join: str, only: bool = False) -> str:
    """FROM … WHERE: members of the given tiers with an active assignment (its manager) and a status that gets
    recurring contacts, joined with the lookup rows of their tier (`join`); `only`: of the CHANGED customers."""
    return f"""
        FROM {TIERS_NOW} t
        JOIN {CUSTOMERS} c ON c.id = t.customer_id
        JOIN {ASSIGNMENTS} a ON a.customer_id = t.customer_id AND a.ended_on IS NULL
        {join}
        WHERE t.tier_id IN {p.in_list(sorted(set(tier_ids)))} AND c.status IN {p.in_list(MEMBER_STATUSES)}
          AND a.started_on <= {p(day)}{f" AND t.customer_id IN ({ONLY})" if only else ""}"""


# -- what changed since the previous run ------------------------------------------------------------------------

CHANGED = "daily_changed"  # (customer_id, floors_only): the customers the steps of an incremental run look at
ONLY = f"SELECT customer_id FROM {CHANGED} WHERE floors_only = 0"
ONLY_FLOORS = f"SELECT customer_id FROM {CHANGED}"
MARGIN = dt.timedelta(minutes=10)  # rows updated this long before the previous run started count as changed too
MAX_GAP_DAYS = 31  # a previous run further back than this: a full pass
MARKS = {"assignment": ASSIGNMENTS, "plan_period": PLANS, "key_person": KEY_PERSONS, "contact": CONTACTS}
MARKS_NOW = {"tier_change": TIER_CHANGES, **MARKS}


@dataclass(frozen=True)
class Since:
    """The previous finished run an incremental run continues from: its business date, the instant from which an
    updated row counts as changed (its start less MARGIN: clocks and transactions in flight), the highest ids it
    saw."""

    day: dt.date
    at: dt.datetime
    marks: dict

    def mark(self, name: str) -> int:
        return int(self.marks.get(name) or 0)


def run_facts(calendar: WorkCalendar) -> tuple[str, dict[str, int], list[int]]:
    """In one query: the digest of what every step applies besides the club's rows (the contact rules, the tiers,
    the rating policies, and the working-day calendar: a run whose digest differs from the previous run's makes a
    full pass), the highest id of each table whose new rows the next run reads (MARKS_NOW), and the lead days of
    the active birthday gift rules."""
    names = sorted(MARKS_NOW)
    marks = ", ".join(f"CAST((SELECT MAX(id) FROM {MARKS_NOW[n]}) AS TEXT)" for n in names)
    blanks = ", ''" * (6 - len(names))
    rows = _fetch(
        f"""SELECT 'rule', CAST(id AS TEXT), kind, cadence, CAST(tier_id AS TEXT), CAST(lead_days AS TEXT),
                   CAST(active AS TEXT) FROM {RULES}
            UNION ALL SELECT 'tier', CAST(id AS TEXT), code, CAST(rank AS TEXT), CAST(active AS TEXT), '', ''
            FROM {TIERS}
            UNION ALL SELECT 'policy', CAST(id AS TEXT), code, CAST(active AS TEXT), CAST(updated_at AS TEXT), '', ''
            FROM {POLICIES}
            UNION ALL SELECT 'marks', {marks}{blanks}""",
        {},
    )
    facts = sorted((row for row in rows if row[0] != "marks"), key=repr)
    text = repr((facts, sorted(calendar.overrides.items()), sorted(calendar.loaded_years)))
    values = next(row for row in rows if row[0] == "marks")[1 : 1 + len(names)]
    leads = sorted(
        {
            int(lead)
            for what, _id, kind, _cadence, _tier, lead, active in facts
            if what == "rule" and kind == ObligationKind.BIRTHDAY_GIFT.value and active in ("1", "true")
        }
    )
    marks_now = {name: int(value or 0) for name, value in zip(names, values, strict=True)}
    return hashlib.sha256(text.encode()).hexdigest(), marks_now, leads


def previous_run(*, on: dt.date, digest: str, full: bool) -> Since | None:
    """The previous finished run to continue from, or None for a full pass: none yet, `full` asked, other rules, a
    later day (a replay of the past), or more than MAX_GAP_DAYS ago."""
    previous = (
        DailyRun.objects.filter(finished_at__isnull=False)
        .order_by("-finished_at", "-id")
        .values_list("day", "started_at", "marks", "rules")
        .first()
    )
    if full or previous is None:
        return None
    day, started_at, marks, digest_then = previous
    if digest_then != digest or day > on or (on - day).days > MAX_GAP_DAYS:
        return None
    return Since(day=day, at=started_at - MARGIN, marks=marks or {})


def new_birthdays(*, day: dt.date, since: Since, leads: list[int]) -> set[tuple[int, int]]:
    """(month, day) of the birthdays whose gift entered the 14-day window after `since.day`, up to `day`."""
    first_new = since.day + dt.timedelta(days=WINDOW_DAYS)
    return {
        (month, mday) for lead in leads for month, mday, _period, due in birthday_rows(day, lead) if due > first_new
    }


def changed_select(p: Params, *, day: dt.date, since: Since, calendar: WorkCalendar, leads: list[int]) -> str:
    """(customer_id, floors_only) of the customers an incremental run looks at: whatever of theirs changed since the
    previous run, or a date of theirs came since its day. floors_only = 1: floor inputs only (the floors step looks
    at them; the other steps see their tier changes after it)."""
    last, today, at = p(since.day), p(day), p(since.at)
    born = ""
    pairs = sorted(new_birthdays(day=day, since=since, leads=leads))
    if pairs and p.d.postgres:  # equality with dates of birth: no date function per customer
        dates = [
            dt.date(year, month, mday)
            for month, mday in pairs
            for year in range(day.year - BIRTH_YEARS, day.year + 1)
            if month != 2 or mday != 29 or _leap(year)
        ]
        born = f" OR birthday = ANY({p.array(dates)}::date[])"
    elif pairs:
        born = f" OR strftime('%%m-%%d', birthday) IN {p.in_list([f'{m:02d}-{d:02d}' for m, d in pairs])}"
    cut_last, cut_today = unreachable_cutoff(calendar, since.day), unreachable_cutoff(calendar, day)
    fell_due = [since.day + dt.timedelta(days=n) for n in range(1, (day - since.day).days + 1)]
    unreachable_due = (
        f"""UNION SELECT customer_id, 0 FROM {OBLIGATIONS}
            WHERE kind = {p(ObligationKind.UNREACHABLE_FOLLOWUP.value)}
              AND period IN {p.in_list([d.isoformat() for d in fell_due])}"""
        if fell_due
        else ""
    )
    return f"""
        SELECT id AS customer_id, 0 AS floors_only FROM {CUSTOMERS} WHERE updated_at >= {at}{born}
        UNION SELECT customer_id, CASE WHEN updated_at >= {at} THEN 0 ELSE 1 END FROM {TIERS_NOW}
            WHERE updated_at >= {at} OR source = 'key_person'
               OR ({score_validity()} >= {last} AND {score_validity()} < {today})
        UNION SELECT customer_id, 0 FROM {ASSIGNMENTS} WHERE id > {p(since.mark("assignment"))}
        UNION SELECT customer_id, 0 FROM {ASSIGNMENTS}
            WHERE ended_on IS NULL AND ((started_on > {last} AND started_on <= {today})
                                        OR (started_on > {p(cut_last)} AND started_on <= {p(cut_today)}))
        UNION SELECT customer_id, 0 FROM {ASSIGNMENTS}
            WHERE ended_on IS NULL AND manager_id IN (SELECT id FROM {MANAGER_HISTORY}
                                                      WHERE history_date >= {at} AND history_type <> '+')
        UNION SELECT customer_id, 0 FROM {CONTACTS} WHERE id > {p(since.mark("contact"))}
        UNION SELECT customer_id, 0 FROM {CONTACTS}
            WHERE channel = 'call' AND outcome IN ('powered_off', 'forwarded')
              AND occurred_at >= {p(_day_end(since.day))} AND occurred_at < {p(_day_end(day))}
        {unreachable_due}
        UNION SELECT customer_id, 0 FROM {CARDS} WHERE updated_at >= {at}
        UNION SELECT customer_id, 1 FROM {PLANS}
            WHERE id > {p(since.mark("plan_period"))} OR (started_on > {last} AND started_on <= {today})
        UNION SELECT customer_id, 1 FROM {KEY_PERSONS}
            WHERE id > {p(since.mark("key_person"))} OR set_at >= {p(_day_end(since.day - dt.timedelta(days=2)))}
        UNION SELECT customer_id, 1 FROM {TRANSFER_FLOORS} WHERE kept_until >= {last}
        UNION SELECT customer_id, 1 FROM {OVERRIDES} WHERE ends_on >= {last}"""


def find_changes(*, day: dt.date, since: Since | None, calendar: WorkCalendar, leads: list[int]) -> int:
    """Fill the CHANGED table (kept across the steps' transactions, dropped by the next run; empty on a full pass);
    how many rows (PostgreSQL; 0 on SQLite, which does not count them)."""
    p = Params()
    select = (
        changed_select(p, day=day, since=since, calendar=calendar, leads=leads)
        if since
        else "SELECT 0 AS customer_id, 0 AS floors_only WHERE 1 = 0"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {CHANGED}")
        cursor.execute(f"CREATE TEMP TABLE {CHANGED} AS {select}", p)
        rows = max(cursor.rowcount, 0)
        if p.d.postgres:
            cursor.execute(f"ANALYZE {CHANGED}")
    return rows


def add_changes(*, marks: dict[str, int]) -> None:
    """The customers whose tier or manager this run's earlier steps changed (floors, branch changes) count as changed
    for the steps after them."""
    p = Params()
    _execute(
        f"""INSERT INTO {CHANGED} (customer_id, floors_only)
            SELECT customer_id, 0 FROM {TIER_CHANGES} WHERE id > {p(marks["tier_change"])}
            UNION SELECT customer_id, 0 FROM {ASSIGNMENTS} WHERE id > {p(marks["assignment"])}""",
        p,
    )


# -- the steps ---------------------------------------------------------------------------------------------------


def _rules(kinds) -> list[tuple[str, str, int, int]]:
    return list(
        ContactRule.objects.filter(active=True, kind__in=kinds).values_list("kind", "cadence", "tier_id", "lead_days")
    )


RECURRING = (ObligationKind.PERIODIC_CONTACT, ObligationKind.ROUTINE_SMS, ObligationKind.ROUTINE_CALL)


def open_recurring(*, day: dt.date, since: Since | None = None) -> dict[str, int]:
    """Periodic contact, routine SMS and routine call: the period containing `day` (its key and last day from the
    rule's cadence) for every member whose tier has the rule. One pass over the members for all three kinds;
    returns the obligations opened per kind.

    Incremental (`since`): a rule whose period is the same as on the previous run's day looks only at the CHANGED
    customers (the others have it already); a rule whose period began since (a new week, month or quarter) at every
    member."""
    rows = _rules(RECURRING)
    opened = {kind.value: 0 for kind in RECURRING}
    if not rows:
        return opened
    p = Params()
    whole, changed = [], []
    for kind, cadence, tier_id, _lead in rows:
        period, _start, due = rules.period_of(cadence, day)
        new_period = since is None or rules.period_of(cadence, since.day)[0] != period
        (whole if new_period else changed).append((tier_id, kind, period, due))
    selects = []
    for part, only in ((whole, False), (changed, True)):
        if not part:
            continue
        values = [f"({p(tier_id)}, {p(kind)}, {p(period)}, {p(due)})" for tier_id, kind, period, due in part]
        r = p.d.values("r", ["tier_id", "kind", "period", "due_on"], values)
        keys = {(kind, period) for _tier, kind, period, _due in part}
        selects.append(
            f"""SELECT t.customer_id, a.manager_id, r.kind, r.period, r.due_on
        {_members(p, day, [row[0] for row in part], f"JOIN {r} ON r.tier_id = t.tier_id", only=only)}
          AND {_missing(p, "t.customer_id", "r.kind", "r.period", keys)}"""
        )
    opened.update(_open(" UNION ALL ".join(selects), p, day, by_kind=True))
    return opened


def birthday_rows(day: dt.date, lead_days: int) -> list[tuple[int, int, str, dt.date]]:
    """(birthday's month, day, period = the birthday's year, due date) for every birthday whose gift is due in
    [day, day + 14]. 29 February birthdays are celebrated on 28 February in other years."""
    out = []
    for offset in range(WINDOW_DAYS + 1):
        due = day + dt.timedelta(days=offset)
        birthday = due + dt.timedelta(days=lead_days)
        out.append((birthday.month, birthday.day, str(birthday.year), due))
        if birthday.month == 2 and birthday.day == 28 and not _leap(birthday.year):
            out.append((2, 29, str(birthday.year), due))
    return out


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def birth_dates(day: dt.date, lead_days: int) -> list[tuple[dt.date, str, dt.date]]:
    """(date of birth, period, due date) for every date of birth of the last 150 years whose gift is due in
    [day, day + 14] (PostgreSQL matches Customer.birthday to them by equality: a hash join, no date function per
    customer)."""
    out = []
    for month, mday, period, due in birthday_rows(day, lead_days):
        for year in range(day.year - BIRTH_YEARS, day.year + 1):
            try:
                out.append((dt.date(year, month, mday), period, due))
            except ValueError:  # 29 February of a common year
                pass
    return out


def open_birthday_gifts(*, day: dt.date, since: Since | None = None) -> int:
    """Birthday gifts due `lead_days` before the next birthday, opened when the due date is within 14 days. A pass
    over the whole club on PostgreSQL matches the customers by date of birth (an array lookup table of ~2,250 dates
    per lead time: a hash join, cheap per customer); otherwise by month and day — on SQLite (where a large lookup
    table is slow to plan), and in an incremental run (`since`), which looks only at the CHANGED customers (among
    them those whose gift entered the window since the previous run: changed_select): two date functions for a few
    thousand customers cost less than building, sending and unnesting the arrays (a sixth of a small club's run)."""
    rules_ = _rules((ObligationKind.BIRTHDAY_GIFT,))
    if not rules_:
        return 0
    p = Params()
    kind = p(ObligationKind.BIRTHDAY_GIFT.value)
    tiers = [tier_id for *_, tier_id, _lead in rules_]
    if p.d.postgres and since is None:  # ~2,250 dates per lead time: cheaper than two date functions per member
        lookup = [(lead, *row) for lead in sorted({lead for *_, lead in rules_}) for row in birth_dates(day, lead)]
        columns = list(zip(*lookup, strict=True))
        join = (
            f"JOIN unnest({p.array(tiers)}::bigint[], {p.array([lead for *_, lead in rules_])}::int[])"
            f" AS tl (tier_id, lead_days) ON tl.tier_id = t.tier_id"
            f" JOIN unnest({p.array(columns[0])}::int[], {p.array(columns[1])}::date[],"
            f" {p.array(columns[2])}::text[], {p.array(columns[3])}::date[]) AS b (lead_days, born, period, due_on)"
            f" ON b.lead_days = tl.lead_days AND b.born = c.birthday"
        )
        periods = set(columns[2])
    else:
        lookup = [(tier_id, *row) for _k, _c, tier_id, lead in rules_ for row in birthday_rows(day, lead)]
        b = p.d.values(
            "b",
            ["tier_id", "month", "mday", "period", "due_on"],
            [f"({p(tier)}, {p(month)}, {p(mday)}, {p(period)}, {p(due)})" for tier, month, mday, period, due in lookup],
        )
        join = (
            f"JOIN {b} ON b.tier_id = t.tier_id AND b.month = {p.d.month('c.birthday')}"
            f" AND b.mday = {p.d.day('c.birthday')}"
        )
        periods = {row[3] for row in lookup}
    keys = {(ObligationKind.BIRTHDAY_GIFT.value, period) for period in periods}
    select = f"""SELECT t.customer_id, a.manager_id, {kind} AS kind, b.period, b.due_on
        {_members(p, day, tiers, join, only=since is not None)}
          AND {_missing(p, "t.customer_id", kind, "b.period", keys)}"""
    return _open(select, p, day)


def holiday_rows(day: dt.date) -> list[tuple[str, dt.date]]:
    """(period key, date) of the greeting festivals (from the lunar calendar, for any year) in [day, day + 14];
    period keys (max 20 characters): "2027-new_year", "2027-spring_festival", "2027-mid_autumn"."""
    last = day + dt.timedelta(days=WINDOW_DAYS)
    out = []
    for year in sorted({day.year, last.year}):
        for key, date in greeting_festivals(year).items():
            if day <= date <= last:
                out.append((f"{year}-{key}", date))
    return out


def _unassigned_key_persons(p: Params, day: dt.date) -> str:
    """WHERE conditions on `k` (a key-person row): set by the end of `day`, the customer not closed and without an
    active assignment (not a member, or not assigned yet)."""
    return f"""k.set_at < {p(_day_end(day))}
          AND EXISTS (SELECT 1 FROM {CUSTOMERS} c WHERE c.id = k.customer_id AND c.status <> {p("closed")})
          AND NOT EXISTS (SELECT 1 FROM {ASSIGNMENTS} a
                          WHERE a.customer_id = k.customer_id AND a.ended_on IS NULL AND a.started_on <= {p(day)})"""


def open_holiday_greetings(*, day: dt.date) -> int:
    """Greetings for every group key person, due on each festival, opened 14 days ahead: a key person with an
    active assignment is greeted by her manager; one without (not a member) by her group's account manager
    (selectors.group_account_managers; a key person of several groups: the lowest group id's)."""
    rows = holiday_rows(day)
    if not rows:
        return 0
    p = Params()
    kind = p(ObligationKind.HOLIDAY_GREETING.value)
    h = p.d.values("h", ["kind", "period", "due_on"], [f"({kind}, {p(period)}, {p(due)})" for period, due in rows])
    keys = {(ObligationKind.HOLIDAY_GREETING.value, r[0]) for r in rows}
    select = f"""SELECT a.customer_id, a.manager_id, h.kind, h.period, h.due_on
        FROM {ASSIGNMENTS} a CROSS JOIN {h}
        WHERE a.ended_on IS NULL AND a.started_on <= {p(day)}
          AND EXISTS (SELECT 1 FROM {KEY_PERSONS} k
                      WHERE k.customer_id = a.customer_id AND k.set_at < {p(_day_end(day))})
          AND {_missing(p, "a.customer_id", "h.kind", "h.period", keys)}"""
    q = Params()
    groups = [
        row[0]
        for row in _fetch(f"SELECT DISTINCT k.group_id FROM {KEY_PERSONS} k WHERE {_unassigned_key_persons(q, day)}", q)
    ]
    managers = selectors.group_account_managers(group_ids=groups, on=day)
    if managers:
        g = p.d.values(
            "g", ["group_id", "manager_id"], [f"({p(gid)}, {p(mid)})" for gid, mid in sorted(managers.items())]
        )
        select += f"""
        UNION
        SELECT k.customer_id, g.manager_id, h.kind, h.period, h.due_on
        FROM {KEY_PERSONS} k JOIN {g} ON g.group_id = k.group_id CROSS JOIN {h}
        WHERE {_unassigned_key_persons(p, day)}
          AND k.group_id = (SELECT MIN(k2.group_id) FROM {KEY_PERSONS} k2
                            WHERE k2.customer_id = k.customer_id AND k2.set_at < {p(_day_end(day))})
          AND {_missing(p, "k.customer_id", "h.kind", "h.period", keys)}"""
    return _open(select, p, day)


def unreachable_cutoff(calendar: WorkCalendar, day: dt.date) -> dt.date:
    """The latest assignment start whose 5th working day after it is on or before `day`."""
    n, current = 0, day
    while True:
        if calendar.is_working(current):
            n += 1
            if n == rules.UNREACHABLE_AFTER_WORKING_DAYS:
                return current - dt.timedelta(days=1)
        current -= dt.timedelta(days=1)


def open_unreachable_followups(*, day: dt.date, calendar: WorkCalendar, since: Since | None = None) -> int:
    """Members not reached by a call or visit since their assignment started (at least 5 working days ago) whose
    latest call since then was powered off or forwarded: a follow-up due in 7 days, unless one is still pending
    (open and due after `day`); on the day the pending one falls due, the next one opens, so they repeat every
    7 days until a call or visit reaches the member.

    Evaluation order matters at scale, so it is fixed with materialized CTEs (PostgreSQL ≥ 12, SQLite ≥ 3.35):
    first the unreachable calls of members without a pending follow-up (one scan of the calls, one hash
    anti-join), then only for those the assignment and the two per-member checks (index probes). Incremental
    (`since`): only the CHANGED customers (new contacts and unreachable calls, assignments whose 5th working day
    came, follow-ups that fell due since the previous run: changed_select)."""
    p = Params()
    kind = p(ObligationKind.UNREACHABLE_FOLLOWUP.value)
    due = day + dt.timedelta(days=rules.UNREACHABLE_REPEAT_DAYS)
    end = p(_day_end(day))
    assigned = p.local_midnight("a.started_on", day, BUSINESS_TZ)
    # incremental: the unreachable calls, and the pending follow-ups, of the CHANGED customers only
    only, only_l = (f" AND customer_id IN ({ONLY})", f" AND l.customer_id IN ({ONLY})") if since else ("", "")
    select = f"""WITH pending AS MATERIALIZED (
            SELECT customer_id FROM {OBLIGATIONS}
            WHERE status = {p(OPEN)} AND due_on > {p(day)} AND due_on <= {p(due)} AND kind = {kind}{only}
        ), unreachable AS MATERIALIZED (
            SELECT l.id, l.customer_id, l.occurred_at FROM {CONTACTS} l
            WHERE l.channel = 'call' AND l.outcome IN ('powered_off', 'forwarded') AND l.occurred_at < {end}
              AND NOT EXISTS (SELECT 1 FROM pending WHERE pending.customer_id = l.customer_id){only_l}
        )
        SELECT a.customer_id, a.manager_id, {kind} AS kind, {p(due.isoformat())} AS period, {p(due)} AS due_on
        FROM unreachable u
        JOIN {ASSIGNMENTS} a ON a.customer_id = u.customer_id AND a.ended_on IS NULL
        WHERE a.started_on <= {p(unreachable_cutoff(calendar, day))} AND u.occurred_at >= {assigned}
          AND NOT EXISTS (
              SELECT 1 FROM {CONTACTS} l2
              WHERE l2.customer_id = u.customer_id AND l2.channel = 'call'
                AND l2.occurred_at >= u.occurred_at AND l2.occurred_at < {end}
                AND (l2.occurred_at > u.occurred_at OR l2.id > u.id))
          AND NOT EXISTS (
              SELECT 1 FROM {CONTACTS} r
              WHERE r.customer_id = a.customer_id AND r.channel IN ('call', 'visit') AND r.outcome = 'reached'
                AND r.occurred_at >= {assigned} AND r.occurred_at < {end})"""
    return _open(select, p, day)


def pickup_rows(arrived: list[dt.date], day: dt.date) -> list[tuple[dt.date, int, dt.date]]:
    """(arrived on, n, due) of the pickup reminders due in [day, day + 7] for cards that arrived on these dates."""
    last = day + dt.timedelta(days=PICKUP_WINDOW_DAYS)
    out = []
    for arrived_on in arrived:
        n = 1
        while (due := rules.pickup_reminder_due(arrived_on, n)) <= last:
            if due >= day:
                out.append((arrived_on, n, due))
            n += 1
    return out


def open_pickup_reminders(*, day: dt.date, since: Since | None = None) -> int:
    """Card pickup reminders due in [day, day + 7] (pickup_rows). Incremental (`since`): the reminders that entered
    the window since the previous run for every card, the others only for the CHANGED customers."""
    arrived = list(
        MembershipCard.objects.filter(state=CardState.AWAITING_PICKUP, arrived_on__isnull=False, arrived_on__lte=day)
        .values_list("arrived_on", flat=True)
        .distinct()
        .order_by()
    )
    rows = pickup_rows(arrived, day)
    if not rows:
        return 0
    p = Params()
    v = p.d.values("v", ["arrived_on", "n", "due_on"], [f"({p(a)}, {p(n)}, {p(due)})" for a, n, due in rows])
    kind = p(ObligationKind.CARD_PICKUP_REMINDER.value)
    select = f"""WITH due AS MATERIALIZED (
            SELECT m.customer_id, 'card' || CAST(m.id AS TEXT) || '-' || CAST(v.n AS TEXT) AS period, v.due_on
            FROM {CARDS} m JOIN {v} ON v.arrived_on = m.arrived_on
            WHERE m.state = {p(CardState.AWAITING_PICKUP.value)}{
        f" AND (v.due_on > {p(since.day + dt.timedelta(days=PICKUP_WINDOW_DAYS))} OR m.customer_id IN ({ONLY}))"
        if since
        else ""
    }
        ), missing AS MATERIALIZED (
            SELECT d.customer_id, d.period, d.due_on,
                   (SELECT a.manager_id FROM {ASSIGNMENTS} a
                    WHERE a.customer_id = d.customer_id AND a.ended_on IS NULL AND a.started_on <= {p(day)}
                   ) AS manager_id
            FROM due d
            WHERE NOT EXISTS (SELECT 1 FROM {OBLIGATIONS} o
                              WHERE o.customer_id = d.customer_id AND o.kind = {kind} AND o.period = d.period)
        )
        SELECT customer_id, manager_id, {kind} AS kind, period, due_on FROM missing WHERE manager_id IS NOT NULL"""
    return _open(select, p, day)


def mark_overdue(*, day: dt.date) -> int:
    p = Params()
    return _execute(
        f"""UPDATE {OBLIGATIONS} SET status = {p(OVERDUE)}, overdue_since = {p(day)}
            WHERE status = {p(OPEN)} AND due_on < {p(day)}""",
        p,
    )


def _text(p: Params, template: str, **columns: str) -> str:
    """A translated template with %(name)s placeholders as an SQL string expression of the given columns."""
    parts = re.split(r"%\((\w+)\)s", template)
    sql = []
    for i, part in enumerate(parts):
        if i % 2:
            sql.append(f"CAST({columns[part]} AS TEXT)")
        elif part:
            sql.append(p(part))
    return " || ".join(sql) or p("")


def notify(*, day: dt.date, now: dt.datetime) -> dict[str, int]:
    """One digest per manager with something overdue or due today; one per supervisor whose managers have
    something overdue. Returns the counts of notifications written."""
    p = Params()
    with translation.override(settings.LANGUAGE_CODE):
        manager_text = _text(
            p,
            _("%(overdue)s overdue and %(due_today)s due today among your obligations on %(day)s.").replace(
                "%(day)s", day.isoformat()
            ),
            overdue="s.overdue",
            due_today="s.due_today",
        )
        supervisor_text = _text(
            p,
            _("%(overdue)s overdue obligations at %(managers)s of your managers on %(day)s: %(list)s").replace(
                "%(day)s", day.isoformat()
            ),
            overdue="SUM(s.overdue)",
            managers="COUNT(*)",
            list=p.d.string_agg(
                "m.name || ' (' || m.employee_no || ') ' || CAST(s.overdue AS TEXT)",
                p(", "),
                "s.overdue DESC, m.employee_no",
            ),
        )
    day_, now_, open_, overdue_ = p(day), p(now), p(OPEN), p(OVERDUE)
    counts = f"""(
        SELECT manager_id,
               SUM(CASE WHEN status = {overdue_} THEN 1 ELSE 0 END) AS overdue,
               SUM(CASE WHEN status = {open_} THEN 1 ELSE 0 END) AS due_today
        FROM {OBLIGATIONS}
        WHERE status = {overdue_} OR (status = {open_} AND due_on = {day_})
        GROUP BY manager_id) s"""
    managers = _execute(
        f"""INSERT INTO {NOTIFICATIONS} (user_id, kind, text, link, day, created_at)
            SELECT m.user_id, {p(DIGEST)}, {manager_text}, {p("")}, {day_}, {now_}
            FROM {MANAGERS} m JOIN {counts} ON s.manager_id = m.id
            WHERE s.overdue > 0 OR s.due_today > 0
            ON CONFLICT (user_id, kind, day) DO NOTHING""",
        p,
    )
    supervisors = _execute(
        f"""INSERT INTO {NOTIFICATIONS} (user_id, kind, text, link, day, created_at)
            SELECT m.supervisor_id, {p(SUPERVISOR_DIGEST)}, {supervisor_text}, {p("")}, {day_}, {now_}
            FROM {MANAGERS} m JOIN {counts} ON s.manager_id = m.id
            WHERE m.supervisor_id IS NOT NULL AND s.overdue > 0
            GROUP BY m.supervisor_id
            ON CONFLICT (user_id, kind, day) DO NOTHING""",
        p,
    )
    return {"managers": managers, "supervisors": supervisors}


def email_digests(*, day: dt.date, now: dt.datetime) -> int:
    """One email per manager whose digest this run wrote (none on a re-run), in one send_mass_mail call;
    only with a real mail backend (not console or locmem)."""
    if settings.EMAIL_BACKEND in CONSOLE_BACKENDS:
        return 0
    rows = list(
        Notification.objects.filter(kind=DIGEST, day=day, created_at=now)
        .exclude(user__email="")
        .values_list("user__email", "text")
    )
    if not rows:
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("VIP club: your obligations on %(day)s") % {"day": day.isoformat()}
    return send_mass_mail([(subject, text, settings.DEFAULT_FROM_EMAIL, [email]) for email, text in rows])


# -- the run -----------------------------------------------------------------------------------------------------


STEPS = (
    "tier_floors",
    "tier_expiring",
    "branch_change",
    "recurring",
    "birthday_gift",
    "holiday_greeting",
    "unreachable_followup",
    "card_pickup_reminder",
    "overdue",
    "notifications",
)


def apply_tier_floors(*, on: dt.date, since: Since | None = None) -> dict[str, int]:
    """DOMAIN §3 floors between runs (tiers.services.tier_floors_apply), then the quotas of everyone whose tier
    changed follow at once (DOMAIN §5), in the same transaction: the engine writes tiers in bulk and sends no
    per-customer `tier_changed` signal. Incremental (`since`): only the CHANGED customers (those whose floor inputs
    changed or whose dates came since the previous run: changed_select)."""
    counts = tier_services.tier_floors_apply(on=on, only=ONLY_FLOORS if since else None)
    if counts:
        changed = tier_selectors.customers_changed_between_runs(on=on)
        benefit_services.benefit_grants_sync(on=on, customer_ids=changed, actor="daily job")
    return counts


def daily_run(
    *,
    on: dt.date,
    at: dt.datetime,
    on_step: Callable[[str, int, float], None] | None = None,
    full: bool = False,
) -> dict:
    """Run the daily job for the business date `on` (idempotent). Returns {"day", "counts", "details", "seconds",
    "missing_calendar_years", "incremental"}.

    `at`: the run's time (the entry point's clock), stamped on the digests it writes.
    `on_step(name, count, seconds)` is called after each step (the command prints progress with it).

    The run continues from the previous finished run (previous_run): the steps look only at the customers whose
    facts changed or whose dates came since then (changed_select), each exactly as a pass over the whole club
    would; a recurring rule whose period began since (a new week, month or quarter) still looks at every member.
    A full pass over the whole club when there is no previous run, when it was for a later day or more than
    MAX_GAP_DAYS ago, when the rules or the calendar changed since, or when `full` is asked. The run is recorded
    (DailyRun) when it finishes."""
    started = time.perf_counter()
    started_at = timezone.now()
    calendar = WorkCalendar.from_db()
    counts: dict[str, int] = {}
    seconds: dict[str, float] = {}
    details: dict[str, dict] = defaultdict(dict)
    digest, marks, leads = run_facts(calendar)
    since = previous_run(on=on, digest=digest, full=full)

    def step(name: str, fn: Callable[[], int | dict]) -> None:
        t0 = time.perf_counter()
        with transaction.atomic():
            with connection.cursor() as cursor:
                for statement in _step_settings(dialect(), incremental=since is not None):
                    cursor.execute(statement)
            result = fn()
        if isinstance(result, dict):
            details[name] = result
            result = sum(result.values())
        counts[name] = result
        seconds[name] = round(time.perf_counter() - t0, 3)
        if on_step:
            on_step(name, result, seconds[name])

    t0 = time.perf_counter()
    with transaction.atomic():
        with connection.cursor() as cursor:
            for statement in _step_settings(dialect(), incremental=since is not None):
                cursor.execute(statement)
        changed = find_changes(day=on, since=since, calendar=calendar, leads=leads)
    seconds["changes"] = round(time.perf_counter() - t0, 3)
    if on_step:
        on_step("changes", changed, seconds["changes"])

    step("tier_floors", lambda: apply_tier_floors(on=on, since=since))
    step("tier_expiring", lambda: tier_services.tier_expiring_emit(on=on, at=at))
    step(
        "branch_change",
        lambda: services.assignments_follow_branch(on=on, customer_ids=RawSQL(ONLY, ()) if since else None),
    )
    add_changes(marks=marks)
    step("recurring", lambda: open_recurring(day=on, since=since))
    step("birthday_gift", lambda: open_birthday_gifts(day=on, since=since))
    step("holiday_greeting", lambda: open_holiday_greetings(day=on))
    step("unreachable_followup", lambda: open_unreachable_followups(day=on, calendar=calendar, since=since))
    step("card_pickup_reminder", lambda: open_pickup_reminders(day=on, since=since))
    step("overdue", lambda: mark_overdue(day=on))
    step("notifications", lambda: notify(day=on, now=at))

    t0 = time.perf_counter()
    try:
        counts["emails"] = email_digests(day=on, now=at)
    except Exception:  # the notifications are written; a mail server down must not fail the job
        logger.exception("Daily digest emails for %s could not be sent", on)
        counts["emails"] = 0
    seconds["emails"] = round(time.perf_counter() - t0, 3)
    if on_step:
        on_step("emails", counts["emails"], seconds["emails"])

    missing = calendar.missing_years(on)
    if missing:
        logger.warning(
            "Working-day calendar missing for %s: load the holidays and make-up days of %s (overrides and a "
            "loaded calendar year); until then Monday–Friday is assumed.",
            ", ".join(map(str, missing)),
            ", ".join(map(str, missing)),
        )
    seconds["total"] = round(time.perf_counter() - started, 3)
    incremental = {"since": since.day.isoformat(), "changed": changed} if since else None
    DailyRun.objects.create(
        day=on,
        full=since is None,
        started_at=started_at,
        finished_at=timezone.now(),
        marks=marks,
        rules=digest,
        counts={"counts": counts, "seconds": seconds},
    )
    return {
        "day": on.isoformat(),
        "counts": counts,
        "details": dict(details),
        "seconds": seconds,
        "missing_calendar_years": missing,
        "incremental": incremental,
    }
