"""Every write of complaints (DOMAIN §9). Keyword-only, atomic, with the acting user (or system) and the business
time `at` (never the clock), an audit row (core.actors.record) and a step in the complaint's history.

- `complaint_receive`: intake from the API, the admin or the desk; owner = whoever received it; the deadlines from
  the policy (acknowledge 2 h, reply 48 h in clock hours, resolve 5 working days on the managers' calendar); a
  member's complaint opens an obligation on her account manager's desk at once (managers.services);
- `complaint_transition`: the state machine (rules.py), a 409 `invalid_transition` naming the allowed moves;
  resolving may post compensation through the points ledger with the complaint as reference (once), reopening
  reverses it;
- `complaint_handover`: a new owner with a note;
- `complaints_escalate_late`: set-based, for the daily job and the frequent beat task: every open complaint late for
  a deadline it was not yet escalated for is escalated, its branch's supervisors notified."""

import datetime as dt
import logging
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext

from benefits import services as benefit_services
from benefits.models import Benefit
from core import outbox
from core.actors import actor_label, record
from core.errors import InvalidInput, RuleViolation, check_transition
from customers import services as customer_services
from customers.models import Customer
from managers import services as manager_services
from managers.calendar import WorkCalendar
from managers.models import AccountManager, Notification
from points import services as points_services
from tiers.models import CustomerTier

from . import rules, surveys
from .models import (
    OPEN_STATES,
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintPolicy,
    ComplaintState,
    ComplaintStep,
    Lateness,
    StepAction,
)

logger = logging.getLogger(__name__)
TEXT_MAX = 4000
NOTE_MAX = 2000
POINTS_MAX = 100_000
BENEFIT_USES_MAX = 100


def policy() -> ComplaintPolicy:
    return ComplaintPolicy.objects.filter(code="default").first() or ComplaintPolicy(code="default")


def _user(actor):
    return actor if getattr(actor, "pk", None) and hasattr(actor, "get_username") else None


def _owner_label(user) -> str:
    if user is None:
        return ""
    manager = AccountManager.objects.filter(user=user).only("name").first()
    return f"{manager.name} ({user.get_username()})" if manager else user.get_username()


def _step(complaint: Complaint, *, action: str, from_state: str, at, actor, note: str = "", source: str = ""):
    return ComplaintStep.objects.create(
        complaint=complaint,
        action=action,
        from_state=from_state,
        to_state=complaint.state,
        actor=_user(actor),
        actor_label=actor_label(actor, source),
        at=at,
        note=note,
        owner_label=_owner_label(complaint.owner) if complaint.owner_id else "",
    )


def _tell(complaint: Complaint, at) -> None:
    """`complaint.changed {complaint, status}` (DOMAIN §11), in the change's transaction."""
    outbox.emit(
        type="complaint.changed",
        customer_id=complaint.customer_id,
        msisdn=complaint.customer.msisdn,
        occurred_at=at,
        data={"complaint": complaint.pk, "status": complaint.state},
    )


def _period(complaint: Complaint) -> str:
    return rules.obligation_period(complaint.pk)


def _check_intake(*, channel: str, category: str, text: str) -> str:
    problems = {}
    if channel not in ComplaintChannel.values:
        problems["channel"] = [f"one of {', '.join(ComplaintChannel.values)}"]
    if category not in ComplaintCategory.values:
        problems["category"] = [f"one of {', '.join(ComplaintCategory.values)}"]
    text = (text or "").strip()
    if not text:
        problems["text"] = ["required: what the customer complains about"]
    elif len(text) > TEXT_MAX:
        problems["text"] = [f"at most {TEXT_MAX} characters"]
    if problems:
        raise InvalidInput("The complaint cannot be recorded: " + "; ".join(problems), fields=problems)
    return text


