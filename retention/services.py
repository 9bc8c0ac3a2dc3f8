"""Every write of the retention app (DOMAIN §8). Keyword-only, atomic, with the acting user or system.

The customer lifecycle lives here too (retention sits above every app a lifecycle move touches): `customer_lifecycle`
moves the customer (customers), then removes the tier (tiers), freezes, unfreezes or clears the points (points),
ends the assignment (managers) and opens, retains or churns the retention case (the case services below).
`closure_request` is the closure request of every entry point (events API, retention API, dashboard, admin), and a
case moved to `retained` cancels the closure request through `customer_lifecycle`: plain calls, down the layers."""

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.db.models.functions import Now
from django.utils import timezone

from core import outbox
from core.actors import actor_label
from core.dates import add_months, month_end
from core.errors import InvalidInput, RuleViolation, check_transition
from customers import services as customer_services
from customers.models import Customer, Status
from managers import selectors as manager_selectors
from managers import services as manager_services
from managers.models import Channel
from points import services as points_services
from tiers import services as tier_services
from tiers.models import CustomerTier

from . import engine, rules
from .models import (
    CLOSED_CASE_STATES,
    CaseState,
    CaseStep,
    ChurnRecord,
    MemberCount,
    MonthSnapshot,
    ReasonCategory,
    RetentionCase,
    RetentionOffer,
    RiskWeight,
    SnapshotRetention,
    StepAction,
)

logger = logging.getLogger(__name__)
NOTE_MAX = 2000


def _actor_user(actor):
    return actor if getattr(actor, "pk", None) and hasattr(actor, "get_username") else None


def _step(case: RetentionCase, *, action: str, from_state: str, at, actor, source: str = "", **fields) -> CaseStep:
    return CaseStep.objects.create(
        case=case,
        action=action,
        from_state=from_state,
        to_state=case.state,
        actor=_actor_user(actor),
        actor_label=actor_label(actor, source),
        at=at,
        **fields,
    )


def _tell(case: RetentionCase, customer: Customer, type: str, at, **data) -> None:
    """The case's outbound event (DOMAIN §11: `retention.case_opened {case}`, `retention.case_closed {case, state}`),
    in the case's transaction."""
    outbox.emit(
        type=type, customer_id=customer.pk, msisdn=customer.msisdn, occurred_at=at, data={"case": case.pk, **data}
    )


def category_of(reason_category: str, reason: str = "") -> str:
    """The reason category given, or the free-text reason when it names one; else empty (not known yet)."""
    if reason_category:
        if reason_category not in ReasonCategory.values:
            raise InvalidInput(
                f"Unknown reason category {reason_category!r}.",
                fields={"reason_category": [f"one of {', '.join(ReasonCategory.values)}"]},
            )
        return reason_category
    return reason if reason in ReasonCategory.values else ""


def open_case_of(customer: Customer, *, lock: bool = False) -> RetentionCase | None:
    qs = RetentionCase.objects.filter(customer=customer).exclude(state__in=rules.TERMINAL)
    return (qs.select_for_update() if lock else qs).first()


# --- cases -----------------------------------------------------------------------------------------------


