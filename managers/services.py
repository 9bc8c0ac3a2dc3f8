"""Every write of the managers app (DOMAIN §4). Keyword-only, atomic, with the acting user."""

import datetime as dt
import heapq
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy, ngettext_lazy
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from core.actors import record
from core.errors import InvalidInput, RuleViolation
from core.models import ActionLog, OutboxEvent
from core.permissions import ACCOUNT_MANAGERS_GROUP
from core.sql import Params
from customers import services as customer_services
from customers.models import Customer, Region
from tiers.models import CustomerTier

from . import rules
from .calendar import WorkCalendar
from .models import (
    AccountManager,
    Assignment,
    CalendarYear,
    CardState,
    ContactLog,
    DeliveryMode,
    MembershipCard,
    Notification,
    Obligation,
    ObligationKind,
    ObligationStatus,
    PlanStatus,
    ServicePlan,
    WorkingDayOverride,
    WorkLog,
)
from .signals import customers_reassigned

logger = logging.getLogger(__name__)
OPEN_STATES = (ObligationStatus.OPEN, ObligationStatus.OVERDUE)


@transaction.atomic
def manager_upsert(
    *,
    employee_no: str,
    username: str,
    name: str,
    region: str,
    capacity: int,
    active: bool = True,
    supervisor: str | None = None,
    actor=None,
) -> tuple[AccountManager, bool]:
    """Create or update an account manager by employee number. A new manager gets a new login (never another
    user's: `admin` or a supervisor must not become somebody's manager account); an existing one keeps hers, and
    may rename it to a username nobody has. Her login is in the account managers' role group."""
    User = get_user_model()
    problems = {}
    region_obj = Region.objects.filter(code=region).first()
    if region_obj is None:
        problems["region"] = [f"Unknown region {region!r}."]
    supervisor_obj = None
    if supervisor:
        supervisor_obj = User.objects.filter(username=supervisor).first()
        if supervisor_obj is None:
            problems["supervisor"] = [f"No user {supervisor!r}."]
    manager = AccountManager.objects.select_for_update().select_related("user").filter(employee_no=employee_no).first()
    holder = User.objects.filter(username=username).exclude(pk=manager.user_id if manager else None).first()
    if holder is not None:
        other = AccountManager.objects.filter(user=holder).first()
        problems["username"] = [
            f"{username!r} is the login of manager {other.employee_no}."
            if other
            else f"{username!r} is another user's login: a manager's login is her own (choose a new username)."
        ]
    if problems:
        raise InvalidInput("The account manager cannot be saved.", fields=problems)
    created = manager is None
    try:
        with transaction.atomic():  # a login taken meanwhile (two requests racing) is the same 400, not a 500
            if created:
                user = User.objects.create_user(username=username, first_name=name)  # unusable password
                manager = AccountManager(employee_no=employee_no, user=user)
            elif manager.user.username != username:
                manager.user.username = username
                manager.user.save(update_fields=["username"])
    except IntegrityError as exc:
        raise InvalidInput(
            "The account manager cannot be saved.", fields={"username": [f"{username!r} is another user's login."]}
        ) from exc
    manager.name, manager.region, manager.capacity = name, region_obj, capacity
    manager.active, manager.supervisor = active, supervisor_obj
    manager._history_user = actor if getattr(actor, "pk", None) else None  # who, in the manager's history
    manager.save()
    manager_login_role(manager=manager)
    return manager, created


def manager_login_role(*, manager: AccountManager) -> None:
    """Her login joins the account managers' role group (core.permissions), unless it is staff (a staff login is
    a club admin or a supervisor, or nobody)."""
    if not manager.user.is_staff:
        manager.user.groups.add(Group.objects.get_or_create(name=ACCOUNT_MANAGERS_GROUP)[0])


def _first_contact_due(calendar: WorkCalendar, on: dt.date, cache: dict) -> dt.date:
    if on not in cache:
        cache[on] = calendar.add_working_days(on, rules.FIRST_CONTACT_WORKING_DAYS)
    return cache[on]


def _last_assignment_id() -> int:
    return Assignment.objects.aggregate(last=Max("id"))["last"] or 0