@transaction.atomic
def complaint_receive(
    *,
    customer: Customer,
    channel: str,
    category: str,
    text: str,
    received_at: dt.datetime,
    actor,
    received_by=None,
    source: str = "",
) -> Complaint:
    """Record a complaint received at `received_at` by `received_by` (default: the acting person), who owns it. The
    deadlines come from the policy; a member's account manager gets it on her desk at once (an obligation due the
    day it is to be acknowledged)."""
    text = _check_intake(channel=channel, category=category, text=text)
    customer = customer_services.customer_lock(customer)
    p = policy()
    ack_due, reply_due = rules.deadlines(received_at, ack_hours=p.acknowledge_hours, reply_hours=p.reply_hours)
    day = timezone.localdate(received_at)
    resolve_due = WorkCalendar.from_db().add_working_days(day, p.resolve_working_days)
    owner = received_by or _user(actor)
    tier_id = CustomerTier.objects.filter(customer=customer).values_list("tier_id", flat=True).first()
    complaint = Complaint.objects.create(
        customer=customer,
        region_id=customer.region_id,
        tier_id=tier_id,
        channel=channel,
        category=category,
        text=text,
        received_at=received_at,
        received_by=owner,
        owner=owner,
        state=ComplaintState.RECEIVED,
        ack_due_at=ack_due,
        reply_due_at=reply_due,
        resolve_due_on=resolve_due,
    )
    _step(complaint, action=StepAction.RECEIVED, from_state="", at=received_at, actor=actor, source=source)
    if tier_id is not None:
        manager_services.complaint_obligation_open(
            customer=customer,
            on=day,
            period=_period(complaint),
            due_on=timezone.localdate(ack_due),
            note=f"#{complaint.pk} {complaint.get_category_display()}: {text}"[:200],
        )
    _tell_manager(complaint, day=day)
    record(
        actor=actor,
        action="complaint_received",
        target=complaint,
        at=received_at,
        source=source,
        channel=channel,
        category=category,
        owner=owner.get_username() if owner else None,
    )
    _tell(complaint, received_at)
    return complaint


def _check_transition(*, to: str, note: str, compensation: dict | None, billing_refund) -> dict:
    problems = {}
    if to not in rules.STATES:
        problems["to"] = [f"unknown state {to!r}; one of {', '.join(rules.STATES)}"]
    if len(note or "") > NOTE_MAX:
        problems["note"] = [f"at most {NOTE_MAX} characters"]
    comp = compensation or {}
    if comp:
        if to != ComplaintState.RESOLVED:
            problems["compensation"] = ["only when the complaint is resolved"]
        elif comp.get("benefit"):
            quantity = comp.get("quantity")
            if comp.get("points"):
                problems["compensation"] = ["points or a benefit, not both"]
            elif not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 < quantity <= BENEFIT_USES_MAX:
                problems["compensation"] = [f"quantity: a whole number of uses from 1 to {BENEFIT_USES_MAX}"]
            elif not Benefit.objects.filter(code=comp["benefit"], active=True).exists():
                problems["compensation"] = [f"unknown benefit {comp['benefit']!r}"]
        else:
            points = comp.get("points")
            if not isinstance(points, int) or isinstance(points, bool) or not 0 < points <= POINTS_MAX:
                problems["compensation"] = [f"points: a whole number from 1 to {POINTS_MAX}"]
    if billing_refund is not None:
        if to != ComplaintState.RESOLVED:
            problems["billing_refund"] = ["only when the complaint is resolved"]
        elif not isinstance(billing_refund, Decimal) or billing_refund < 0:
            problems["billing_refund"] = ["an amount in yuan, not negative"]
    if problems:
        raise InvalidInput("The step cannot be recorded: " + "; ".join(problems), fields=problems)
    return comp


def _lock(complaint: Complaint) -> Complaint:
    """The customer first, then her complaint (core.db's lock order)."""
    customer_services.customer_lock(Complaint.objects.values_list("customer_id", flat=True).get(pk=complaint.pk))
    return Complaint.objects.select_for_update(of=("self",)).select_related("customer").get(pk=complaint.pk)