@transaction.atomic
def case_open(
    *,
    customer: Customer,
    channel: str = "",
    reason: str = "",
    reason_category: str = "",
    at: dt.datetime,
    actor=None,
    source: str = "",
    opened_by: str = StepAction.OPENED,
) -> tuple[RetentionCase, bool]:
    """A closure request's case (or a requested suspension's, `opened_by`): opened for the customer's account
    manager, with a retention contact due 1 working day later; a second request while a case is open joins it (one more request, a step). Returns (case, opened).

    Called by `closure_request` below once the customer is pending closure.
    The customer is locked first (core.db's lock order) and her status checked under the lock: no case opens for a
    customer whose request is over (a 409 `no_closure_request`; closure_request never asks for one)."""
    category = category_of(reason_category, reason)
    channel, reason = channel[:20], reason[:200]
    customer = customer_services.customer_lock(customer)
    if not rules.case_may_be_open(customer.status, customer.suspension_kind):
        raise RuleViolation(
            f"No retention case opens for a customer who is {customer.status.replace('_', ' ')}: a case needs her "
            "closure request.",
            code="no_closure_request",
        )
    case = open_case_of(customer, lock=True)
    if case is None:
        assignment = manager_selectors.active_assignment(customer)
        try:
            with transaction.atomic():
                case = RetentionCase.objects.create(
                    customer=customer,
                    manager=assignment.manager if assignment else None,
                    state=CaseState.OPEN,
                    reason_category=category,
                    reason=reason,
                    channel=channel,
                    opened_at=at,
                )
        except IntegrityError:  # a concurrent request opened it first: join that one
            case = open_case_of(customer, lock=True)
            if case is None:
                raise
        else:
            _step(
                case,
                action=opened_by,
                from_state="",
                at=at,
                actor=actor,
                source=source,
                note=reason,
                channel=channel,
                reason_category=category,
            )
            manager_services.retention_contact_open(
                customer=customer, on=timezone.localdate(at), period=f"case{case.pk}"
            )
            _tell(case, customer, "retention.case_opened", at)
            if assignment is not None:
                manager_services.notice_case_opened(
                    user_id=assignment.manager.user_id, case_id=case.pk, name=customer.name, reason=reason, at=at
                )
            return case, True
    case.requests += 1
    if category and not case.reason_category:
        case.reason_category = category
    case.reason = case.reason or reason
    case.save(update_fields=["requests", "reason_category", "reason", "updated_at"])
    _step(
        case,
        action=StepAction.REQUEST_JOINED,
        from_state=case.state,
        at=at,
        actor=actor,
        source=source,
        note=reason,
        channel=channel,
        reason_category=category,
    )
    return case, False


def _offer(code: str) -> RetentionOffer:
    offer = RetentionOffer.objects.filter(code=code).first() if code else None
    if offer is None or not offer.active:
        active = list(RetentionOffer.objects.filter(active=True).values_list("code", flat=True))
        problem = "required" if not code else f"no active offer {code!r}"
        raise InvalidInput(
            f"An offer from the catalog is needed ({problem}).",
            fields={"offer": [problem, f"one of {', '.join(active)}"]},
        )
    return offer


def _check_input(*, to: str, note: str, channel: str) -> None:
    problems = {}
    if to not in rules.STATES:
        problems["to"] = [f"unknown state {to!r}; one of {', '.join(rules.STATES)}"]
    if len(note) > NOTE_MAX:
        problems["note"] = [f"at most {NOTE_MAX} characters"]
    if channel and channel not in Channel.values:
        problems["channel"] = [f"one of {', '.join(Channel.values)}"]
    if problems:
        raise InvalidInput("The step cannot be recorded: " + "; ".join(problems), fields=problems)


@transaction.atomic
def case_transition(
    *,
    case: RetentionCase,
    to: str,
    actor,
    note: str = "",
    offer: str = "",
    visit_on: dt.date | None = None,
    channel: str = "",
    reason_category: str = "",
    at: dt.datetime,
    source: str = "",
) -> RetentionCase:
    """Move a case along DOMAIN §8's state machine and log the step (who, when, note, offer).

    - an illegal move is a RuleViolation `invalid_transition` naming the allowed ones (fields `to`, `allowed`);
    - `offer_made` needs an active offer of the catalog (its code); `escalated` the date of the home visit, which
      opens a retention contact due that day;
    - `channel` (sms, call, visit, wechat, email), when given, logs the contact in the customer's trail (reached),
      which closes the open retention contact;
    - `retained` cancels the customer's closure request (back to active, points unfrozen): `customer_lifecycle`."""
    _check_input(to=to, note=note, channel=channel)
    # the customer first, then her case (core.db's lock order): a lifecycle event of hers runs before or after
    customer_services.customer_lock(RetentionCase.objects.values_list("customer_id", flat=True).get(pk=case.pk))
    case = RetentionCase.objects.select_for_update(of=("self",)).select_related("customer").get(pk=case.pk)
    check_transition(rules.transition_problem(case.state, to), rules.allowed_transitions(case.state))
    category = category_of(reason_category)
    offer_obj = _offer(offer) if (to == CaseState.OFFER_MADE or offer) else None
    if to == CaseState.ESCALATED:
        opened_on = timezone.localdate(case.opened_at)
        if visit_on is None or visit_on < opened_on:
            problem = "required" if visit_on is None else f"not before the case was opened ({opened_on})"
            raise InvalidInput(
                f"An escalation needs the date of the home visit ({problem}).", fields={"visit_on": [problem]}
            )
    customer = case.customer
    if channel:
        manager_services.contact_log(
            customer=customer,
            channel=channel,
            outcome="reached",
            note=note,
            occurred_at=at,
            actor=_actor_user(actor),
            source="retention",
        )
    from_state = case.state
    assignment = manager_selectors.active_assignment(customer)
    case.manager = assignment.manager if assignment else case.manager
    case.state = to
    case.offer = offer_obj or case.offer
    if category:
        case.reason_category = category
    if to == CaseState.ESCALATED:
        case.visit_on = visit_on
        manager_services.retention_contact_open(
            customer=customer, on=timezone.localdate(at), period=f"case{case.pk}-visit", due_on=visit_on
        )
    if to in rules.TERMINAL:
        case.closed_at = at
        _cancel_contacts(case)
        _tell(case, customer, "retention.case_closed", at, state=str(to))
    case.save()
    _step(
        case,
        action=StepAction.TRANSITION,
        from_state=from_state,
        at=at,
        actor=actor,
        source=source,
        note=note,
        offer=offer_obj,
        visit_on=visit_on if to == CaseState.ESCALATED else None,
        channel=channel,
        reason_category=category,
    )
    if to == CaseState.RETAINED and customer.status == Status.PENDING_CLOSURE:
        customer_lifecycle(
            customer=customer, action="cancel_closure", at=at, actor=actor, source=source or f"case:{case.pk}"
        )
    return case


