"""Input bounds: the one place that says which dates, months, numbers and JSON the club accepts (issue 13).

Every serializer (core.fields), form and filter (core.forms, core.filters), command argument and page parses
dates, months, decimals and integers through these functions, so that one rule holds everywhere:

- a date, a month or a time lies within DATE_MIN … DATE_MAX (no year 1 or 9999, whose month and year
  arithmetic overflows); some are further bounded by today (a birthday, a bill's month that must have ended, an
  event that happened: at most CLOCK_SKEW ahead of the server's clock);
- digits are ASCII (`\\d` without re.ASCII also matches Arabic-Indic and full-width digits, and int() and Decimal()
  read them); a decimal is written out (`"388.50"`, no exponent like `"1e9"`) within its digits and places;
- JSON is at most JSON_MAX_DEPTH levels deep and holds no NUL character (PostgreSQL cannot store one).

Each check raises BoundsError (a ValueError) with a message naming the problem; the API answers it as a 400,
a form as a field error, a command as an error line.
"""

import argparse
import datetime as dt
import json
import re
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from .dates import add_months, month_str

DATE_MIN = dt.date(1900, 1, 1)  # the oldest date accepted: birthdays of the oldest members
DATE_MAX = dt.date(2099, 12, 31)  # the latest: far beyond any plan or validity, far from the calendar's end
CLOCK_SKEW = dt.timedelta(minutes=5)  # how far ahead of our clock a sender's "now" may be
JSON_MAX_DEPTH = 32  # levels of arrays and objects in a body (the deepest the API needs is 4)
NUMBER_MAX_CHARS = 40  # characters of a decimal or an integer string

_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
_MONTH_RE = re.compile(r"([0-9]{4})-([0-9]{2})", re.ASCII)
_DECIMAL_RE = re.compile(r"[+-]?([0-9]+)(?:\.([0-9]+))?", re.ASCII)
_INTEGER_RE = re.compile(r"[+-]?[0-9]+", re.ASCII)


class BoundsError(ValueError):
    """A value outside the club's input bounds; str() is the message for the user."""


def today() -> dt.date:
    """The business date: today in the club's zone."""
    return timezone.localdate()


def _horizon() -> str:
    return f"{DATE_MIN.isoformat()} … {DATE_MAX.isoformat()}"


# -- dates, months, times ---------------------------------------------------------------------------------------------


def check_date(value: dt.date, *, not_after: dt.date | None = None) -> dt.date:
    """`value` within the horizon, and not after `not_after` when given (e.g. today for a birthday)."""
    if not DATE_MIN <= value <= DATE_MAX:
        raise BoundsError(_("%(value)s is outside the accepted dates %(horizon)s.") % _params(value))
    if not_after is not None and value > not_after:
        raise BoundsError(
            _("%(value)s is in the future (after %(limit)s).") % {"value": value.isoformat(), "limit": not_after}
        )
    return value


def parse_date(text, *, not_after: dt.date | None = None) -> dt.date:
    """`"2026-10-05"` (ASCII digits, ISO) -> a date within the bounds; BoundsError for anything else."""
    m = _DATE_RE.fullmatch(text) if isinstance(text, str) else None
    try:
        value = dt.date(int(m[1]), int(m[2]), int(m[3])) if m else None
    except ValueError:
        value = None
    if value is None:
        raise BoundsError(_("%(value)s is not a date in the form YYYY-MM-DD.") % {"value": _shown(text)})
    return check_date(value, not_after=not_after)


def check_month(month: dt.date, *, ended_by: dt.date | None = None) -> dt.date:
    """A month (its 1st) within the horizon; with `ended_by`, a month that has ended before that day."""
    check_date(month)
    if ended_by is not None and add_months(month, 1) > ended_by:
        raise BoundsError(
            _("Month %(month)s has not ended yet on %(day)s; only months that have ended are accepted.")
            % {"month": month_str(month), "day": ended_by.isoformat()}
        )
    return month


def parse_month(text, *, ended_by: dt.date | None = None) -> dt.date:
    """`"2026-03"` (ASCII digits) -> 2026-03-01 within the bounds (and ended by `ended_by` when given)."""
    m = _MONTH_RE.fullmatch(text) if isinstance(text, str) else None
    if not m or not 1 <= int(m[2]) <= 12:
        raise BoundsError(_("%(value)s is not a month in the form YYYY-MM.") % {"value": _shown(text)})
    if not DATE_MIN.year <= int(m[1]) <= DATE_MAX.year:
        raise BoundsError(
            _("%(value)s is outside the accepted months %(first)s … %(last)s.")
            % {"value": text, "first": month_str(DATE_MIN), "last": month_str(DATE_MAX)}
        )
    return check_month(dt.date(int(m[1]), int(m[2]), 1), ended_by=ended_by)


def check_datetime(value: dt.datetime, *, skew: dt.timedelta | None = None, now: dt.datetime | None = None):
    """A time within the horizon (its own calendar date, before any zone conversion, which would overflow at the
    ends); with `skew`, at most that far ahead of the server's clock (a fact that has happened)."""
    if not DATE_MIN <= value.date() <= DATE_MAX:
        raise BoundsError(_("%(value)s is outside the accepted dates %(horizon)s.") % _params(value))
    if skew is not None:
        now = now or timezone.now()
        aware = value if timezone.is_aware(value) else timezone.make_aware(value)
        if aware > now + skew:
            raise BoundsError(
                _("%(value)s is in the future: at most %(minutes)d minutes ahead of the server's clock (%(now)s).")
                % {
                    "value": value.isoformat(),
                    "minutes": skew.total_seconds() // 60,
                    "now": timezone.localtime(now).isoformat(timespec="seconds"),
                }
            )
    return value


