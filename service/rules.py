"""Pure rules of complaints (DOMAIN §9): the state machine and the deadlines. No ORM."""

import datetime as dt

RECEIVED, ACKNOWLEDGED, REPLIED, ESCALATED, RESOLVED, REOPENED, CLOSED = (
    "received",
    "acknowledged",
    "replied",
    "escalated",
    "resolved",
    "reopened",
    "closed",
)
STATES = (RECEIVED, ACKNOWLEDGED, REPLIED, ESCALATED, RESOLVED, REOPENED, CLOSED)
OPEN = (RECEIVED, ACKNOWLEDGED, REPLIED, ESCALATED, REOPENED)
OBLIGATION_PREFIX = "cmp"  # the period of a complaint's obligation on her manager's desk: cmp<complaint id>


def obligation_period(complaint_id: int) -> str:
    return f"{OBLIGATION_PREFIX}{complaint_id}"


def complaint_of_period(period: str) -> int | None:
    """The complaint an obligation's period names (None: not a complaint's)."""
    rest = period[len(OBLIGATION_PREFIX) :] if period.startswith(OBLIGATION_PREFIX) else ""
    return int(rest) if rest.isdigit() and len(rest) < 19 else None


# received → acknowledged → replied → resolved → closed; escalated from any open state; a resolved complaint may be
# reopened (its compensation is reversed) and resolved again. Escalated goes on where the complaint stood: to its next
# step (acknowledged, then replied) or straight to resolved.
_MOVES = {
    RECEIVED: (ACKNOWLEDGED, ESCALATED),
    ACKNOWLEDGED: (REPLIED, ESCALATED),
    REPLIED: (RESOLVED, ESCALATED),
    RESOLVED: (CLOSED, REOPENED),
    REOPENED: (RESOLVED, ESCALATED),
    CLOSED: (),
}


def allowed_transitions(state: str, *, acknowledged: bool = False, replied: bool = False) -> tuple[str, ...]:
    """The states a complaint in `state` may move to; an escalated one to its next step or to resolved."""
    if state == ESCALATED:
        if not acknowledged:
            return (ACKNOWLEDGED, RESOLVED)
        if not replied:
            return (REPLIED, RESOLVED)
        return (RESOLVED,)
    return _MOVES.get(state, ())


def transition_problem(state: str, to: str, *, acknowledged: bool = False, replied: bool = False) -> str:
    """Why `state` → `to` is refused ("" when it is allowed), naming the allowed moves."""
    allowed = allowed_transitions(state, acknowledged=acknowledged, replied=replied)
    if to in allowed:
        return ""
    if not allowed:
        return f"A {state} complaint moves no further."
    return f"A {state} complaint cannot move to {to}; allowed: {', '.join(allowed)}."


def deadlines(received_at: dt.datetime, *, ack_hours: int, reply_hours: int) -> tuple[dt.datetime, dt.datetime]:
    """(acknowledge by, reply by): clock hours after receipt, whatever the day (a Friday 17:00 complaint is to be
    replied to by Sunday 17:00)."""
    return received_at + dt.timedelta(hours=ack_hours), received_at + dt.timedelta(hours=reply_hours)


ON_TIME, LATE_ACK, LATE_REPLY, LATE_RESOLVE = 0, 1, 2, 3


def lateness(
    *,
    at: dt.datetime,
    today: dt.date,
    ack_due_at: dt.datetime,
    reply_due_at: dt.datetime,
    resolve_due_on: dt.date,
    acknowledged_at: dt.datetime | None,
    replied_at: dt.datetime | None,
    resolved_at: dt.datetime | None,
) -> int:
    """The latest deadline an open complaint has missed at `at` (`today` its local date): late once the moment has
    passed (the resolve day once it is over)."""
    if resolved_at is None and today > resolve_due_on:
        return LATE_RESOLVE
    if replied_at is None and at > reply_due_at:
        return LATE_REPLY
    if acknowledged_at is None and at > ack_due_at:
        return LATE_ACK
    return ON_TIME


def share(part: int, whole: int) -> float | None:
    """part / whole as a percentage with one decimal, None when nothing to count."""
    return round(100 * part / whole, 1) if whole else None