def _cancel_contacts(case: RetentionCase) -> None:
    """A case that ends owes no more retention contacts (the request's and the home visit's)."""
    manager_services.retention_contacts_cancel(
        customer=case.customer, periods=[f"case{case.pk}", f"case{case.pk}-visit"]
    )


def _end_open_case(*, customer: Customer, state: str, action: str, at, actor, source: str) -> RetentionCase | None:
    case = open_case_of(customer, lock=True)
    if case is None:
        return None
    from_state = case.state
    case.state, case.closed_at = state, at
    case.save(update_fields=["state", "closed_at", "updated_at"])
    _cancel_contacts(case)
    _tell(case, customer, "retention.case_closed", at, state=str(state))
    _step(case, action=action, from_state=from_state, at=at, actor=actor, source=source)
    return case


@transaction.atomic
def cases_follow_reassignment(*, customer_ids: list[int], manager, **kwargs) -> int:
    """The open cases of customers moved to another manager move with them (the receiver of
    managers.signals.customers_reassigned, connected in vipclub/wiring.py); closed cases keep the manager who
    worked them, for the record."""
    return (
        RetentionCase.objects.filter(customer_id__in=customer_ids)
        .exclude(state__in=CLOSED_CASE_STATES)
        .update(manager=manager, updated_at=Now())
    )


def case_retain_for_cancelled_closure(*, customer: Customer, at: dt.datetime, actor=None, source: str = ""):
    """The customer withdrew her closure request (hotline, hall, admin): the open case ends as retained."""
    return _end_open_case(
        customer=customer,
        state=CaseState.RETAINED,
        action=StepAction.CLOSURE_CANCELLED,
        at=at,
        actor=actor,
        source=source,
    )


@transaction.atomic
def case_churn_for_closure(*, customer: Customer, at: dt.datetime, actor=None, source: str = ""):
    """The customer was closed (voluntary or arrears): the open case ends as churned."""
    return _end_open_case(
        customer=customer, state=CaseState.CHURNED, action=StepAction.CLOSED, at=at, actor=actor, source=source
    )


# --- the customer lifecycle ------------------------------------------------------------------------------