def _assigned_events(*, after_id: int, reason: str, on: dt.date) -> None:
    """A `manager.assigned {manager}` outbound event (DOMAIN §11) per active assignment made since `after_id` (for
    `reason`, starting `on`), in one INSERT … SELECT in the assignments' transaction; `manager` is the employee
    number, as the API addresses account managers."""
    p = Params()
    data = p.d.json_object({"manager": "m.employee_no"})
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {OutboxEvent._meta.db_table} (type, customer_id, msisdn, occurred_at, data, created_at)
            SELECT 'manager.assigned', a.customer_id, c.msisdn, {p.d.now}, {data}, {p.d.now}
            FROM {Assignment._meta.db_table} a
            JOIN {Customer._meta.db_table} c ON c.id = a.customer_id
            JOIN {AccountManager._meta.db_table} m ON m.id = a.manager_id
            WHERE a.id > {p(after_id)} AND a.ended_on IS NULL AND a.reason = {p(reason)} AND a.started_on = {p(on)}
            ORDER BY a.customer_id""",
            p,
        )


@transaction.atomic
def assignments_for_new_members(*, on: dt.date) -> int:
    """Give every member without an active assignment a manager of her branch: the active manager with the
    lowest load against capacity (ties: fewer members, then employee number). Opens first contacts.

    Set-based: one read of the unassigned members and of the managers' loads, a heap per region in memory,
    then bulk inserts. Members of a region without an active manager stay unassigned (logged)."""
    active = Assignment.objects.filter(customer_id=OuterRef("customer_id"), ended_on__isnull=True)
    unassigned = (
        CustomerTier.objects.filter(tier__isnull=False, customer__status__in=("active", "suspended"))
        .filter(~Exists(active))
        .values_list("customer_id", "customer__region_id")
        .order_by("customer_id")
    )
    by_region: dict[int, list[int]] = {}
    for customer_id, region_id in unassigned.iterator(chunk_size=10_000):
        by_region.setdefault(region_id, []).append(customer_id)
    if not by_region:
        return 0
    calendar = WorkCalendar.from_db()
    due = _first_contact_due(calendar, on, {})
    assignments, obligations, total = [], [], 0
    for customer_id, manager_id in _balanced(by_region):
        assignments.append(
            Assignment(customer_id=customer_id, manager_id=manager_id, started_on=on, reason="new_member")
        )
        obligations.append(
            Obligation(
                customer_id=customer_id,
                manager_id=manager_id,
                kind=ObligationKind.FIRST_CONTACT,
                period=on.isoformat(),
                opened_on=on,
                due_on=due,
            )
        )
        total += 1
    last = _last_assignment_id()
    Assignment.objects.bulk_create(assignments, batch_size=5000)
    _assigned_events(after_id=last, reason="new_member", on=on)
    Obligation.objects.bulk_create(obligations, batch_size=5000, ignore_conflicts=True)
    per_manager: dict[int, int] = {}
    for assignment in assignments:
        per_manager[assignment.manager_id] = per_manager.get(assignment.manager_id, 0) + 1
    notice_members_assigned(counts=per_manager, on=on)
    return total


@transaction.atomic
def assignments_end_for_leavers(*, on: dt.date) -> int:
    """Leaving the club ends the assignment; the member's open obligations are cancelled."""
    leavers = Assignment.objects.filter(ended_on__isnull=True).filter(
        Q(customer__tier_state__isnull=True) | Q(customer__tier_state__tier__isnull=True)
    )
    customer_ids = list(leavers.values_list("customer_id", flat=True))
    if not customer_ids:
        return 0
    Assignment.objects.filter(ended_on__isnull=True, customer_id__in=customer_ids).update(
        ended_on=on, end_reason="left_club"
    )
    Obligation.objects.filter(customer_id__in=customer_ids, status__in=OPEN_STATES).exclude(
        kind=ObligationKind.RETENTION_CONTACT
    ).update(status=ObligationStatus.CANCELLED)
    return len(customer_ids)


@transaction.atomic
def assignment_end(*, customer: Customer, on: dt.date, reason: str = "closed") -> bool:
    """A customer who leaves (closure) leaves her manager at once, without waiting for the monthly run: the active
    assignment ends and her open obligations are cancelled. False when she had no active assignment. (Who closed
    her is on the closure's status change.)"""
    ended = Assignment.objects.filter(customer=customer, ended_on__isnull=True).update(ended_on=on, end_reason=reason)
    Obligation.objects.filter(customer=customer, status__in=OPEN_STATES).update(status=ObligationStatus.CANCELLED)
    return bool(ended)


@transaction.atomic
def retention_contact_open(
    *, customer: Customer, on: dt.date, period: str, due_on: dt.date | None = None
) -> Obligation | None:
    """A retention contact for the customer's account manager (DOMAIN §4): due 1 working day after `on`, or on
    `due_on` (a home visit). Idempotent per period; None when the customer has no account manager."""
    due_on = due_on or WorkCalendar.from_db().add_working_days(on, rules.RETENTION_WORKING_DAYS)
    return _open(customer, ObligationKind.RETENTION_CONTACT, period, on, due_on)


@transaction.atomic
def retention_contacts_cancel(*, customer: Customer, periods: list[str]) -> int:
    """The retention contacts of a case that ended (retained, churned) are no longer owed."""
    return Obligation.objects.filter(
        customer=customer, kind=ObligationKind.RETENTION_CONTACT, period__in=periods, status__in=OPEN_STATES
    ).update(status=ObligationStatus.CANCELLED)


@transaction.atomic
def complaint_obligation_open(
    *, customer: Customer, on: dt.date, period: str, due_on: dt.date, note: str = ""
) -> Obligation | None:
    """A member's complaint on her account manager's desk at once (DOMAIN §9): an obligation `complaint` due on
    `due_on`, idempotent per period (the complaint). None when the customer has no account manager."""
    return _open_with_note(customer, ObligationKind.COMPLAINT, period, on, due_on, note)


@transaction.atomic
def complaint_obligation_close(*, customer: Customer, period: str, at: dt.datetime, cancel: bool = False) -> int:
    """The complaint's obligation is done (it was acknowledged) or no longer owed (`cancel`)."""
    return _close_one(customer, ObligationKind.COMPLAINT, period, at, cancel=cancel)


INVITED_STATUSES = ("active", "suspended")  # the members an activity invitation goes to