def parse_datetime_text(text, *, skew: dt.timedelta | None = None) -> dt.datetime:
    """ISO 8601 with ASCII digits (an offset or not) -> a datetime within the bounds."""
    value = None
    if isinstance(text, str) and text.isascii():
        try:
            value = parse_datetime(text.strip())
        except ValueError:
            value = None
    if value is None:
        raise BoundsError(_("%(value)s is not a date and time in ISO 8601.") % {"value": _shown(text)})
    return check_datetime(value, skew=skew)


def check_year(year: int, *, not_after: int | None = None) -> int:
    if not DATE_MIN.year <= year <= (not_after if not_after is not None else DATE_MAX.year):
        raise BoundsError(
            _("Year %(year)s is outside %(first)s … %(last)s.")
            % {"year": year, "first": DATE_MIN.year, "last": not_after if not_after is not None else DATE_MAX.year}
        )
    return year


# -- numbers ----------------------------------------------------------------------------------------------------------


def parse_decimal(
    text,
    *,
    max_digits: int,
    decimal_places: int,
    min_value: Decimal | None = None,
    max_value: Decimal | None = None,
) -> Decimal:
    """A decimal written out with ASCII digits (`"388.50"`, `"-3"`, an int): no exponent, no NaN or Infinity,
    at most `max_digits` digits of which `decimal_places` after the point."""
    if isinstance(text, bool) or not isinstance(text, (str, int, Decimal)):
        raise BoundsError(_('A decimal is written as a string, e.g. "388.50".'))
    if isinstance(text, Decimal):
        if not text.is_finite():
            raise BoundsError(_('A decimal is written as a string, e.g. "388.50".'))
        text = format(text, "f")
    text = str(text).strip()
    m = _DECIMAL_RE.fullmatch(text) if len(text) <= NUMBER_MAX_CHARS else None
    if not m:
        raise BoundsError(
            _('%(value)s is not a decimal number written out with digits 0-9, e.g. "388.50" (no exponent).')
            % {"value": _shown(text)}
        )
    whole, fraction = m[1].lstrip("0"), (m[2] or "").rstrip("0")
    if len(fraction) > decimal_places:
        raise BoundsError(_("At most %(n)d decimal places.") % {"n": decimal_places})
    if len(whole) > max_digits - decimal_places:
        raise BoundsError(_("At most %(n)d digits before the decimal point.") % {"n": max_digits - decimal_places})
    try:
        value = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only what Decimal reads
        raise BoundsError(_("%(value)s is not a decimal number.") % {"value": _shown(text)}) from exc
    if min_value is not None and value < min_value:
        raise BoundsError(_("At least %(limit)s.") % {"limit": min_value})
    if max_value is not None and value > max_value:
        raise BoundsError(_("At most %(limit)s.") % {"limit": max_value})
    return value


def parse_integer(text, *, min_value: int | None = None, max_value: int | None = None) -> int:
    """An integer: a JSON integer, or a string of ASCII digits (an optional sign)."""
    if isinstance(text, bool):
        raise BoundsError(_("A whole number is expected."))
    if isinstance(text, float) and text.is_integer() and abs(text) < 2**53:
        text = int(text)
    if isinstance(text, int):
        value = text
    elif isinstance(text, str) and len(text) <= NUMBER_MAX_CHARS and _INTEGER_RE.fullmatch(text.strip()):
        value = int(text.strip())
    else:
        raise BoundsError(_("%(value)s is not a whole number written with digits 0-9.") % {"value": _shown(text)})
    if min_value is not None and value < min_value:
        raise BoundsError(_("At least %(limit)s.") % {"limit": min_value})
    if max_value is not None and value > max_value:
        raise BoundsError(_("At most %(limit)s.") % {"limit": max_value})
    return value


# -- strings and JSON -------------------------------------------------------------------------------------------------


def has_nul(text: str) -> bool:
    return "\x00" in text


def check_json(value, *, max_depth: int = JSON_MAX_DEPTH):
    """A parsed JSON value at most `max_depth` levels deep whose strings (keys too) hold no NUL character.
    Iterative: a deep value cannot exhaust the stack here."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise BoundsError(_("The JSON holds a NUL character (\\u0000), which is not accepted."))
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                raise BoundsError(_("The JSON is nested deeper than %(n)d levels.") % {"n": max_depth})
            if isinstance(item, dict):
                stack.extend((k, depth) for k in item)
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)
    return value


def loads_json(text, *, max_depth: int = JSON_MAX_DEPTH, **kwargs):
    """json.loads with the bounds: too deep (the decoder's own recursion included) or a NUL -> BoundsError;
    malformed JSON -> json.JSONDecodeError (a ValueError) as usual."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError as exc:
        raise BoundsError(_("The JSON is nested deeper than %(n)d levels.") % {"n": max_depth}) from exc
    return check_json(value, max_depth=max_depth)


# -- command arguments --------------------------------------------------------------------------------------------------


def date_arg(text: str) -> dt.date:
    """argparse `type=` of a YYYY-MM-DD option."""
    try:
        return parse_date(text)
    except BoundsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def year_arg(text: str) -> int:
    """argparse `type=` of a YYYY option."""
    try:
        return check_year(parse_integer(text))
    except BoundsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def month_arg(text: str) -> dt.date:
    """argparse `type=` of a YYYY-MM option."""
    try:
        return parse_month(text)
    except BoundsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


# --------------------------------------------------------------------------------------------------------------------


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def _params(value) -> dict:
    return {"value": value.isoformat(), "horizon": _horizon()}