@transaction.atomic
def customer_lifecycle(
    *,
    customer,
    action: str,
    kind: str = "",
    at: dt.datetime,
    actor=None,
    source: str = "",
    channel: str = "",
    reason: str = "",
    reason_category: str = "",
    as_fact: bool = False,
):
    """A lifecycle move with everything that follows it. Used by the events API, the admin actions and the
    retention desk (a case retained):
    - a closure request: pending closure, points frozen, a retention case opened for the account manager with a
      retention contact due in 1 working day, or the open case joined by a second request (DOMAIN §8);
    - a cancelled closure request: back to active, points unfrozen, the open case retained;
    - a closure (voluntary or arrears): the churn recorded (tier, branch, manager of that moment), the open case
      churned, the tier removed at once (DOMAIN §3), the assignment ended (DOMAIN §4), the points cleared (§6);
    - a suspension or reactivation: points frozen or unfrozen; a requested suspension (申请停机) of a member opens
      a retention case as a closure request does, without changing her status further (DOMAIN §8), and a
      reactivation ends the open case as retained (she stayed);
    `as_fact`: an event of the system of record, moved from whatever status she is in (`vipclub.workflows.
    lifecycle_event`); leaving pending closure other than by a closure ends her open case as retained, as a
    cancellation does.

    Locks in the project's order (core.db): the customer first, then her case, tier, assignment, points account."""
    if action == "request_closure":
        case, _opened = closure_request(
            customer=customer,
            channel=channel,
            reason=reason,
            reason_category=reason_category,
            at=at,
            actor=actor,
            source=source,
        )
        return case.customer
    customer = customer_services.customer_lock(customer)
    from_status = customer.status
    customer = customer_services.customer_transition(
        customer=customer, action=action, kind=kind, at=at, actor=actor, source=source, as_fact=as_fact
    )
    on = timezone.localdate(at)
    if customer.status == Status.CLOSED:
        case = case_churn_for_closure(customer=customer, at=at, actor=actor, source=source)
        churn_record(customer=customer, kind=kind, on=on, case=case, actor=actor, source=source)
        tier_services.tier_remove_for_closure(customer=customer, on=on)
        manager_services.assignment_end(customer=customer, on=on, reason="closed")
    elif from_status == Status.PENDING_CLOSURE:
        case_retain_for_cancelled_closure(customer=customer, at=at, actor=actor, source=source)
    elif from_status == Status.SUSPENDED and customer.status == Status.ACTIVE:
        _end_open_case(
            customer=customer,
            state=CaseState.RETAINED,
            action=StepAction.REACTIVATED,
            at=at,
            actor=actor,
            source=source,
        )
    elif _requested_suspension_of_a_member(customer) and open_case_of(customer) is None:
        case_open(
            customer=customer,
            channel=channel,
            reason=reason,
            reason_category=reason_category,
            at=at,
            actor=actor,
            source=source,
            opened_by=StepAction.SUSPENSION_REQUESTED,
        )
    points_follow_transition(customer=customer, action=action, at=at, reference=source, actor=actor)
    return customer


def _requested_suspension_of_a_member(customer: Customer) -> bool:
    return (
        customer.status == Status.SUSPENDED
        and customer.suspension_kind == "requested"
        and CustomerTier.objects.filter(customer=customer, tier__isnull=False).exists()
    )


@transaction.atomic
def closure_request(
    *,
    customer: Customer,
    channel: str = "",
    reason: str = "",
    reason_category: str = "",
    at: dt.datetime,
    actor=None,
    source: str = "",
) -> tuple[RetentionCase, bool]:
    """A closure request (event, retention API or dashboard, admin action): the customer becomes pending closure and
    her points are frozen, and her retention case opens; a request while she is already pending closure joins the
    open case instead of being refused. Returns (case, opened). A bad reason category is refused before anything
    moves.

    The customer is locked first and until the end (core.db): a cancellation or a suspension of hers waits, so the
    case never opens once her request is over."""
    category_of(reason_category, reason)
    customer = customer_services.customer_lock(customer)
    if customer.status == Status.PENDING_CLOSURE:
        customer = customer_services.customer_lifecycle_seen(customer=customer, at=at)
    else:
        customer = customer_services.customer_transition(
            customer=customer, action="request_closure", at=at, actor=actor, source=source
        )
        points_follow_transition(customer=customer, action="request_closure", at=at, reference=source, actor=actor)
    return case_open(
        customer=customer,
        channel=channel,
        reason=reason,
        reason_category=reason_category,
        at=at,
        actor=actor,
        source=source,
    )


def points_follow_transition(*, customer, action: str, at: dt.datetime, reference: str = "", actor=None) -> None:
    """What a lifecycle move (customers.rules.TRANSITIONS action) does to the points (DOMAIN §6): frozen while
    suspended or pending closure, unfrozen on reactivation or a cancelled closure request, cleared on closure.
    Called after customer_services.customer_transition, in the same transaction."""
    if action == "suspend":
        points_services.points_freeze(customer=customer, reason="suspended", at=at, actor=actor)
    elif action == "request_closure":
        points_services.points_freeze(customer=customer, reason="pending_closure", at=at, actor=actor)
    elif action in ("reactivate", "cancel_closure"):
        points_services.points_unfreeze(customer=customer, actor=actor)
    elif action == "close":
        points_services.points_clear(
            customer=customer, on=timezone.localdate(at), at=at, reference=reference, actor=actor
        )