@transaction.atomic
def activity_invitations_open(
    *, period: str, tier_ids: list[int], region_id: int | None, on: dt.date, due_on: dt.date, note: str = ""
) -> int:
    """A club activity's invitations (DOMAIN §10): an obligation `activity_invitation` (a call) for the account
    manager of every member of the invited tiers (of the activity's branch, or club-wide), due `due_on` (the
    sign-up close). One INSERT … SELECT whatever the number of members; idempotent per `period` (the activity):
    publishing again opens only those missing. Returns the number opened."""
    if not tier_ids:
        return 0
    p = Params()
    region = f"AND c.region_id = {p(region_id)}" if region_id is not None else ""
    sql = f"""INSERT INTO {Obligation._meta.db_table}
                  (customer_id, manager_id, kind, period, opened_on, due_on, status, note)
              SELECT t.customer_id, a.manager_id, {p(ObligationKind.ACTIVITY_INVITATION.value)}, {p(period)}, {p(on)},
                     {p(due_on)}, {p(ObligationStatus.OPEN.value)}, {p(note[:200])}
              FROM {CustomerTier._meta.db_table} t
              JOIN {Customer._meta.db_table} c ON c.id = t.customer_id
              JOIN {Assignment._meta.db_table} a ON a.customer_id = t.customer_id AND a.ended_on IS NULL
              WHERE t.tier_id IN {p.in_list(sorted(set(tier_ids)))} AND c.status IN {p.in_list(INVITED_STATUSES)}
                {region}
              ORDER BY t.customer_id
              ON CONFLICT (customer_id, kind, period) DO NOTHING"""
    with connection.cursor() as cursor:
        cursor.execute(sql, p)
        return max(cursor.rowcount, 0)


@transaction.atomic
def activity_invitation_close(*, customer: Customer, period: str, at: dt.datetime) -> int:
    """She signed up: the invitation call is no longer owed (done)."""
    return Obligation.objects.filter(
        customer=customer, kind=ObligationKind.ACTIVITY_INVITATION, period=period, status__in=OPEN_STATES
    ).update(status=ObligationStatus.DONE, done_at=at)


@transaction.atomic
def activity_invitations_cancel(*, period: str) -> int:
    """The activity was cancelled: its open invitations are no longer owed."""
    return Obligation.objects.filter(
        kind=ObligationKind.ACTIVITY_INVITATION, period=period, status__in=OPEN_STATES
    ).update(status=ObligationStatus.CANCELLED)


@transaction.atomic
def gift_arrived_open(
    *, customer: Customer, on: dt.date, period: str, due_on: dt.date, note: str = ""
) -> Obligation | None:
    """Her gift for points arrived at the hall (DOMAIN §10, 到货第一时间通知): her account manager owes her the news, an
    obligation `gift_arrived` due `due_on`, idempotent per period (the order). None when she has no account manager."""
    return _open_with_note(customer, ObligationKind.GIFT_ARRIVED, period, on, due_on, note)


@transaction.atomic
def gift_arrived_close(*, customer: Customer, period: str, at: dt.datetime, cancel: bool = False) -> int:
    """She has her gift (done), or the order was cancelled (`cancel`: no longer owed)."""
    return _close_one(customer, ObligationKind.GIFT_ARRIVED, period, at, cancel=cancel)


@transaction.atomic
def customers_reassign(
    *, customer_ids: list[int], manager: AccountManager, on: dt.date, actor=None, reason: str = "reassigned"
) -> int:
    """Move customers to another manager (one or many); their open obligations move with them."""
    if not manager.active:
        raise RuleViolation(f"{manager} is not active.", code="manager_inactive")
    # the customers first, in id order, then their assignments, obligations and cases (the lock order in core.db)
    customer_services.customers_lock(customer_ids)
    current = (
        Assignment.objects.select_for_update()
        .filter(customer_id__in=customer_ids, ended_on__isnull=True)
        .order_by("customer_id")
    )
    moving = [a for a in current if a.manager_id != manager.pk]
    other_region = Customer.objects.filter(pk__in=[a.customer_id for a in moving]).exclude(region_id=manager.region_id)
    if other_region.exists():
        raise RuleViolation(
            f"{other_region.count()} of these customers belong to another branch than {manager.region.name}.",
            code="other_region",
        )
    ids = [a.customer_id for a in moving]
    # a staff change: both the ended and the new assignments get audit rows naming the actor (bulk writes
    # fire no signals, so simple-history's bulk helpers write them); an assignment the pipeline made in bulk
    # gets its state before the change recorded first, so the audit trail shows before and after
    recorded = set(Assignment.history.filter(id__in=[a.pk for a in moving]).values_list("id", flat=True))
    Assignment.history.bulk_history_create(
        [a for a in moving if a.pk not in recorded], default_change_reason="state before the change"
    )
    for assignment in moving:
        assignment.ended_on, assignment.end_reason = on, reason
    bulk_update_with_history(
        moving, Assignment, ["ended_on", "end_reason"], default_user=actor, default_change_reason=reason
    )
    last = _last_assignment_id()
    bulk_create_with_history(
        [Assignment(customer_id=c, manager=manager, started_on=on, reason=reason) for c in ids],
        Assignment,
        default_user=actor,
        default_change_reason=reason,
    )
    if ids:
        _assigned_events(after_id=last, reason=reason, on=on)
    Obligation.objects.filter(customer_id__in=ids, status__in=OPEN_STATES).update(manager=manager)
    if ids:
        customers_reassigned.send(sender=AccountManager, customer_ids=ids, manager=manager)
        notice_members_assigned(counts={manager.pk: len(ids)}, on=on, reason="moved")
    return len(ids)


