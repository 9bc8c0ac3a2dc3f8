"""Cross-app workflows of the project's entry points. Apps never call each other sideways; these functions compose
them. The customer lifecycle itself (customer_lifecycle, closure_request) lives in `retention.services`."""

import datetime as dt
import logging

from django.db import transaction

from core.actors import record
from core.errors import RuleViolation
from customers import rules as customer_rules
from customers import services as customer_services
from customers.models import Status
from customers.services import BillsResult
from points import services as points_services
from retention import services as retention_services

logger = logging.getLogger(__name__)


@transaction.atomic
def bills_import(*, rows: list[dict], on: dt.date, actor=None) -> BillsResult:
    """Store bills (new or corrected); the bills whose amount changed earn points, a correction only the
    difference to what the bill has earned (never a second earning)."""
    result = customer_services.bills_bulk_upsert(rows=rows)
    return _earn_changed(result, on=on, actor=actor)


@transaction.atomic
def bills_import_staged(*, on: dt.date, actor=None) -> BillsResult:
    """bills_import for the bills already staged in customers.services.BILLS_STAGE (the CSV command streams them
    there): upserted, and the changed ones earning, set-based in the caller's transaction."""
    result = customer_services.bills_upsert_staged()
    return _earn_changed(result, on=on, actor=actor)


def _earn_changed(result: BillsResult, *, on: dt.date, actor) -> BillsResult:
    """The points of the bills the upsert just changed (listed in its BILL_CHANGES table), set-based."""
    if result.changed:
        points_services.points_earn_staged(keys=customer_services.BILL_CHANGES, on=on, actor=actor)
    return result


@transaction.atomic
def lifecycle_event(*, customer, action: str, kind: str = "", at, actor=None, source: str = "") -> tuple:
    """A lifecycle event of the system of record (API.md: facts are recorded, not refused). Returns (customer, gap):
    `gap` says what was missing, empty when the move follows the state machine.

    - a move the state machine allows: `retention.services.customer_lifecycle`;
    - a customer already in the event's status: nothing moves (a suspension's kind is updated);
    - any other move is applied all the same from the status she is in (the events in between are missing or
      late; the gap is answered and logged for staff: the log and the action log, `lifecycle_gap`), except out of
      `closed`: 409 `invalid_transition` (a `closed` event for a closed customer is recorded: nothing changes).
    The caller has locked the customer (vipclub.events) and applies events in `occurred_at` order."""
    customer = customer_services.customer_lock(customer)
    problem = customer_rules.transition_problem(action, customer.status, kind)
    if not problem:
        return (
            retention_services.customer_lifecycle(
                customer=customer, action=action, kind=kind, at=at, actor=actor, source=source
            ),
            "",
        )
    _, to_status = customer_rules.TRANSITIONS[action]
    if customer.status == Status.CLOSED and to_status != Status.CLOSED:
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
    record(actor=actor, action="lifecycle_gap", target=customer, at=at, source=source, event=action, gap=gap)
    customer = retention_services.customer_lifecycle(
        customer=customer, action=action, kind=kind, at=at, actor=actor, source=source, as_fact=True
    )
    return customer, gap
