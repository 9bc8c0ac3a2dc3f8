"""Calendar arithmetic shared by every app: months, month ends, the same day some months or years away, full years
and months between two dates. Pure functions of dates (no clock, no ORM): business dates are always parameters.

A "month" is the date of its first day (`2026-11-01` for November 2026), as billing months are stored.
"""

import datetime as dt


def add_months(month: dt.date, n: int) -> dt.date:
    """The first day of the month `n` months after `month`'s month (`n` may be negative)."""
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def month_start(day: dt.date) -> dt.date:
    """The first day of `day`'s month."""
    return day.replace(day=1)


def month_end(day: dt.date) -> dt.date:
    """The last day of `day`'s month."""
    return add_months(day, 1) - dt.timedelta(days=1)


def month_str(month: dt.date) -> str:
    """`2026-11`."""
    return f"{month.year:04d}-{month.month:02d}"


def months_after(day: dt.date, months: int) -> dt.date:
    """The same day of the month `months` months later (earlier when negative), clamped to that month's last day
    (31 January + 1 month -> 28 or 29 February)."""
    first = add_months(day, months)
    return first.replace(day=min(day.day, month_end(first).day))


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day of the month `months` months earlier, clamped to that month's last day."""
    return months_after(day, -months)


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` earlier (later when negative); 29 February -> 28 February."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def full_years(since: dt.date, on: dt.date) -> int:
    """Full years from `since` to `on`; an anniversary on or before `on` counts. Never negative."""
    return max(on.year - since.year - ((on.month, on.day) < (since.month, since.day)), 0)


def full_months(since: dt.date, on: dt.date) -> int:
    """Full months from `since` to `on`; the same day of a later month counts. Never negative."""
    return max((on.year - since.year) * 12 + on.month - since.month - (on.day < since.day), 0)
