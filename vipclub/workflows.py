"""Cross-app workflows. Apps never call each other sideways; these functions compose them."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from customers import services as customer_services
from customers.services import BillsResult
from points import services as points_services
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
def customer_lifecycle(*, customer, action: str, kind: str = "", at=None, actor=None, source: str = ""):
    """A lifecycle move with everything that follows it: a closure removes the tier at once (DOMAIN §3),
    the points freeze, unfreeze or clear (DOMAIN §6). Used by the events API and the admin actions."""
    at = at or timezone.now()
    customer = customer_services.customer_transition(
        customer=customer, action=action, kind=kind, at=at, actor=actor, source=source
    )
    if action == "close":
        tier_services.tier_remove_for_closure(customer=customer, on=timezone.localdate(at), actor=actor)
    points_follow_transition(customer=customer, action=action, at=at, reference=source, actor=actor)
    return customer
