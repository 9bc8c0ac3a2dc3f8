"""Cross-app workflows. Apps never call each other sideways; these functions compose them."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from core.errors import RuleViolation
from customers import selectors as customer_selectors
from customers import services as customer_services
from customers.models import Status
from customers.services import BillsResult
from managers import services as manager_services
from points import services as points_services
from retention import lifecycle as retention_lifecycle
from retention import services as retention_services
from tiers import services as tier_services


@transaction.atomic
def bills_import(*, rows: list[dict], actor=None) -> BillsResult:
    """Store bills (new or corrected); the bills whose amount changed earn points, a correction only the
    difference to what the bill has earned (never a second earning)."""
    result = customer_services.bills_bulk_upsert(rows=rows, actor=actor)
    points_services.points_earn_bills(
        bills=[(customer_id, month) for customer_id, month, _previous, _amount in result.amount_changes], actor=actor
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
    reason: str = "", reason_category: str = "",
):  # fmt: skip
    """A lifecycle move with everything that follows it. Used by the events API, the admin actions and (through
    `retention.lifecycle`) the retention desk:
    - a closure request: pending closure, points frozen, a retention case opened for the account manager with a
      retention contact due in 1 working day, or the open case joined by a second request (DOMAIN §8);
    - a cancelled closure request: back to active, points unfrozen, the open case retained;
    - a closure (voluntary or arrears): the churn recorded (tier, branch, manager of that moment), the open case
      churned, the tier removed at once (DOMAIN §3), the assignment ended (DOMAIN §4), the points cleared (§6);
    - a suspension or reactivation: points frozen or unfrozen."""
    at = at or timezone.now()
    if action == "request_closure":
        case, _opened = closure_request(
            customer=customer, channel=channel, reason=reason, reason_category=reason_category, at=at, actor=actor,
            source=source,
        )  # fmt: skip
        return case.customer
    customer = customer_services.customer_transition(
        customer=customer, action=action, kind=kind, at=at, actor=actor, source=source
    )
    on = timezone.localdate(at)
    if action == "cancel_closure":
        retention_services.case_retain_for_cancelled_closure(customer=customer, at=at, actor=actor, source=source)
    elif action == "close":
        case = retention_services.case_churn_for_closure(customer=customer, at=at, actor=actor, source=source)
        retention_services.churn_record(customer=customer, kind=kind, on=on, case=case, actor=actor, source=source)
        tier_services.tier_remove_for_closure(customer=customer, on=on, actor=actor)
        manager_services.assignment_end(customer=customer, on=on, reason="closed", actor=actor)
    points_follow_transition(customer=customer, action=action, at=at, reference=source, actor=actor)
    return customer


@transaction.atomic
def closure_request(
    *, customer, channel: str = "", reason: str = "", reason_category: str = "", at=None, actor=None,
    source: str = "",
):  # fmt: skip
    """A closure request (event, retention API or dashboard, admin action): the customer becomes pending closure and
    her points are frozen, and her retention case opens; a request while she is already pending closure joins the
    open case instead of being refused. Returns (case, opened)."""
    at = at or timezone.now()
    try:
        customer = customer_services.customer_transition(
            customer=customer, action="request_closure", at=at, actor=actor, source=source
        )
    except RuleViolation:
        customer = customer_selectors.customer_get(msisdn=customer.msisdn)
        if customer.status != Status.PENDING_CLOSURE:
            raise
    else:
        points_follow_transition(customer=customer, action="request_closure", at=at, reference=source, actor=actor)
    return retention_services.case_open(
        customer=customer, channel=channel, reason=reason, reason_category=reason_category, at=at, actor=actor,
        source=source,
    )  # fmt: skip


def _cancel_closure(*, customer, at=None, actor=None, source: str = ""):
    return customer_lifecycle(customer=customer, action="cancel_closure", at=at, actor=actor, source=source)


# The retention desk (API, dashboard, admin) starts these moves too: it reaches them through its port.
retention_lifecycle.connect(closure_request=closure_request, cancel_closure=_cancel_closure)
