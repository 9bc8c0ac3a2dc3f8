"""Pure rules of the customer domain (no ORM)."""

import datetime as dt
import re

from .models import Status

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
ID18_RE = re.compile(r"^\d{17}[\dX]$")
ID15_RE = re.compile(r"^\d{15}$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def parse_month(value: str) -> dt.date:
    """`"2026-03"` -> 2026-03-01; ValueError for anything else."""
    m = MONTH_RE.match(value or "")
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1900:
        raise ValueError(f"{value!r} is not a month in the form YYYY-MM.")
    return dt.date(int(m.group(1)), int(m.group(2)), 1)


def month_str(month: dt.date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def add_months(month: dt.date, n: int) -> dt.date:
    """The first day of the month `n` months after `month`'s month."""
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def id_number_check_digit(first17: str) -> str:
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def id_number_problem(value: str) -> str | None:
    """Why a resident ID number is invalid, or None. 18 characters with a valid check digit, or 15 digits."""
    value = (value or "").upper()
    if ID15_RE.match(value):
        return None
    if not ID18_RE.match(value):
        return "An ID number has 18 characters (17 digits and a digit or X) or 15 digits."
    if id_number_check_digit(value[:17]) != value[17]:
        return "The ID number's check digit is wrong."
    if birthday_from_id_number(value) is None:
        return "The ID number holds no valid birth date."
    return None


def birthday_from_id_number(value: str) -> dt.date | None:
    try:
        if len(value) == 18:
            return dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
        if len(value) == 15:
            return dt.date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))
    except ValueError:
        return None
    return None


# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "suspend": (frozenset({Status.ACTIVE}), Status.SUSPENDED),
    "reactivate": (frozenset({Status.SUSPENDED}), Status.ACTIVE),
    "request_closure": (frozenset({Status.ACTIVE, Status.SUSPENDED}), Status.PENDING_CLOSURE),
    "cancel_closure": (frozenset({Status.PENDING_CLOSURE}), Status.ACTIVE),
    # A closure follows a closure request; an arrears closure (欠费销户) may also follow an arrears suspension.
    "close": (frozenset({Status.PENDING_CLOSURE, Status.SUSPENDED}), Status.CLOSED),
}


ACTION_LABELS = {
    "suspend": "suspend",
    "reactivate": "reactivate",
    "request_closure": "register a closure request for",
    "cancel_closure": "cancel the closure request of",
    "close": "close",
}


def transition_problem(action: str, current: str, kind: str = "") -> str | None:
    """Why `action` is impossible from status `current`, or None when it is allowed."""
    allowed_from, _ = TRANSITIONS[action]
    if current not in allowed_from:
        return (
            f"Cannot {ACTION_LABELS[action]} a customer who is {current.replace('_', ' ')}; "
            f"only possible when the customer is {' or '.join(s.replace('_', ' ') for s in sorted(allowed_from))}."
        )
    if action == "close" and current == Status.SUSPENDED and kind != "arrears":
        return "Only an arrears closure may follow a suspension; a voluntary closure needs a closure request first."
    return None


def fact_applies(action: str, current: str) -> bool:
    """Whether a lifecycle event from the system of record moves a customer in status `current` although the state
    machine has no such step (the events in between are missing or late): yes, to a status she is not in, except
    out of `closed` (a closed number does not come back)."""
    _, to_status = TRANSITIONS[action]
    return current != Status.CLOSED and current != to_status
