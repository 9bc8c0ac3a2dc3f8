"""Pure rules of the customer domain (no ORM)."""

import datetime as dt
import re

from core import bounds

from .models import Status

ID18_RE = re.compile(r"[0-9]{17}[0-9X]")
ID15_RE = re.compile(r"[0-9]{15}")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def parse_month(value: str) -> dt.date:
    """`"2026-03"` -> 2026-03-01; ValueError (core.bounds.BoundsError) for anything else, or a month outside the
    accepted horizon."""
    return bounds.parse_month(value)


def id_number_check_digit(first17: str) -> str:
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def id_number_problem(value: str) -> str | None:
    """Why a resident ID number is invalid, or None. 18 characters with a valid check digit, or 15 digits."""
    value = (value or "").upper()
    if ID15_RE.fullmatch(value):
        return None
    if not ID18_RE.fullmatch(value):
        return "An ID number has 18 characters (17 digits and a digit or X) or 15 digits."
    if id_number_check_digit(value[:17]) != value[17]:
        return "The ID number's check digit is wrong."
    birthday = birthday_from_id_number(value)
    if birthday is None or not bounds.DATE_MIN <= birthday <= bounds.DATE_MAX:
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