def _compensate_benefit(complaint: Complaint, *, code: str, quantity: int, at, actor) -> None:
    """An extra benefit use (e.g. an airport lounge visit) through the benefits ledger, the complaint as reference;
    the grant sync keeps it (benefits.services.benefit_compensate)."""
    complaint.compensation_rounds += 1
    key = f"complaint:{complaint.pk}:benefit:{complaint.compensation_rounds}"
    benefit = Benefit.objects.get(code=code)
    result = benefit_services.benefit_compensate(
        customer=complaint.customer,
        benefit=benefit,
        quantity=quantity,
        reference=f"complaint:{complaint.pk}",
        idempotency_key=key,
        at=at,
        actor=actor,
    )
    complaint.compensation_benefit = benefit
    complaint.compensation_quantity = quantity
    _compensated(
        complaint,
        key=key,
        fields=["compensation_benefit", "compensation_quantity"],
        note=f"+{quantity} × {benefit.code}",
        at=at,
        actor=actor,
        benefit=benefit.code,
        quantity=quantity,
        entry=result.entry.pk,
    )


def _compensated(complaint: Complaint, *, key: str, fields: list[str], note: str, at, actor, **details) -> None:
    """The tail of a compensation (points or a benefit's uses), its ledger entry posted under `key`: the complaint
    saved with it (`fields` and the key), a `compensated` step, and the audit row with `details`."""
    complaint.compensation_key = key
    complaint.save(update_fields=[*fields, "compensation_key", "compensation_rounds", "updated_at"])
    _step(complaint, action=StepAction.COMPENSATED, from_state=complaint.state, at=at, actor=actor, note=note)
    record(actor=actor, action="complaint_compensated", target=complaint, at=at, **details, key=key)


def _reverse_benefit_compensation(complaint: Complaint, *, at, actor) -> None:
    reversal = benefit_services.benefit_compensation_reverse(
        compensation_key=complaint.compensation_key,
        reference=f"complaint:{complaint.pk}:reopened",
        at=at,
        actor=actor,
    )
    taken = reversal.units if reversal else 0
    given = complaint.compensation_quantity or 0
    code = complaint.compensation_benefit.code if complaint.compensation_benefit_id else ""
    _compensation_reversed(
        complaint,
        note=f"-{taken} × {code}" + (f" ({given - taken} already used)" if taken < given else ""),
        at=at,
        actor=actor,
        benefit=code,
        quantity=given,
        taken_back=taken,
    )
    complaint.compensation_benefit = None
    complaint.compensation_quantity = None


def _compensation_reversed(complaint: Complaint, *, note: str, at, actor, **details) -> None:
    """The tail of a reversal (points or a benefit's uses): the audit row with `details`, a `reversed` step, and the
    complaint's compensation key cleared (saved by the caller with the move)."""
    record(
        actor=actor,
        action="complaint_compensation_reversed",
        target=complaint,
        at=at,
        **details,
        key=complaint.compensation_key,
    )
    _step(complaint, action=StepAction.REVERSED, from_state=complaint.state, at=at, actor=actor, note=note)
    complaint.compensation_key = ""


def _reverse_compensation(complaint: Complaint, *, at, actor, note: str) -> None:
    if not complaint.compensation_key:
        return
    if complaint.compensation_benefit_id:
        _reverse_benefit_compensation(complaint, at=at, actor=actor)
        return
    reversal = points_services.points_compensation_reverse(
        customer=complaint.customer,
        compensation_key=complaint.compensation_key,
        reference=f"complaint:{complaint.pk}:reopened",
        on=timezone.localdate(at),
        actor=actor,
    )
    taken = reversal.points if reversal else 0
    given = complaint.compensation_points
    _compensation_reversed(
        complaint,
        note=f"-{taken} points" + (f" ({given - taken} already spent)" if taken < (given or 0) else ""),
        at=at,
        actor=actor,
        points=given,
        taken_back=taken,
    )
    complaint.compensation_points = None