@transaction.atomic
def assignments_follow_branch(*, on: dt.date, customer_ids: list[int] | None = None) -> int:
    """Members whose branch changed are reassigned at once to a manager of their new branch (DOMAIN §4): the
    lowest-load active manager there (as new members are assigned), open obligations and cases moving along.
    `customer_ids`: only these (the customers just changed); None: every member whose manager is of another branch
    (the daily job's check). A member whose new branch has no active manager keeps hers (logged). Returns how many
    moved."""
    moved = Assignment.objects.filter(ended_on__isnull=True).exclude(customer__region_id=F("manager__region_id"))
    if customer_ids is not None:
        moved = moved.filter(customer_id__in=customer_ids)
    by_region: dict[int, list[int]] = {}
    for customer_id, region_id in moved.values_list("customer_id", "customer__region_id").order_by("customer_id"):
        by_region.setdefault(region_id, []).append(customer_id)
    if not by_region:
        return 0
    chosen: dict[int, list[int]] = {}
    for customer_id, manager_id in _balanced(by_region):
        chosen.setdefault(manager_id, []).append(customer_id)
    managers = AccountManager.objects.in_bulk(list(chosen))
    return sum(
        customers_reassign(customer_ids=ids, manager=managers[manager_id], on=on, reason="branch_changed")
        for manager_id, ids in sorted(chosen.items())
    )


def _balanced(by_region: dict[int, list[int]]):
    """(customer id, manager id) for customers by region: each to the active manager of her region with the lowest
    load against capacity at that moment (ties: fewer members, then employee number)."""
    managers = (
        AccountManager.objects.filter(active=True, region_id__in=list(by_region))
        .annotate(load=Count("assignments", filter=Q(assignments__ended_on__isnull=True)))
        .values_list("id", "region_id", "capacity", "load", "employee_no")
    )
    heaps: dict[int, list] = {}
    for manager_id, region_id, capacity, load, employee_no in managers:
        heaps.setdefault(region_id, []).append((load / capacity, load, employee_no, manager_id, capacity))
    for region_id, customer_ids in by_region.items():
        heap = heaps.get(region_id)
        if not heap:
            logger.warning(
                "Region %s has %d members to assign but no active account manager", region_id, len(customer_ids)
            )
            continue
        heapq.heapify(heap)
        for customer_id in customer_ids:
            _, load, employee_no, manager_id, capacity = heapq.heappop(heap)
            yield customer_id, manager_id
            load += 1
            heapq.heappush(heap, (load / capacity, load, employee_no, manager_id, capacity))


def active_manager_of(customer: Customer) -> AccountManager | None:
    assignment = Assignment.objects.filter(customer=customer, ended_on__isnull=True).select_related("manager").first()
    return assignment.manager if assignment else None


@transaction.atomic
def contact_log(
    *,
    customer: Customer,
    channel: str,
    outcome: str,
    note: str = "",
    occurred_at: dt.datetime,
    actor=None,
    source: str = "dashboard",
) -> tuple[ContactLog, list[int]]:
    """Log a contact with a member; close every open obligation it satisfies. Returns (log, closed ids).

    A first contact made by SMS opens the first call (3 working days after the SMS)."""
    day = timezone.localdate(occurred_at)
    manager = active_manager_of(customer)
    log = ContactLog.objects.create(
        customer=customer,
        manager=manager,
        channel=channel,
        outcome=outcome,
        note=note,
        occurred_at=occurred_at,
        logged_by=actor if getattr(actor, "pk", None) else None,
        source=source,
    )
    candidates = Obligation.objects.select_for_update().filter(
        customer=customer, status__in=OPEN_STATES, opened_on__lte=day
    )
    closed: list[int] = []
    was: dict[str, str] = {}  # obligation id: its status before this contact closed it (for the undo)
    first_contact_by_sms = False
    for obligation in candidates:
        if not rules.satisfies(obligation.kind, channel, outcome):
            continue
        if (
            obligation.kind == ObligationKind.CARD_PICKUP_NOTICE
            and not ContactLog.objects.filter(
                customer=customer, channel="sms", occurred_at__date__gte=obligation.opened_on
            )
            .exclude(pk=log.pk)
            .exists()
        ):
            continue
        was[str(obligation.pk)] = obligation.status
        obligation.status = ObligationStatus.DONE
        obligation.done_at = occurred_at
        obligation.done_by = log
        obligation.save(update_fields=["status", "done_at", "done_by"])
        closed.append(obligation.pk)
        first_contact_by_sms |= obligation.kind == ObligationKind.FIRST_CONTACT and rules.needs_first_call(
            channel, outcome
        )
    opened: list[int] = []
    if first_contact_by_sms and manager:
        due = WorkCalendar.from_db().add_working_days(day, rules.FIRST_CALL_WORKING_DAYS)
        first_call, created = Obligation.objects.get_or_create(
            customer=customer,
            kind=ObligationKind.FIRST_CALL,
            period=day.isoformat(),
            defaults={"manager": manager, "opened_on": day, "due_on": due},
        )
        if created:
            opened.append(first_call.pk)
    if was or opened:  # what an undo needs to put back
        record(actor=actor, action="contact_logged", target=log, at=log.created_at, closed=was, opened=opened)
    return log, closed


