"""Pure rules of DOMAIN.md §4: periods and their due dates, which contact closes which obligation,
card follow-ups, compliance. No ORM."""

import datetime as dt
from dataclasses import dataclass

from core import dates

FIRST_CONTACT_WORKING_DAYS = 3
FIRST_CALL_WORKING_DAYS = 3
UNREACHABLE_AFTER_WORKING_DAYS = 5
UNREACHABLE_REPEAT_DAYS = 7
RETENTION_WORKING_DAYS = 1
CARD_PICKUP_NOTICE_DAYS = 3
CARD_RECEIPT_CHECK_DAYS = 7


def quarter_end(day: dt.date) -> dt.date:
    last_month = (day.month - 1) // 3 * 3 + 3
    return dates.month_end(dt.date(day.year, last_month, 1))


def week_end(day: dt.date) -> dt.date:
    """Sunday of the ISO week."""
    return day + dt.timedelta(days=6 - day.weekday())


def period_of(cadence: str, day: dt.date) -> tuple[str, dt.date, dt.date]:
    """(period key, first day, due date = last day) of the period containing `day`."""
    if cadence == "week":
        iso = day.isocalendar()
        start = day - dt.timedelta(days=day.weekday())
        return f"{iso.year}-W{iso.week:02d}", start, week_end(day)
    if cadence == "month":
        return f"{day:%Y-%m}", day.replace(day=1), dates.month_end(day)
    if cadence == "quarter":
        q = (day.month - 1) // 3 + 1
        return f"{day.year}-Q{q}", dt.date(day.year, 3 * q - 2, 1), quarter_end(day)
    if cadence == "year":
        return f"{day.year}", dt.date(day.year, 1, 1), dt.date(day.year, 12, 31)
    raise ValueError(f"unknown cadence {cadence!r}")


def next_birthday(birthday: dt.date, on_or_after: dt.date) -> dt.date:
    """The next birthday on or after a date (29 February → 28 February in other years)."""
    for year in (on_or_after.year, on_or_after.year + 1):
        try:
            candidate = birthday.replace(year=year)
        except ValueError:
            candidate = dt.date(year, 2, 28)
        if candidate >= on_or_after:
            return candidate
    raise AssertionError("unreachable")


# Which contact closes which obligation (DOMAIN §4 "done by"); card pickup notice needs an SMS, then a call.
REACHED = "reached"


def satisfies(kind: str, channel: str, outcome: str) -> bool:
    reached = outcome == REACHED
    if kind == "first_contact":
        return channel == "sms" or (channel == "call" and reached)
    if kind in ("first_call", "card_receipt_check"):
        return channel == "call" and reached
    if kind in ("unreachable_followup", "retention_contact"):
        return channel in ("call", "visit") and reached
    if kind == "periodic_contact":
        return reached
    if kind == "routine_sms":
        return channel == "sms"
    if kind == "routine_call":
        return channel == "call"
    if kind == "holiday_greeting":
        return channel in ("sms", "call")
    if kind == "activity_invitation":  # a club activity: the manager calls (or visits) to invite her
        return channel in ("call", "visit") and reached
    if kind == "gift_arrived":  # her gift for points is at the hall: the manager tells her in person
        return channel in ("call", "wechat", "visit") and reached
    if kind == "card_pickup_reminder":
        return channel == "call"
    if kind == "card_pickup_notice":
        return channel == "call" and reached  # and an SMS since the card arrived: checked by the service
    # birthday_gift (confirmed with choice, time and address) and card_door_delivery (delivery logged)
    # are closed by their own actions, not by a contact.
    return False


def needs_first_call(channel: str, outcome: str) -> bool:
    """A first contact made by SMS opens a first call, due 3 working days after the SMS."""
    return channel == "sms"


def unreachable(outcome: str) -> bool:
    return outcome in ("powered_off", "forwarded")


def pickup_reminder_due(arrived_on: dt.date, n: int) -> dt.date:
    """The n-th (1-based) pickup reminder: weekly in the first month after arrival (n = 1…4), then monthly on the
    arrival's day of month from the second month on (n = 5: one month after arrival)."""
    if n <= 4:
        return arrived_on + dt.timedelta(days=7 * n)
    return dates.months_after(arrived_on, n - 4)


@dataclass(frozen=True)
class Compliance:
    due: int
    done_on_time: int

    @property
    def percent(self) -> float | None:
        return round(100 * self.done_on_time / self.due, 1) if self.due else None


# --- the calendar import: a year's holidays and make-up days as `date,kind[,name]` lines -------------------------

CALENDAR_OFF_WORDS = frozenset({"holiday", "off", "rest", "休", "假", "休息"})
CALENDAR_WORK_WORDS = frozenset({"workday", "working", "work", "makeup", "make-up", "班", "补班", "上班"})
CALENDAR_MAX_LINES = 400


@dataclass(frozen=True)
class CalendarDay:
    date: dt.date
    is_working: bool
    name: str = ""


@dataclass(frozen=True)
class CalendarLineError:
    line: int  # 1-based, as the user counts
    text: str  # the line as given (cut)
    problem: str  # a code: not_a_date, other_year, unknown_kind, duplicate, too_few_fields, name_too_long


def parse_calendar_lines(text: str, *, year: int) -> tuple[list[CalendarDay], list[CalendarLineError]]:
    """The days of `year` in `text`, one `date,kind[,name]` per line (ISO date; kind holiday/off/休 or
    workday/makeup/班; a tab or a semicolon also separates; blank lines, `#` comments and a `date,kind` header are
    skipped), and every line's problem. The caller writes nothing unless the problems are none."""
    days: list[CalendarDay] = []
    errors: list[CalendarLineError] = []
    seen: set[dt.date] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().lstrip("\ufeff")
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.replace("\t", ",").replace(";", ",").replace("，", ",").split(",")]
        if number == 1 and fields[0].lower() == "date":
            continue

        def fail(problem: str, line=line, number=number) -> None:
            errors.append(CalendarLineError(line=number, text=line[:60], problem=problem))

        if len(fields) < 2 or not fields[1]:
            fail("too_few_fields")
            continue
        try:
            day = dt.date.fromisoformat(fields[0])
        except ValueError:
            fail("not_a_date")
            continue
        if len(fields[0]) != 10:
            fail("not_a_date")
            continue
        if day.year != year:
            fail("other_year")
            continue
        kind = fields[1].lower()
        if kind in CALENDAR_OFF_WORDS:
            working = False
        elif kind in CALENDAR_WORK_WORDS:
            working = True
        else:
            fail("unknown_kind")
            continue
        name = ",".join(fields[2:]).strip()
        if len(name) > 50:
            fail("name_too_long")
            continue
        if day in seen:
            fail("duplicate")
            continue
        seen.add(day)
        days.append(CalendarDay(date=day, is_working=working, name=name))
    return sorted(days, key=lambda d: d.date), errors


UNDO_SECONDS = 10  # a contact logged with one tap may be undone by its author for this long


def undo_open(logged_at: dt.datetime, at: dt.datetime) -> bool:
    """Whether a contact logged at `logged_at` may still be undone at `at`."""
    return dt.timedelta(0) <= at - logged_at <= dt.timedelta(seconds=UNDO_SECONDS)