@transaction.atomic
def complaint_transition(
    *,
    complaint: Complaint,
    to: str,
    at: dt.datetime,
    actor,
    note: str = "",
    compensation: dict | None = None,
    billing_refund: Decimal | None = None,
) -> Complaint:
    """Move a complaint along the state machine (rules.py) at `at` and log the step. An illegal move is a 409
    `invalid_transition` whose `fields.allowed` lists the allowed ones. Resolving may grant compensation
    (`{"points": n}`), posted once through the points ledger with the complaint as reference; reopening reverses it
    (what the customer already spent stays spent). Escalating tells the branch's supervisors."""
    comp = _check_transition(to=to, note=note, compensation=compensation, billing_refund=billing_refund)
    complaint = _lock(complaint)
    steps = {"acknowledged": complaint.acknowledged_at is not None, "replied": complaint.replied_at is not None}
    check_transition(
        rules.transition_problem(complaint.state, to, **steps), rules.allowed_transitions(complaint.state, **steps)
    )
    if at < complaint.received_at:
        raise InvalidInput(
            f"A step cannot come before the complaint was received ({complaint.received_at.isoformat()}).",
            fields={"occurred_at": ["before the complaint was received"]},
        )
    from_state = complaint.state
    complaint.state = to
    if to == ComplaintState.ACKNOWLEDGED:
        complaint.acknowledged_at = at
    elif to == ComplaintState.REPLIED:
        complaint.replied_at = at
        complaint.acknowledged_at = complaint.acknowledged_at or at
    elif to == ComplaintState.RESOLVED:
        complaint.resolved_at = at
        complaint.acknowledged_at = complaint.acknowledged_at or at
        complaint.resolution = note or complaint.resolution
        if billing_refund is not None:
            complaint.billing_refund = billing_refund
    elif to == ComplaintState.CLOSED:
        complaint.closed_at = at
    elif to == ComplaintState.REOPENED:
        complaint.resolved_at = None
        _reverse_compensation(complaint, at=at, actor=actor, note=note)
    elif to == ComplaintState.ESCALATED:
        complaint.escalated = True
        complaint.escalated_at = complaint.escalated_at or at
    complaint.save()
    _step(complaint, action=StepAction.TRANSITION, from_state=from_state, at=at, actor=actor, note=note)
    if to == ComplaintState.RESOLVED and comp.get("points"):
        _compensate(complaint, points=comp["points"], at=at, actor=actor)
    elif to == ComplaintState.RESOLVED and comp.get("benefit"):
        _compensate_benefit(complaint, code=comp["benefit"], quantity=comp["quantity"], at=at, actor=actor)
    if to == ComplaintState.RESOLVED:
        surveys.survey_for_complaint(complaint=complaint, at=at)  # once per complaint (its reference)
    if complaint.acknowledged_at is not None:
        manager_services.complaint_obligation_close(customer=complaint.customer, period=_period(complaint), at=at)
    if to == ComplaintState.ESCALATED:
        _notify_supervisors([(complaint.pk, complaint.region_id, "manual")], day=timezone.localdate(at))
    record(
        actor=actor,
        action="complaint_moved",
        target=complaint,
        at=at,
        from_state=from_state,
        to_state=to,
        note=note[:200],
        billing_refund=str(billing_refund) if billing_refund is not None else None,
    )
    _tell(complaint, at)
    return complaint


def _compensate(complaint: Complaint, *, points: int, at, actor) -> None:
    complaint.compensation_rounds += 1
    key = f"complaint:{complaint.pk}:comp:{complaint.compensation_rounds}"
    result = points_services.points_compensate(
        customer=complaint.customer,
        points=points,
        reference=f"complaint:{complaint.pk}",
        idempotency_key=key,
        on=timezone.localdate(at),
        actor=actor,
    )
    complaint.compensation_points = points
    _compensated(
        complaint,
        key=key,
        fields=["compensation_points"],
        note=f"+{points} points",
        at=at,
        actor=actor,
        points=points,
        entry=result.entry_id,
    )