@transaction.atomic
def contact_log_undo(*, actor, log: ContactLog, at: dt.datetime) -> list[int]:
    """Undo a contact (the one-tap undo of the desk): only its author, only within rules.UNDO_SECONDS of logging it.
    Every obligation it closed is reopened exactly as it was (open or overdue, not done, by nobody), a first call it
    opened and nobody touched since is removed, and the log is deleted; an audit row `contact_undone` keeps what it
    was. Returns the ids of the obligations reopened."""
    log = ContactLog.objects.select_for_update().filter(pk=log.pk).first()
    if log is None:
        raise RuleViolation("This contact is already undone.", code="undo_gone")
    if log.logged_by_id is None or getattr(actor, "pk", None) != log.logged_by_id:
        raise RuleViolation("Only who logged a contact can undo it.", code="undo_not_author")
    if not rules.undo_open(log.created_at, at):
        raise RuleViolation(
            f"A contact can be undone for {rules.UNDO_SECONDS} seconds only; this one was logged earlier.",
            code="undo_expired",
        )
    logged = (
        ActionLog.objects.filter(
            action="contact_logged", app_label="managers", model="contactlog", object_id=str(log.pk)
        )
        .order_by("-id")
        .first()
    )
    details = logged.details if logged else {}
    was = {int(pk): status for pk, status in details.get("closed", {}).items()}
    closed = list(Obligation.objects.select_for_update().filter(done_by=log, status=ObligationStatus.DONE))
    day = timezone.localdate(log.occurred_at)
    for obligation in closed:
        previous = was.get(obligation.pk)
        if previous not in (ObligationStatus.OPEN, ObligationStatus.OVERDUE):  # closed before the audit row existed
            late = obligation.overdue_since is not None or obligation.due_on < day
            previous = ObligationStatus.OVERDUE if late else ObligationStatus.OPEN
        obligation.status, obligation.done_at, obligation.done_by = previous, None, None
    Obligation.objects.bulk_update(closed, ["status", "done_at", "done_by"])
    removed, _ = Obligation.objects.filter(
        pk__in=details.get("opened", []), status=ObligationStatus.OPEN, done_by__isnull=True
    ).delete()
    record(
        actor=actor,
        action="contact_undone",
        target=log,
        at=at,
        customer_id=log.customer_id,
        channel=log.channel,
        outcome=log.outcome,
        note=log.note,
        occurred_at=log.occurred_at.isoformat(),
        reopened=sorted(o.pk for o in closed),
        removed=removed,
    )
    log.delete()
    return sorted(o.pk for o in closed)


@transaction.atomic
def notification_read(*, notification: Notification, actor, at: dt.datetime) -> Notification:
    """Mark one of her notifications read (opening it does too); reading it again changes nothing."""
    if notification.user_id != getattr(actor, "pk", None):
        raise RuleViolation("Only its addressee reads a notification.", code="not_addressee")
    if notification.read_at is None:
        notification.read_at = at
        notification.save(update_fields=["read_at"])
        record(actor=actor, action="notification_read", target=notification, at=at)
    return notification


@transaction.atomic
def notifications_read_all(*, actor, at: dt.datetime) -> int:
    """Mark all her unread notifications read: one UPDATE, one audit row. Returns how many."""
    count = Notification.objects.filter(user=actor, read_at__isnull=True).update(read_at=at)
    if count:
        record(actor=actor, action="notifications_read_all", target=actor, at=at, count=count)
    return count


@transaction.atomic
def contacts_history_load(*, rows: list[dict], source: str, actor=None) -> dict[str, int]:
    """A history of contacts at once (an import of past work, the demo club), set-based: each row `{customer_id,
    manager_id, channel, outcome, occurred_at, note, closes}` is a contact; of the obligations its `closes` names,
    those still open, opened by the contact's day, that the contact satisfies (rules.satisfies) are done at its time,
    by it. A row may name who logged it (`logged_by_id`, default the actor) and where (`source`, default `source`).
    Card obligations are left to their own actions. Bulk inserts and bulk updates in batches; one audit row.
    Returns {"contacts": …, "closed": …}."""
    if not rows:
        return {"contacts": 0, "closed": 0}
    logs = ContactLog.objects.bulk_create(
        [
            ContactLog(
                customer_id=row["customer_id"],
                manager_id=row.get("manager_id"),
                channel=row["channel"],
                outcome=row["outcome"],
                note=row.get("note", ""),
                occurred_at=row["occurred_at"],
                logged_by_id=row.get("logged_by_id", actor.pk if getattr(actor, "pk", None) else None),
                source=row.get("source", source),
            )
            for row in rows
        ],
        batch_size=2000,
    )
    closer = {pk: log for row, log in zip(rows, logs, strict=True) for pk in row.get("closes", ())}
    closed = []
    ids = list(closer)
    for start in range(0, len(ids), 2000):
        for obligation in Obligation.objects.filter(pk__in=ids[start : start + 2000], status__in=OPEN_STATES):
            log = closer[obligation.pk]
            day = timezone.localdate(log.occurred_at)
            if obligation.kind in CARD_OBLIGATIONS or obligation.opened_on > day:
                continue
            if not rules.satisfies(obligation.kind, log.channel, log.outcome):
                continue
            obligation.status, obligation.done_at, obligation.done_by = ObligationStatus.DONE, log.occurred_at, log
            closed.append(obligation)
    Obligation.objects.bulk_update(closed, ["status", "done_at", "done_by"], batch_size=500)
    record(actor=actor, action="contacts_history_loaded", target=logs[0], source=source, contacts=len(logs))
    return {"contacts": len(logs), "closed": len(closed)}