# --- churn -----------------------------------------------------------------------------------------------


@transaction.atomic
def churn_record(
    *, customer: Customer, kind: str, on: dt.date, case: RetentionCase | None = None, actor=None, source: str = ""
) -> ChurnRecord:
    """Record a closure with the tier, branch and manager of that moment. Call it before the closure removes the
    tier and ends the assignment (customer_lifecycle does). One record per customer (a replay keeps it)."""
    tier_id = CustomerTier.objects.filter(customer=customer).values_list("tier_id", flat=True).first()
    assignment = manager_selectors.active_assignment(customer)
    if case is None:
        case = RetentionCase.objects.filter(customer=customer, state=CaseState.CHURNED).order_by("-opened_at").first()
    record, _ = ChurnRecord.objects.get_or_create(
        customer=customer,
        defaults={
            "closed_on": on,
            "kind": kind,
            "tier_id": tier_id,
            "region_id": customer.region_id,
            "manager": assignment.manager if assignment else None,
            "case": case,
            "reason_category": case.reason_category if case else "",
            "source": actor_label(actor, source),
        },
    )
    return record


# --- month-end snapshots ---------------------------------------------------------------------------------


@transaction.atomic
def snapshot_month(*, month: dt.date, on: dt.date, at: dt.datetime, base_date: dt.date | None = None) -> MonthSnapshot:
    """Members at the end of `month` per tier and branch, read from the tier history (so any past month can be
    taken again, e.g. after a late closure), and the snapshot retention of the members of `base_date` (default
    1 January of that year) at that month end. Set-based (two INSERT … SELECT … GROUP BY); idempotent: a month
    taken again replaces its rows. Refused for a month that has not ended on `on`; `at` is when it is taken."""
    month = month.replace(day=1)
    end = month_end(month)
    if end >= on:
        raise RuleViolation(
            f"{month:%Y-%m} has not ended on {on.isoformat()}: its members cannot be counted yet.",
            code="month_not_over",
            fields={"month": [f"{month:%Y-%m} ends on {end.isoformat()}"]},
        )
    base_date = base_date or dt.date(month.year, 1, 1)
    snapshot, _ = MonthSnapshot.objects.select_for_update().get_or_create(month=month, defaults={"taken_at": at})
    MemberCount.objects.filter(snapshot=snapshot).delete()
    engine.member_counts_insert(snapshot_id=snapshot.pk, on=end)
    snapshot.members = sum(MemberCount.objects.filter(snapshot=snapshot).values_list("members", flat=True))
    snapshot.taken_at = at
    snapshot.save(update_fields=["members", "taken_at"])
    SnapshotRetention.objects.filter(base_date=base_date, month=month).delete()
    if base_date <= end:
        engine.snapshot_retention_insert(base_date=base_date, month=month, on=end)
    return snapshot


@transaction.atomic
def snapshot_months(*, first: dt.date, last: dt.date, on: dt.date, at: dt.datetime, base_date=None) -> list:
    """Every month from `first` to `last` (backfill, command): all of them, or none when one is refused (a range
    running into a month that has not ended writes nothing)."""
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(snapshot_month(month=month, on=on, at=at, base_date=base_date))
        month = add_months(month, 1)
    return months


# --- the risk list ---------------------------------------------------------------------------------------


def risk_weights() -> dict[str, tuple]:
    """signal -> (weight, parameter)."""
    return {w.signal: (w.weight, w.parameter) for w in RiskWeight.objects.all()}


@transaction.atomic
def risk_refresh(*, on: dt.date) -> int:
    """Rebuild the risk list as of a day, set-based (one DELETE, one INSERT … SELECT over the members); returns the
    members with a score above zero. Run daily (beat) and by the monthly pipeline."""
    count = engine.risk_scores_rebuild(on=on, weights=risk_weights())
    logger.info("Risk list as of %s: %d members at risk", on, count)
    return count