@transaction.atomic
def complaint_handover(*, complaint: Complaint, owner, note: str, at: dt.datetime, actor) -> Complaint:
    """Hand a complaint on to `owner` (a login) with a note (首问负责制: she owns it from now on)."""
    problems = {}
    note = (note or "").strip()
    if not note:
        problems["note"] = ["required: what the new owner needs to know"]
    elif len(note) > NOTE_MAX:
        problems["note"] = [f"at most {NOTE_MAX} characters"]
    if owner is None or not getattr(owner, "is_active", False):
        problems["owner"] = ["an active login"]
    if problems:
        raise InvalidInput("The complaint cannot be handed over: " + "; ".join(problems), fields=problems)
    complaint = _lock(complaint)
    if not complaint.is_open:
        raise RuleViolation(
            f"A {complaint.state} complaint is not handed over; reopen it first.",
            code="complaint_not_open",
            fields={"state": [complaint.state]},
        )
    if complaint.owner_id == owner.pk:
        raise RuleViolation(
            "The complaint already belongs to that person.", code="same_owner", fields={"owner": ["the current owner"]}
        )
    before = complaint.owner.get_username() if complaint.owner_id else None
    complaint.owner = owner
    complaint.save(update_fields=["owner", "updated_at"])
    _step(complaint, action=StepAction.HANDOVER, from_state=complaint.state, at=at, actor=actor, note=note)
    Notification.objects.get_or_create(
        user=owner,
        kind=f"complaint:{complaint.pk}:owner"[:30],
        day=timezone.localdate(at),
        defaults={
            "text": f"Complaint #{complaint.pk} was handed over to you: {note}"[:500],
            "link": _link(complaint.pk),
        },
    )
    record(
        actor=actor,
        action="complaint_handed_over",
        target=complaint,
        at=at,
        from_owner=before,
        to_owner=owner.get_username(),
        note=note[:200],
    )
    return complaint


def _tell_manager(complaint: Complaint, *, day: dt.date) -> None:
    """ "Complaint received": a notification (the desk's inbox) to the member's account manager, unless she received
    it herself; it leads to the complaint on her desk."""
    manager_user_id = (
        AccountManager.objects.filter(
            assignments__customer_id=complaint.customer_id, assignments__ended_on__isnull=True, active=True
        )
        .values_list("user_id", flat=True)
        .first()
    )
    if manager_user_id is None or manager_user_id == complaint.received_by_id:
        return
    with translation.override(settings.LANGUAGE_CODE):
        text = gettext("Complaint #%(id)s of %(name)s received (%(category)s): acknowledge by %(due)s.") % {
            "id": complaint.pk,
            "name": complaint.customer.name,
            "category": complaint.get_category_display(),
            "due": timezone.localtime(complaint.ack_due_at).strftime("%m-%d %H:%M"),
        }
    Notification.objects.get_or_create(
        user_id=manager_user_id,
        kind=f"complaint:{complaint.pk}:received"[:30],
        day=day,
        defaults={"text": text[:500], "link": desk_link(complaint.pk)},
    )


def desk_link(complaint_id: int) -> str:
    """The complaint's page on the desk (desk/complaints.py)."""
    return f"/dashboard/complaints/{complaint_id}/"


def _link(complaint_id: int) -> str:
    return f"/admin/service/complaint/{complaint_id}/change/"


_LEVEL_NAMES = {1: "acknowledge", 2: "reply", 3: "resolve", "manual": "manual"}


def _notify_supervisors(rows: list[tuple[int, int, object]], *, day: dt.date) -> int:
    """One notification per (supervisor, complaint, lateness) to every supervisor of the complaint's branch (the
    supervisors of its account managers): one query for the supervisors, one insert."""
    if not rows:
        return 0
    region_ids = {region_id for _c, region_id, _l in rows}
    supervisors: dict[int, set[int]] = {}
    for region_id, user_id in (
        AccountManager.objects.filter(region_id__in=region_ids, supervisor__isnull=False)
        .values_list("region_id", "supervisor_id")
        .distinct()
    ):
        supervisors.setdefault(region_id, set()).add(user_id)
    texts = {
        1: "Complaint #%s is late to be acknowledged: escalated to you.",
        2: "Complaint #%s is late for its reply to the customer: escalated to you.",
        3: "Complaint #%s is late to be resolved: escalated to you.",
        "manual": "Complaint #%s was escalated to you.",
    }
    notes = [
        Notification(
            user_id=user_id,
            kind=f"complaint:{cid}:{_LEVEL_NAMES[level]}"[:30],
            text=texts[level] % cid,
            link=desk_link(cid),
            day=day,
        )
        for cid, region_id, level in rows
        for user_id in sorted(supervisors.get(region_id, ()))
    ]
    Notification.objects.bulk_create(notes, ignore_conflicts=True)
    return len(notes)