def _open(customer: Customer, kind: str, period: str, on: dt.date, due: dt.date) -> Obligation | None:
    manager = active_manager_of(customer)
    if manager is None:
        return None
    obligation, _ = Obligation.objects.get_or_create(
        customer=customer, kind=kind, period=period, defaults={"manager": manager, "opened_on": on, "due_on": due}
    )
    return obligation


def _open_with_note(
    customer: Customer, kind: str, period: str, on: dt.date, due: dt.date, note: str
) -> Obligation | None:
    """_open, with a note naming what it is about (kept up to date when opened again)."""
    obligation = _open(customer, kind, period, on, due)
    if obligation is not None and note and obligation.note != note[:200]:
        Obligation.objects.filter(pk=obligation.pk).update(note=note[:200])
    return obligation


def _close_one(customer: Customer, kind: str, period: str, at: dt.datetime, *, cancel: bool = False) -> int:
    """The open obligation of this kind and period is done at `at`, or no longer owed (`cancel`)."""
    qs = Obligation.objects.filter(customer=customer, kind=kind, period=period, status__in=OPEN_STATES)
    if cancel:
        return qs.update(status=ObligationStatus.CANCELLED)
    return qs.update(status=ObligationStatus.DONE, done_at=at)


def _close(customer: Customer, kinds, at: dt.datetime) -> int:
    return Obligation.objects.filter(customer=customer, kind__in=kinds, status__in=OPEN_STATES).update(
        status=ObligationStatus.DONE, done_at=at
    )


@transaction.atomic
def birthday_gift_confirm(
    *, obligation: Obligation, choice: str, time_note: str, address: str, at: dt.datetime, actor=None
) -> Obligation:
    """The birthday gift is done (at `at`) when the choice, time and address are confirmed."""
    missing = {
        k: ["required"] for k, v in {"choice": choice, "time": time_note, "address": address}.items() if not v.strip()
    }
    if missing:
        raise InvalidInput("Gift choice, time and address are all needed.", fields=missing)
    if obligation.kind != ObligationKind.BIRTHDAY_GIFT or obligation.status not in OPEN_STATES:
        raise RuleViolation("This is not an open birthday-gift obligation.", code="not_open")
    obligation.status = ObligationStatus.DONE
    obligation.done_at = at
    obligation.note = f"{choice} · {time_note} · {address}"[:200]
    obligation.save(update_fields=["status", "done_at", "note"])
    record(actor=actor, action="birthday_gift_confirmed", target=obligation, at=obligation.done_at)
    return obligation


CARD_OBLIGATIONS = (
    ObligationKind.CARD_PICKUP_NOTICE,
    ObligationKind.CARD_PICKUP_REMINDER,
    ObligationKind.CARD_RECEIPT_CHECK,
    ObligationKind.CARD_DOOR_DELIVERY,
)

CARD_FLOW = {
    # action: (states it may start from, new state)
    "collect": ((CardState.COLLECTING,), CardState.COLLECTING),
    "send_to_maker": ((CardState.COLLECTING,), CardState.AT_MAKER),
    "arrive": ((CardState.AT_MAKER,), CardState.ARRIVED),
    "deliver": ((CardState.ARRIVED,), None),  # → mailed, awaiting pickup or door delivery by mode
    "receive": ((CardState.MAILED, CardState.AWAITING_PICKUP, CardState.DOOR_DELIVERY), CardState.RECEIVED),
}


@transaction.atomic
def card_start(*, customer: Customer, reissue: bool = False, actor=None) -> MembershipCard:
    """Open a membership card for a member (data is collected at first contact); one in progress at a time."""
    state = CustomerTier.objects.filter(customer=customer, tier__isnull=False).select_related("tier").first()
    if state is None:
        raise RuleViolation("Only members get a membership card.", code="not_member")
    if MembershipCard.objects.filter(customer=customer).exclude(state=CardState.RECEIVED).exists():
        raise RuleViolation("A card for this customer is already in progress.", code="card_in_progress")
    card = MembershipCard.objects.create(
        customer=customer,
        tier=state.tier,
        reissue=reissue,
        card_name=customer.name,
        landline=customer.landline,
        birthday=customer.birthday,
    )
    record(actor=actor, action="card_started", target=card, reissue=reissue)
    return card


