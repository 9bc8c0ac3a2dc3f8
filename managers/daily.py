"""The daily job of DOMAIN §4: open what is due, mark what is late as overdue, tell managers and supervisors.

`daily_run(on=…)` runs the steps below in order, each in its own transaction and each a handful of set-based
statements over the whole club (no query per customer). A step that opens obligations selects the ones missing
(NOT EXISTS on the obligation's unique (customer, kind, period)) into a temporary table, then inserts them with
ON CONFLICT DO NOTHING: a step run twice for a day opens nothing the second time, and every business date is the
`on` parameter (`day` in the steps), so past days can be replayed. Python computes only small per-date lookups (periods and due
dates of the rules, the birthdays whose gift is due in the window, holidays, card reminder dates per arrival
date) that the SQL joins as VALUES tables.

PostgreSQL and SQLite differ in a few expressions, kept side by side in `Dialect`.

Steps (the keys of the result's `counts` and `seconds`; `details` splits some counts by kind):
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
"""

import datetime as dt
import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import connection, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from benefits import services as benefit_services
from core.sql import Params, dialect
from customers.models import Customer, KeyPerson
from tiers import selectors as tier_selectors
from tiers import services as tier_services
from tiers.models import CustomerTier

from . import rules, selectors, services
from .calendar import WorkCalendar, greeting_festivals
from .models import (
    AccountManager,
    Assignment,
    CardState,
    ContactLog,
    ContactRule,
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


def _step_settings(d) -> tuple[str, ...]:
    """Statements run at the start of a step's transaction. PostgreSQL: the anti-join hashes a period's
    obligations (~470k rows at 1M customers): in memory, not in 8 batches on disk; no JIT: each step's statements
    run once a day, and compiling them cost more than running them (the floors statement of the tiers engine:
    21 s of JIT for a 7 s statement at 1M customers, EXPLAIN ANALYZE in README "Scaling")."""
    return ("SELECT set_config('work_mem', '32MB', true), set_config('jit', 'off', true)",) if d.postgres else ()


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


def _members(p: Params, day: dt.date, tier_ids, join: str) -> str:
    """FROM … WHERE: members of the given tiers with an active assignment (its manager) and a status that gets
    recurring contacts, joined with the lookup rows of their tier (`join`)."""
    return f"""
        FROM {TIERS_NOW} t
        JOIN {CUSTOMERS} c ON c.id = t.customer_id
        JOIN {ASSIGNMENTS} a ON a.customer_id = t.customer_id AND a.ended_on IS NULL
        {join}
        WHERE t.tier_id IN {p.in_list(sorted(set(tier_ids)))} AND c.status IN {p.in_list(MEMBER_STATUSES)}
          AND a.started_on <= {p(day)}"""


# -- the steps ---------------------------------------------------------------------------------------------------


def _rules(kinds) -> list[tuple[str, str, int, int]]:
    return list(
        ContactRule.objects.filter(active=True, kind__in=kinds).values_list("kind", "cadence", "tier_id", "lead_days")
    )


RECURRING = (ObligationKind.PERIODIC_CONTACT, ObligationKind.ROUTINE_SMS, ObligationKind.ROUTINE_CALL)


def open_recurring(*, day: dt.date) -> dict[str, int]:
    """Periodic contact, routine SMS and routine call: the period containing `day` (its key and last day from the
    rule's cadence) for every member whose tier has the rule. One pass over the members for all three kinds;
    returns the obligations opened per kind."""
    rows = _rules(RECURRING)
    opened = {kind.value: 0 for kind in RECURRING}
    if not rows:
        return opened
    p = Params()
    values, keys = [], set()
    for kind, cadence, tier_id, _lead in rows:
        period, _start, due = rules.period_of(cadence, day)
        values.append(f"({p(tier_id)}, {p(kind)}, {p(period)}, {p(due)})")
        keys.add((kind, period))
    r = p.d.values("r", ["tier_id", "kind", "period", "due_on"], values)
    select = f"""SELECT t.customer_id, a.manager_id, r.kind, r.period, r.due_on
        {_members(p, day, [row[2] for row in rows], f"JOIN {r} ON r.tier_id = t.tier_id")}
          AND {_missing(p, "t.customer_id", "r.kind", "r.period", keys)}"""
    opened.update(_open(select, p, day, by_kind=True))
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


def open_birthday_gifts(*, day: dt.date) -> int:
    """Birthday gifts due `lead_days` before the next birthday, opened when the due date is within 14 days. The
    customers are matched by date of birth on PostgreSQL (an array lookup table, cheap per customer); by month
    and day on SQLite (where a large lookup table is slow to plan)."""
    rules_ = _rules((ObligationKind.BIRTHDAY_GIFT,))
    if not rules_:
        return 0
    p = Params()
    kind = p(ObligationKind.BIRTHDAY_GIFT.value)
    tiers = [tier_id for *_, tier_id, _lead in rules_]
    if p.d.postgres:  # an array of ~2,250 dates per lead time: cheaper than two date functions per customer
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
        {_members(p, day, tiers, join)}
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


def open_unreachable_followups(*, day: dt.date, calendar: WorkCalendar) -> int:
    """Members not reached by a call or visit since their assignment started (at least 5 working days ago) whose
    latest call since then was powered off or forwarded: a follow-up due in 7 days, unless one is still pending
    (open and due after `day`); on the day the pending one falls due, the next one opens, so they repeat every
    7 days until a call or visit reaches the member.

    Evaluation order matters at scale, so it is fixed with materialized CTEs (PostgreSQL ≥ 12, SQLite ≥ 3.35):
    first the unreachable calls of members without a pending follow-up (one scan of the calls, one hash
    anti-join), then only for those the assignment and the two per-member checks (index probes)."""
    p = Params()
    kind = p(ObligationKind.UNREACHABLE_FOLLOWUP.value)
    due = day + dt.timedelta(days=rules.UNREACHABLE_REPEAT_DAYS)
    end = p(_day_end(day))
    since = p.local_midnight("a.started_on", day, BUSINESS_TZ)
    select = f"""WITH pending AS MATERIALIZED (
            SELECT customer_id FROM {OBLIGATIONS}
            WHERE status = {p(OPEN)} AND due_on > {p(day)} AND due_on <= {p(due)} AND kind = {kind}
        ), unreachable AS MATERIALIZED (
            SELECT l.id, l.customer_id, l.occurred_at FROM {CONTACTS} l
            WHERE l.channel = 'call' AND l.outcome IN ('powered_off', 'forwarded') AND l.occurred_at < {end}
              AND NOT EXISTS (SELECT 1 FROM pending WHERE pending.customer_id = l.customer_id)
        )
        SELECT a.customer_id, a.manager_id, {kind} AS kind, {p(due.isoformat())} AS period, {p(due)} AS due_on
        FROM unreachable u
        JOIN {ASSIGNMENTS} a ON a.customer_id = u.customer_id AND a.ended_on IS NULL
        WHERE a.started_on <= {p(unreachable_cutoff(calendar, day))} AND u.occurred_at >= {since}
          AND NOT EXISTS (
              SELECT 1 FROM {CONTACTS} l2
              WHERE l2.customer_id = u.customer_id AND l2.channel = 'call'
                AND l2.occurred_at >= u.occurred_at AND l2.occurred_at < {end}
                AND (l2.occurred_at > u.occurred_at OR l2.id > u.id))
          AND NOT EXISTS (
              SELECT 1 FROM {CONTACTS} r
              WHERE r.customer_id = a.customer_id AND r.channel IN ('call', 'visit') AND r.outcome = 'reached'
                AND r.occurred_at >= {since} AND r.occurred_at < {end})"""
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


def open_pickup_reminders(*, day: dt.date) -> int:
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
            WHERE m.state = {p(CardState.AWAITING_PICKUP.value)}
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


def apply_tier_floors(*, on: dt.date) -> dict[str, int]:
    """DOMAIN §3 floors between runs (tiers.services.tier_floors_apply), then the quotas of everyone whose tier
    changed follow at once (DOMAIN §5), in the same transaction: the engine writes tiers in bulk and sends no
    per-customer `tier_changed` signal."""
    counts = tier_services.tier_floors_apply(on=on)
    if counts:
        changed = tier_selectors.customers_changed_between_runs(on=on)
        benefit_services.benefit_grants_sync(on=on, customer_ids=changed, actor="daily job")
    return counts


def daily_run(*, on: dt.date, at: dt.datetime, on_step: Callable[[str, int, float], None] | None = None) -> dict:
    """Run the daily job for the business date `on` (idempotent). Returns {"day", "counts", "seconds", "missing_calendar_years"}.

    `at`: the run's time (the entry point's clock), stamped on the digests it writes.
    `on_step(name, count, seconds)` is called after each step (the command prints progress with it)."""
    started = time.perf_counter()
    calendar = WorkCalendar.from_db()
    counts: dict[str, int] = {}
    seconds: dict[str, float] = {}
    details: dict[str, dict] = defaultdict(dict)

    def step(name: str, fn: Callable[[], int | dict]) -> None:
        t0 = time.perf_counter()
        with transaction.atomic():
            with connection.cursor() as cursor:
                for statement in _step_settings(dialect()):
                    cursor.execute(statement)
            result = fn()
        if isinstance(result, dict):
            details[name] = result
            result = sum(result.values())
        counts[name] = result
        seconds[name] = round(time.perf_counter() - t0, 3)
        if on_step:
            on_step(name, result, seconds[name])

    step("tier_floors", lambda: apply_tier_floors(on=on))
    step("tier_expiring", lambda: tier_services.tier_expiring_emit(on=on, at=at))
    step("branch_change", lambda: services.assignments_follow_branch(on=on))
    step("recurring", lambda: open_recurring(day=on))
    step("birthday_gift", lambda: open_birthday_gifts(day=on))
    step("holiday_greeting", lambda: open_holiday_greetings(day=on))
    step("unreachable_followup", lambda: open_unreachable_followups(day=on, calendar=calendar))
    step("card_pickup_reminder", lambda: open_pickup_reminders(day=on))
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
    return {
        "day": on.isoformat(),
        "counts": counts,
        "details": dict(details),
        "seconds": seconds,
        "missing_calendar_years": missing,
    }