@transaction.atomic
def complaints_escalate_late(*, at: dt.datetime) -> dict[str, int]:
    """Escalate every open complaint late at `at` for a deadline it was not yet escalated for (acknowledge, reply,
    resolve): state `escalated`, the flag, the lateness, a step and an audit row each, and a notification to the
    supervisors of its branch. Set-based: a fixed number of statements whatever the number of complaints. Run by the
    daily job and by the frequent beat task (the hour-level deadlines); idempotent for the same `at`."""
    today = timezone.localdate(at)
    late = {
        Lateness.RESOLVE: Q(resolved_at__isnull=True, resolve_due_on__lt=today),
        Lateness.REPLY: Q(replied_at__isnull=True, reply_due_at__lt=at),
        Lateness.ACKNOWLEDGE: Q(acknowledged_at__isnull=True, ack_due_at__lt=at),
    }
    candidates = Complaint.objects.filter(state__in=OPEN_STATES).filter(
        Q(late[Lateness.RESOLVE]) | Q(late[Lateness.REPLY]) | Q(late[Lateness.ACKNOWLEDGE])
    )
    picked: dict[int, tuple[int, int, str, int]] = {}
    for level in (Lateness.RESOLVE, Lateness.REPLY, Lateness.ACKNOWLEDGE):  # the latest deadline missed wins
        rows = (
            candidates.filter(late[level], lateness__lt=level)
            .select_for_update(skip_locked=True)
            .values_list("pk", "region_id", "state", "customer_id")
        )
        for pk, region_id, state, customer_id in rows:
            picked.setdefault(pk, (int(level), region_id, state, customer_id))
    counts = {"escalated": 0, "notified": 0}
    if not picked:
        return counts
    for level in (Lateness.RESOLVE, Lateness.REPLY, Lateness.ACKNOWLEDGE):
        ids = [pk for pk, (lv, *_rest) in picked.items() if lv == level]
        if ids:
            Complaint.objects.filter(pk__in=ids).update(
                state=ComplaintState.ESCALATED, escalated=True, lateness=int(level), updated_at=at
            )
            Complaint.objects.filter(pk__in=ids, escalated_at__isnull=True).update(escalated_at=at)
    ComplaintStep.objects.bulk_create(
        [
            ComplaintStep(
                complaint_id=pk,
                action=StepAction.ESCALATED,
                from_state=state,
                to_state=ComplaintState.ESCALATED,
                actor_label="system",
                at=at,
                note=str(Lateness(level).label),
            )
            for pk, (level, _region, state, _customer) in picked.items()
        ]
    )
    from core.models import ActionLog, OutboxEvent

    ActionLog.objects.bulk_create(
        [
            ActionLog(
                at=at,
                actor="system",
                action="complaint_escalated",
                app_label="service",
                model="complaint",
                object_id=str(pk),
                details={"from_state": state, "lateness": _LEVEL_NAMES[level]},
            )
            for pk, (level, _region, state, _customer) in picked.items()
        ]
    )
    msisdns = dict(Customer.objects.filter(pk__in={c for *_r, c in picked.values()}).values_list("pk", "msisdn"))
    OutboxEvent.objects.bulk_create(
        [
            OutboxEvent(
                type="complaint.changed",
                customer_id=customer_id,
                msisdn=msisdns[customer_id],
                occurred_at=at,
                data={"complaint": pk, "status": ComplaintState.ESCALATED.value},
            )
            for pk, (_level, _region, _state, customer_id) in sorted(picked.items())
        ]
    )
    counts["escalated"] = len(picked)
    counts["notified"] = _notify_supervisors(
        [(pk, region_id, level) for pk, (level, region_id, _s, _c) in picked.items()], day=today
    )
    logger.info("Complaints escalated at %s: %s", at.isoformat(), counts)
    return counts


def owner_by_username(username: str):
    """The active login named `username`, or a 400 naming the field."""
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise InvalidInput(f"No active login {username!r}.", fields={"owner": ["unknown or inactive login"]})
    return user