@transaction.atomic
def card_advance(
    *,
    card: MembershipCard,
    action: str,
    on: dt.date,
    delivery_mode: str = "",
    agreed_date: dt.date | None = None,
    address: str = "",
    card_name: str = "",
    landline: str = "",
    birthday: dt.date | None = None,
    at: dt.datetime,
    actor=None,
) -> MembershipCard:
    """Move a card along: collected data → card maker → arrived (pickup notice +3 days) → mailed (receipt check
    +7 days) / self pickup (reminders by the daily job) / door delivery (due the agreed date) → received. `at`:
    when (a receipt closes the delivery obligations then)."""
    card = MembershipCard.objects.select_for_update().get(pk=card.pk)
    if action not in CARD_FLOW:
        raise InvalidInput(f"Unknown card action {action!r}.", fields={"action": [f"one of {', '.join(CARD_FLOW)}"]})
    allowed, new_state = CARD_FLOW[action]
    if card.state not in allowed:
        raise RuleViolation(
            f"Cannot {action.replace('_', ' ')} a card that is {card.get_state_display()}.", code="card_state"
        )
    customer = card.customer
    if action == "collect":
        card.card_name = card_name or card.card_name
        card.landline = landline or card.landline
        card.birthday = birthday or card.birthday
        card.address = address or card.address
    elif action == "send_to_maker":
        if not card.card_name:
            raise InvalidInput("The name on the card is missing.", fields={"card_name": ["required"]})
        card.sent_on = on
    elif action == "arrive":
        card.arrived_on = on
        _open(
            customer,
            ObligationKind.CARD_PICKUP_NOTICE,
            f"card{card.pk}",
            on,
            on + dt.timedelta(days=rules.CARD_PICKUP_NOTICE_DAYS),
        )
    elif action == "deliver":
        if delivery_mode not in DeliveryMode.values:
            raise InvalidInput("Choose how the card is delivered.", fields={"delivery_mode": list(DeliveryMode.values)})
        card.delivery_mode = delivery_mode
        if delivery_mode == DeliveryMode.MAIL:
            if not (address or card.address):
                raise InvalidInput("A mailing address is needed.", fields={"address": ["required"]})
            card.address = address or card.address
            new_state, card.mailed_on = CardState.MAILED, on
            _open(
                customer,
                ObligationKind.CARD_RECEIPT_CHECK,
                f"card{card.pk}",
                on,
                on + dt.timedelta(days=rules.CARD_RECEIPT_CHECK_DAYS),
            )
        elif delivery_mode == DeliveryMode.SELF_PICKUP:
            new_state = CardState.AWAITING_PICKUP
        else:
            if agreed_date is None:
                raise InvalidInput("Door delivery needs the agreed date.", fields={"agreed_date": ["required"]})
            new_state, card.agreed_date = CardState.DOOR_DELIVERY, agreed_date
            _open(customer, ObligationKind.CARD_DOOR_DELIVERY, f"card{card.pk}", on, agreed_date)
    elif action == "receive":
        card.received_on = on
        # receiving the card closes every card obligation still open (DOMAIN §4)
        _close(customer, CARD_OBLIGATIONS, at)
    card.state = new_state
    card.save()
    record(actor=actor, action=f"card_{action}", target=card, on=on.isoformat(), state=card.state)
    return card


@transaction.atomic
def service_plan_save(
    *, manager: AccountManager, scope: str, period_start: dt.date, content: str, submit: bool = False
) -> ServicePlan:
    if not content.strip():
        raise InvalidInput("The plan is empty.", fields={"content": ["required"]})
    plan, _ = ServicePlan.objects.select_for_update().get_or_create(
        manager=manager, scope=scope, period_start=period_start, defaults={"content": content}
    )
    if plan.status == PlanStatus.APPROVED:
        raise RuleViolation("An approved plan cannot be changed.", code="plan_approved")
    plan.content = content
    plan.status = PlanStatus.SUBMITTED if submit else PlanStatus.DRAFT
    plan.save()
    return plan


def _check_supervisor(manager: AccountManager, actor) -> None:
    if not (actor.is_superuser or manager.supervisor_id == actor.pk):
        raise RuleViolation(f"Only {manager}'s supervisor reviews this.", code="not_supervisor")


@transaction.atomic
def service_plan_review(*, plan: ServicePlan, approve: bool, at: dt.datetime, comment: str = "", actor) -> ServicePlan:
    _check_supervisor(plan.manager, actor)
    if plan.status != PlanStatus.SUBMITTED:
        raise RuleViolation("Only a submitted plan is reviewed.", code="plan_not_submitted")
    plan.status = PlanStatus.APPROVED if approve else PlanStatus.RETURNED
    plan.review_comment, plan.reviewed_by, plan.reviewed_at = comment, actor, at
    plan.save()
    if not approve:
        text = _club_text(
            gettext_lazy("Your plan from %(day)s was returned: %(comment)s"),
            day=plan.period_start.isoformat(),
            comment=comment,
        )
        link = f"{NOTICE_LINKS['plan_returned']}?plan={plan.pk}#plans"
        notices_send(rows=[(plan.manager.user_id, f"plan_returned:{plan.pk}", text, link)], on=timezone.localdate(at))
    return plan


@transaction.atomic
def work_log_save(*, manager: AccountManager, date: dt.date, content: str) -> WorkLog:
    if not content.strip():
        raise InvalidInput("The work log is empty.", fields={"content": ["required"]})
    log, _ = WorkLog.objects.update_or_create(manager=manager, date=date, defaults={"content": content})
    return log


