"""Cross-app workflows. Apps never call each other sideways; these functions compose them."""

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from core.errors import RuleViolation
from customers import rules as customer_rules
from customers import services as customer_services
from customers.models import Status
from customers.services import BillsResult
from managers import services as manager_services
from points import services as points_services
from retention import lifecycle as retention_lifecycle
from retention import services as retention_services
from tiers import services as tier_services

logger = logging.getLogger(__name__)


@transaction.atomic
def bills_import(*, rows: list[dict], on: dt.date, actor=None) -> BillsResult:
    """Store bills (new or corrected); the bills whose amount changed earn points, a correction only the
    difference to what the bill has earned (never a second earning)."""
    result = customer_services.bills_bulk_upsert(rows=rows)
    points_services.points_earn_bills(
        bills=[(customer_id, month) for customer_id, month, _previous, _amount in result.amount_changes],
        on=on,
        actor=actor,
    )
    return result


def points_follow_transition(
    *, customer, action: str, at: dt.datetime | None = None, reference: str = "", actor=None
) -> None:
    """What a lifecycle move (customers.rules.TRANSITIONS action) does to the points (DOMAIN §6): frozen while
    suspended or pending closure, unfrozen on reactivation or a cancelled closure request, cleared on closure.
    Call it after customer_services.customer_transition, in the same transaction (the events do)."""
    if action == "suspend":
        points_services.points_freeze(customer=customer, reason="suspended", at=at, actor=actor)
    elif action == "request_closure":
        points_services.points_freeze(customer=customer, reason="pending_closure", at=at, actor=actor)
    elif action in ("reactivate", "cancel_closure"):
        points_services.points_unfreeze(customer=customer, actor=actor)
    elif action == "close":
        on = timezone.localdate(at) if at else timezone.localdate()
        points_services.points_clear(customer=customer, on=on, reference=reference, actor=actor)


@transaction.atomic
def customer_lifecycle(
    *, customer, action: str, kind: str = "", at=None, actor=None, source: str = "", channel: str = "",
    reason: str = "", reason_category: str = "", as_fact: bool = False,
):  # fmt: skip
    """A lifecycle move with everything that follows it. Used by the events API, the admin actions and (through
    `retention.lifecycle`) the retention desk:
    - a closure request: pending closure, points frozen, a retention case opened for the account manager with a
      retention contact due in 1 working day, or the open case joined by a second request (DOMAIN §8);
    - a cancelled closure request: back to active, points unfrozen, the open case retained;
    - a closure (voluntary or arrears): the churn recorded (tier, branch, manager of that moment), the open case
      churned, the tier removed at once (DOMAIN §3), the assignment ended (DOMAIN §4), the points cleared (§6);
    - a suspension or reactivation: points frozen or unfrozen.
    `as_fact`: an event of the system of record, moved from whatever status she is in (`lifecycle_event`); leaving
    pending closure other than by a closure ends her open case as retained, as a cancellation does.

    Locks in the project's order (core.db): the customer first, then her case, tier, assignment, points account."""
    at = at or timezone.now()
    if action == "request_closure":
        case, _opened = closure_request(
            customer=customer, channel=channel, reason=reason, reason_category=reason_category, at=at, actor=actor,
            source=source,
        )  # fmt: skip
        return case.customer
    customer = customer_services.customer_lock(customer)
    from_status = customer.status
    customer = customer_services.customer_transition(
        customer=customer, action=action, kind=kind, at=at, actor=actor, source=source, as_fact=as_fact
    )
    on = timezone.localdate(at)
    if customer.status == Status.CLOSED:
        case = retention_services.case_churn_for_closure(customer=customer, at=at, actor=actor, source=source)
        retention_services.churn_record(customer=customer, kind=kind, on=on, case=case, actor=actor, source=source)
        tier_services.tier_remove_for_closure(customer=customer, on=on)
        manager_services.assignment_end(customer=customer, on=on, reason="closed")
    elif from_status == Status.PENDING_CLOSURE:
        retention_services.case_retain_for_cancelled_closure(customer=customer, at=at, actor=actor, source=source)
    points_follow_transition(customer=customer, action=action, at=at, reference=source, actor=actor)
    return customer


@transaction.atomic
def lifecycle_event(*, customer, action: str, kind: str = "", at, actor=None, source: str = "") -> tuple:
    """A lifecycle event of the system of record (API.md: facts are recorded, not refused). Returns (customer, gap):
    `gap` says what was missing, empty when the move follows the state machine.

    - a move the state machine allows: `customer_lifecycle`;
    - a customer already in the event's status: nothing moves (a suspension's kind is updated);
    - any other move is applied all the same from the status she is in (the events in between are missing or
      late; the gap is logged for staff and answered), except for a closed customer: 409 `invalid_transition`.
    The caller has locked the customer (vipclub.events) and applies events in `occurred_at` order."""
    customer = customer_services.customer_lock(customer)
    problem = customer_rules.transition_problem(action, customer.status, kind)
    if not problem:
        return customer_lifecycle(customer=customer, action=action, kind=kind, at=at, actor=actor, source=source), ""
    _, to_status = customer_rules.TRANSITIONS[action]
    if customer.status == Status.CLOSED:
        raise RuleViolation(problem, code="invalid_transition")
    if customer.status == to_status:
        customer = customer_services.customer_lifecycle_seen(
            customer=customer, at=at, suspension_kind=kind if to_status == Status.SUSPENDED else ""
        )
        return customer, f"Already {to_status.replace('_', ' ')}: nothing changed."
    gap = (
        f"Moved from {customer.status.replace('_', ' ')} to {to_status.replace('_', ' ')} without the events in "
        f"between (missing or late). {problem}"
    )
    logger.warning("Lifecycle gap for customer %s (%s): %s", customer.pk, source, gap)
    customer = customer_lifecycle(
        customer=customer, action=action, kind=kind, at=at, actor=actor, source=source, as_fact=True
    )
    return customer, gap


@transaction.atomic
def closure_request(
    *, customer, channel: str = "", reason: str = "", reason_category: str = "", at=None, actor=None,
    source: str = "",
):  # fmt: skip
    """A closure request (event, retention API or dashboard, admin action): the customer becomes pending closure and
    her points are frozen, and her retention case opens; a request while she is already pending closure joins the
    open case instead of being refused. Returns (case, opened).

    The customer is locked first and until the end (core.db): a cancellation or a suspension of hers waits, so the
    case never opens once her request is over."""
    at = at or timezone.now()
    customer = customer_services.customer_lock(customer)
    if customer.status == Status.PENDING_CLOSURE:
        customer = customer_services.customer_lifecycle_seen(customer=customer, at=at)
    else:
        customer = customer_services.customer_transition(
            customer=customer, action="request_closure", at=at, actor=actor, source=source
        )
        points_follow_transition(customer=customer, action="request_closure", at=at, reference=source, actor=actor)
    return retention_services.case_open(
        customer=customer, channel=channel, reason=reason, reason_category=reason_category, at=at, actor=actor,
        source=source,
    )  # fmt: skip


def _cancel_closure(*, customer, at=None, actor=None, source: str = ""):
    return customer_lifecycle(customer=customer, action="cancel_closure", at=at, actor=actor, source=source)


# The retention desk (API, dashboard, admin) starts these moves too: it reaches them through its port.
retention_lifecycle.connect(closure_request=closure_request, cancel_closure=_cancel_closure)