@transaction.atomic
def work_log_review(*, log: WorkLog, comment: str, at: dt.datetime, actor) -> WorkLog:
    _check_supervisor(log.manager, actor)
    log.review_comment, log.reviewed_by, log.reviewed_at = comment, actor, at
    log.save()
    return log


@transaction.atomic
def calendar_year_import(
    *, year: int, days: list[rules.CalendarDay], replace: bool, actor, at: dt.datetime
) -> CalendarYear:
    """Load a year of the working-day calendar at once (the State Council's holidays and make-up days, parsed by
    rules.parse_calendar_lines): each day becomes a working-day override (its date's earlier one updated), with
    `replace` the year's other overrides go, and the year is marked loaded (the banner goes). All or nothing."""
    if not days:
        raise InvalidInput("The list has no days.", fields={"lines": ["no days"]})
    if any(d.date.year != year for d in days):
        raise InvalidInput(f"Every day must fall in {year}.", fields={"lines": ["other year"]})
    existing = {o.date: o for o in WorkingDayOverride.objects.select_for_update().filter(date__year=year)}
    removed = 0
    if replace:
        dropped = [o for d, o in existing.items() if d not in {day.date for day in days}]
        for override in dropped:  # a few dozen rows a year; one by one keeps their history
            override.delete()
        removed = len(dropped)
    created = updated = 0
    for day in days:
        override = existing.get(day.date)
        if override is None:
            WorkingDayOverride.objects.create(date=day.date, is_working=day.is_working, name=day.name)
            created += 1
        elif (override.is_working, override.name) != (day.is_working, day.name):
            override.is_working, override.name = day.is_working, day.name
            override.save(update_fields=["is_working", "name"])
            updated += 1
    loaded, _new = CalendarYear.objects.get_or_create(year=year, defaults={"loaded_by": actor})
    if not _new:
        loaded.loaded_by = actor
        loaded.save(update_fields=["loaded_by"])
    record(
        actor=actor,
        action="calendar_year_imported",
        target=loaded,
        at=at,
        year=year,
        days=len(days),
        off=sum(not d.is_working for d in days),
        working=sum(d.is_working for d in days),
        created=created,
        updated=updated,
        removed=removed,
    )
    return loaded


# --- notices: the in-app notifications of single events (the daily digests are managers.daily's) ----------------

NOTICE_LINKS = {  # where each notice leads (the desk's pages)
    "members_assigned": "/dashboard/customers/",
    "case_opened": "/dashboard/retention/",
    "plan_returned": "/dashboard/plans/",
}


def notices_send(*, rows: list[tuple[int, str, str, str]], on: dt.date) -> int:
    """In-app notices: (user id, kind, text, link) each, one per user, kind and day (a kind naming its object, e.g.
    "case_opened:12", makes each its own); written in the caller's transaction in one statement. The texts are in
    the club's language (settings.LANGUAGE_CODE), as the digests. Returns how many were asked for."""
    Notification.objects.bulk_create(
        [
            Notification(user_id=user_id, kind=kind[:30], text=text, link=link[:200], day=on)
            for user_id, kind, text, link in rows
        ],
        ignore_conflicts=True,
    )
    return len(rows)


def notifications_send(*, user_ids, kind: str, text: str, link: str = "", day: dt.date) -> int:
    """The same notice to several users (`notices_send`, once per user); `kind` names the thing it is about (e.g.
    `approval:points:12`), so a second call for the same thing on the same day writes nothing."""
    return notices_send(rows=[(uid, kind, text, link) for uid in sorted(set(user_ids))], on=day)


def _club_text(text, **params) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return str(text % params)


ASSIGNED_TEXTS = {
    "new_member": ngettext_lazy(
        "%(count)d new member assigned to you on %(day)s.", "%(count)d new members assigned to you on %(day)s.", "count"
    ),
    "moved": ngettext_lazy(
        "%(count)d member moved to you on %(day)s.", "%(count)d members moved to you on %(day)s.", "count"
    ),
}


def notice_members_assigned(*, counts: dict[int, int], on: dt.date, reason: str = "new_member") -> int:
    """Tell each manager how many members were just assigned to her ({manager id: count}): new members (one notice
    a day, the pipeline assigns once a day) or members moved to her (one per move)."""
    if not counts:
        return 0
    users = dict(AccountManager.objects.filter(pk__in=list(counts)).values_list("pk", "user_id"))
    tag = on.isoformat() if reason == "new_member" else str(_last_assignment_id())
    rows = [
        (
            users[manager_id],
            f"members_{reason}:{tag}",
            _club_text(ASSIGNED_TEXTS[reason], count=count, day=on.isoformat()),
            NOTICE_LINKS["members_assigned"],
        )
        for manager_id, count in sorted(counts.items())
        if manager_id in users
    ]
    return notices_send(rows=rows, on=on)


def notice_case_opened(*, user_id: int, case_id: int, name: str, reason: str, at: dt.datetime) -> int:
    """Tell the manager a member of hers asked to leave (a retention case opened for her)."""
    text = _club_text(
        gettext_lazy("%(name)s asks to close her number: a retention case is open. %(reason)s"),
        name=name,
        reason=reason,
    ).strip()
    link = f"{NOTICE_LINKS['case_opened']}#case-{case_id}"
    return notices_send(rows=[(user_id, f"case_opened:{case_id}", text, link)], on=timezone.localdate(at))
