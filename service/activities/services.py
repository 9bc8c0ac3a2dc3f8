"""Every write of club activities (DOMAIN §10). Keyword-only, atomic, with the acting user and the business time
`at` (never the clock), an audit row each (core.actors.record).

Seats are exact under concurrency without a lock held in Python: a sign-up takes a seat with two conditional
UPDATEs, the activity's `confirmed < capacity` first, then her tier's `confirmed < seats` (ARCHITECTURE "Benefit
quota", as benefits.services.benefit_redeem does); zero rows means full, and the activity's seat is given back in
the same transaction when the tier is full. Every writer takes the activity's row before a quota row (the same
order everywhere: no deadlock). Over capacity (or over her tier's quota) she is waitlisted with the next number of
the activity's waitlist sequence; a seat that frees (a cancellation, a larger capacity) goes to the first waiting
member whose tier still has room, by the same conditional UPDATEs.

- `activity_save`: create or change an activity of the catalogue with its invited tiers' quotas (the admin): the
  seat counters and the state are never written from the form, a capacity or quota below the seats confirmed is
  refused, and one audit row names who and each field and quota before → after;
- `activity_publish`: draft → published; every invited member's account manager owes her a call, due the day the
  sign-up closes (managers.services.activity_invitations_open: one INSERT … SELECT);
- `activity_signup`: 409 `signup_closed` outside the window, `not_invited` for a member of a tier or branch not
  invited (or not a member); confirmed or waitlisted; signing up again answers the sign-up she has;
- `signup_cancel`: frees her seat and promotes the first waiting member who fits;
- `activity_promote`: fills the free seats from the waitlist, in order;
- `signups_attendance`: after the day, attended or did not come;
- `activity_cancel`: the activity is off: sign-ups cancelled, invitations no longer owed."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.actors import actor_label, record
from core.errors import InvalidInput, NotFoundError, RuleViolation
from customers.models import Customer
from managers import selectors as manager_selectors
from managers import services as manager_services
from tiers.models import CustomerTier

from .models import (
    ACTIVE_STATES,
    SEAT_STATES,
    Activity,
    ActivityStatus,
    ActivityTierQuota,
    Signup,
    SignupChannel,
    SignupStatus,
)

MEMBER_STATUSES = ("active", "suspended")
PROMOTE_ATTEMPTS = 50  # a promotion that loses every race this often gives up (the next cancellation tries again)


@dataclass
class SignupResult:
    signup: Signup
    created: bool  # False: she was already signed up (the answer is her sign-up as it is)
    position: int | None = None  # her place on the waitlist (1 = next), when waitlisted


@dataclass
class CancelResult:
    signup: Signup
    promoted: list[Signup] = field(default_factory=list)


def period_of(activity: Activity) -> str:
    """The invitations' obligation period (unique per customer and kind)."""
    return f"act{activity.pk}"


def _user(actor):
    return actor if getattr(actor, "pk", None) and hasattr(actor, "get_username") else None


def _locked(activity: Activity) -> Activity:
    return Activity.objects.select_for_update().get(pk=activity.pk)


# --- the catalogue ------------------------------------------------------------------------------------------------

# The fields staff edit (the admin's form); the seat counters, the waitlist's sequence and the state are the
# services' own and are never written from a form (a sign-up at the same moment would be overwritten).
CATALOGUE_FIELDS = (
    "title",
    "kind",
    "starts_at",
    "place",
    "region",
    "capacity",
    "signup_opens_at",
    "signup_closes_at",
    "cost_per_head",
    "description",
)


def _audit_value(activity: Activity, name: str):
    """A catalogue field as the audit row keeps it (JSON): times in the club's zone to the minute, the branch by
    its code, money as a decimal string."""
    value = getattr(activity, name)
    if name == "region":
        return value.code if value is not None else None
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat(timespec="minutes")
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return value


def _quotas_save(activity: Activity, quotas: dict) -> dict[str, list]:
    """Make the activity's invited tiers `quotas` ({Tier: seats or None}); {tier code: [before, after]} of what
    changed: [None, seats] a tier invited now, [seats, "removed"] one no longer invited (refused while it has seats
    confirmed), [before, after] a quota changed (never below its seats confirmed; its counter is never written)."""
    current = {
        q.tier_id: q
        for q in ActivityTierQuota.objects.select_for_update().filter(activity=activity).select_related("tier")
    }
    wanted = {tier.pk: (tier, seats) for tier, seats in quotas.items()}
    changes: dict[str, list] = {}
    for tier_id, quota in current.items():
        if tier_id in wanted:
            continue
        if quota.confirmed:
            raise InvalidInput(
                f"{quota.confirmed} seats of the tier {quota.tier.code} are confirmed: it stays invited.",
                fields={"quotas": [f"{quota.tier.code}: {quota.confirmed} seats confirmed"]},
            )
        quota.delete()
        changes[quota.tier.code] = [quota.seats, "removed"]
    for tier_id, (tier, seats) in wanted.items():
        quota = current.get(tier_id)
        if quota is None:
            ActivityTierQuota.objects.create(activity=activity, tier=tier, seats=seats)
            changes[tier.code] = [None, seats]
        elif quota.seats != seats:
            if seats is not None and seats < quota.confirmed:
                raise InvalidInput(
                    f"{quota.confirmed} seats of the tier {tier.code} are already confirmed.",
                    fields={"quotas": [f"{tier.code}: at least {quota.confirmed}"]},
                )
            ActivityTierQuota.objects.filter(pk=quota.pk).update(seats=seats)  # never its counter
            changes[tier.code] = [quota.seats, seats]
    return changes


@transaction.atomic
def activity_save(*, activity: Activity, quotas: dict | None = None, at: dt.datetime, actor) -> dict:
    """Create (no pk) or change an activity of the catalogue at `at`, with its invited tiers' seat quotas (`quotas`
    {Tier: seats or None}; None: left as they are). Only the catalogue's fields are written: the seats confirmed,
    the waitlist's sequence and the state stay the services' (a sign-up at the same moment is never overwritten).
    A capacity or a quota below the seats already confirmed is refused (400). One audit row, `activity_created` or
    `activity_changed` (none when nothing changed), with who and `changes` {field: [before, after]} and `quotas`
    {tier code: [before, after]}. A published activity's larger capacity or quota moves its waitlist up
    (`activity_promote`). Returns {"created", "changes", "quotas", "promoted"}."""
    created = activity.pk is None
    if created:
        activity.created_by = activity.created_by or _user(actor)
        activity.save()
        changes = {name: [None, _audit_value(activity, name)] for name in CATALOGUE_FIELDS}
    else:
        before = Activity.objects.select_for_update(of=("self",)).select_related("region").get(pk=activity.pk)
        if activity.capacity < before.confirmed:
            raise InvalidInput(
                f"{before.confirmed} seats are already confirmed: the capacity cannot be lower.",
                fields={"capacity": [f"at least {before.confirmed}"]},
            )
        changes = {
            name: [_audit_value(before, name), _audit_value(activity, name)]
            for name in CATALOGUE_FIELDS
            if _audit_value(before, name) != _audit_value(activity, name)
        }
        if changes:
            activity.save(update_fields=[*CATALOGUE_FIELDS, "updated_at"])
        for name in ("confirmed", "waitlist_seq", "status", "published_at", "created_by_id"):
            setattr(activity, name, getattr(before, name))
    quota_changes = _quotas_save(activity, quotas) if quotas is not None else {}
    promoted = []
    if changes or quota_changes:
        details = {"title": activity.title, "changes": changes}
        if quota_changes:
            details["quotas"] = quota_changes
        record(
            actor=actor, action="activity_created" if created else "activity_changed", target=activity, at=at, **details
        )
        if not created:  # a larger capacity or quota of a published activity: its waitlist moves up
            promoted = activity_promote(activity=activity, at=at, actor=actor)
    return {"created": created, "changes": changes, "quotas": quota_changes, "promoted": promoted}


@transaction.atomic
def activity_publish(*, activity: Activity, at: dt.datetime, actor) -> int:
    """Publish a draft activity at `at`: the invited members' account managers each owe a call (an obligation
    `activity_invitation` due the day the sign-up closes). Returns the invitations opened (a re-publication opens
    only those missing: members who joined an invited tier since)."""
    activity = _locked(activity)
    if activity.status == ActivityStatus.CANCELLED:
        raise RuleViolation("A cancelled activity is not published.", code="activity_cancelled")
    tier_ids = list(ActivityTierQuota.objects.filter(activity=activity).values_list("tier_id", flat=True))
    if not tier_ids:
        raise RuleViolation(
            "Invite at least one tier before publishing.", code="no_tier_invited", fields={"quotas": ["empty"]}
        )
    if at >= activity.signup_closes_at:
        raise RuleViolation("The sign-up window has already closed.", code="signup_closed")
    if activity.status == ActivityStatus.DRAFT:
        activity.status = ActivityStatus.PUBLISHED
        activity.published_at = at
        activity.save(update_fields=["status", "published_at", "updated_at"])
    invited = manager_services.activity_invitations_open(
        period=period_of(activity),
        tier_ids=tier_ids,
        region_id=activity.region_id,
        on=timezone.localdate(at),
        due_on=timezone.localdate(activity.signup_closes_at),
        note=f"{activity.title} · {timezone.localtime(activity.starts_at):%Y-%m-%d %H:%M}",
    )
    record(actor=actor, action="activity_published", target=activity, at=at, invitations=invited)
    return invited


@transaction.atomic
def activity_cancel(*, activity: Activity, at: dt.datetime, actor, note: str = "") -> int:
    """Call an activity off: its sign-ups are cancelled, its seats freed, its open invitations no longer owed."""
    activity = _locked(activity)
    if activity.status == ActivityStatus.CANCELLED:
        return 0
    cancelled = Signup.objects.filter(activity=activity, status__in=ACTIVE_STATES).update(
        status=SignupStatus.CANCELLED, cancelled_at=at
    )
    ActivityTierQuota.objects.filter(activity=activity).update(confirmed=0)
    activity.status, activity.confirmed = ActivityStatus.CANCELLED, 0
    activity.save(update_fields=["status", "confirmed", "updated_at"])
    manager_services.activity_invitations_cancel(period=period_of(activity))
    record(actor=actor, action="activity_cancelled", target=activity, at=at, signups=cancelled, note=note[:200])
    return cancelled


# --- seats ----------------------------------------------------------------------------------------------------------


def _take_seat(activity_id: int, tier_id: int) -> bool:
    """One seat of the activity and of the tier's quota, or none: two conditional UPDATEs (the activity's row
    first). No Python-side lock: the database's row lock on the UPDATE serialises the writers of one activity."""
    if not Activity.objects.filter(pk=activity_id, confirmed__lt=F("capacity")).update(confirmed=F("confirmed") + 1):
        return False
    room = Q(seats__isnull=True) | Q(confirmed__lt=F("seats"))
    if (
        ActivityTierQuota.objects.filter(activity_id=activity_id, tier_id=tier_id)
        .filter(room)
        .update(confirmed=F("confirmed") + 1)
    ):
        return True
    Activity.objects.filter(pk=activity_id).update(confirmed=F("confirmed") - 1)
    return False


def _release_seat(activity_id: int, tier_id: int) -> None:
    Activity.objects.filter(pk=activity_id, confirmed__gt=0).update(confirmed=F("confirmed") - 1)
    ActivityTierQuota.objects.filter(activity_id=activity_id, tier_id=tier_id, confirmed__gt=0).update(
        confirmed=F("confirmed") - 1
    )


def _next_waitlist_number(activity_id: int) -> int:
    Activity.objects.filter(pk=activity_id).update(waitlist_seq=F("waitlist_seq") + 1)
    return Activity.objects.filter(pk=activity_id).values_list("waitlist_seq", flat=True).get()


def waitlist_place(signup: Signup) -> int | None:
    """Her place on the waitlist (1 = the next to be promoted when a seat of her tier frees), or None."""
    if signup.status != SignupStatus.WAITLISTED or signup.position is None:
        return None
    return Signup.objects.filter(
        activity_id=signup.activity_id, status=SignupStatus.WAITLISTED, position__lte=signup.position
    ).count()


# --- sign-ups -------------------------------------------------------------------------------------------------------


def _check_invited(activity: Activity, customer: Customer) -> int:
    """Her tier id, if the activity invites her (a member of an invited tier, of its branch or club-wide); a 409
    `not_invited` naming why otherwise."""
    tier_id = CustomerTier.objects.filter(customer=customer).values_list("tier_id", flat=True).first()
    if tier_id is None or customer.status not in MEMBER_STATUSES:
        raise RuleViolation(
            f"{customer.msisdn} is not a member: only members are invited.", code="not_invited", fields={"tier": []}
        )
    if activity.region_id is not None and customer.region_id != activity.region_id:
        raise RuleViolation(
            "This activity is for the members of another branch.",
            code="not_invited",
            fields={"region": [str(activity.region_id)]},
        )
    if not ActivityTierQuota.objects.filter(activity=activity, tier_id=tier_id).exists():
        raise RuleViolation(
            "Her tier is not invited to this activity.", code="not_invited", fields={"tier": [str(tier_id)]}
        )
    return tier_id


def _check_open(activity: Activity, at: dt.datetime) -> None:
    if activity.status != ActivityStatus.PUBLISHED:
        raise RuleViolation(
            f"The activity is {activity.status}: no sign-up.",
            code="activity_cancelled" if activity.status == ActivityStatus.CANCELLED else "signup_closed",
        )
    if not activity.signup_opens_at <= at < activity.signup_closes_at:
        when = "has not opened yet" if at < activity.signup_opens_at else "has closed"
        raise RuleViolation(
            f"The sign-up {when} (open {activity.signup_opens_at.isoformat()} – {activity.signup_closes_at.isoformat()}).",
            code="signup_closed",
            fields={
                "signup_opens_at": [activity.signup_opens_at.isoformat()],
                "signup_closes_at": [activity.signup_closes_at.isoformat()],
            },
        )


@transaction.atomic
def activity_signup(
    *, activity: Activity, customer: Customer, at: dt.datetime, actor, channel: str = SignupChannel.API
) -> SignupResult:
    """Sign a member up at `at`: a seat if the capacity and her tier's quota have one (confirmed), else the waitlist
    (waitlisted, with her place). Exact under concurrency (module docstring). Signing up again answers the sign-up
    she has (`created` False); one she cancelled is renewed at the end of the line."""
    if channel not in SignupChannel.values:
        raise InvalidInput(f"Unknown channel {channel!r}.", fields={"channel": [f"one of {SignupChannel.values}"]})
    activity = Activity.objects.get(pk=activity.pk)
    _check_open(activity, at)
    tier_id = _check_invited(activity, customer)
    existing = Signup.objects.filter(activity=activity, customer=customer).first()
    if existing is not None and existing.status != SignupStatus.CANCELLED:
        return SignupResult(existing, created=False, position=waitlist_place(existing))
    fields = {
        "tier_id": tier_id,
        "region_id": customer.region_id,
        "status": SignupStatus.WAITLISTED,
        "position": None,
        "channel": channel,
        "by": _user(actor),
        "by_label": actor_label(actor),
        "signed_up_at": at,
        "confirmed_at": None,
        "cancelled_at": None,
        "attendance_at": None,
    }
    if existing is None:
        try:
            with transaction.atomic():
                signup = Signup.objects.create(activity=activity, customer=customer, **fields)
        except IntegrityError:  # the same member signed up at the same moment: hers is the answer
            signup = Signup.objects.get(activity=activity, customer=customer)
            return SignupResult(signup, created=False, position=waitlist_place(signup))
    else:
        if not Signup.objects.filter(pk=existing.pk, status=SignupStatus.CANCELLED).update(**fields):
            signup = Signup.objects.get(pk=existing.pk)
            return SignupResult(signup, created=False, position=waitlist_place(signup))
        signup = Signup.objects.get(pk=existing.pk)
    if _take_seat(activity.pk, tier_id):
        signup.status, signup.confirmed_at = SignupStatus.CONFIRMED, at
    else:
        signup.position = _next_waitlist_number(activity.pk)
    signup.save(update_fields=["status", "confirmed_at", "position"])
    manager_services.activity_invitation_close(customer=customer, period=period_of(activity), at=at)
    record(
        actor=actor,
        action="activity_signup",
        target=signup,
        at=at,
        activity=activity.pk,
        status=signup.status,
        channel=channel,
        position=signup.position,
    )
    return SignupResult(signup, created=True, position=waitlist_place(signup))


@transaction.atomic
def signup_cancel(*, activity: Activity, customer: Customer, at: dt.datetime, actor) -> CancelResult:
    """Cancel her sign-up at `at` (until the activity starts): a confirmed seat frees and goes to the first waiting
    member who fits (her tier's quota), in the same transaction."""
    activity = Activity.objects.get(pk=activity.pk)
    signup = Signup.objects.filter(activity=activity, customer=customer, status__in=ACTIVE_STATES).first()
    if signup is None:
        raise NotFoundError(f"{customer.msisdn} is not signed up for this activity.", code="not_signed_up")
    if at >= activity.starts_at:
        raise RuleViolation("The activity has started: record attendance instead.", code="activity_started")
    was = signup.status
    if not Signup.objects.filter(pk=signup.pk, status=was).update(status=SignupStatus.CANCELLED, cancelled_at=at):
        raise RuleViolation("The sign-up changed at the same moment; try again.", code="signup_changed")
    promoted = []
    if was == SignupStatus.CONFIRMED:
        _release_seat(activity.pk, signup.tier_id)
        promoted = _promote(activity, at=at, actor=actor)
    signup.refresh_from_db()
    record(
        actor=actor,
        action="activity_signup_cancelled",
        target=signup,
        at=at,
        activity=activity.pk,
        was=was,
        promoted=[p.pk for p in promoted],
    )
    return CancelResult(signup, promoted)


def _promote(activity: Activity, *, at: dt.datetime, actor) -> list[Signup]:
    """Free seats to the waitlist, first come first served among those whose tier still has room."""
    promoted: list[Signup] = []
    for _attempt in range(PROMOTE_ATTEMPTS):
        if not Activity.objects.filter(pk=activity.pk, confirmed__lt=F("capacity")).exists():
            break
        room = ActivityTierQuota.objects.filter(activity_id=activity.pk).filter(
            Q(seats__isnull=True) | Q(confirmed__lt=F("seats"))
        )
        candidate = (
            Signup.objects.filter(
                activity_id=activity.pk,
                status=SignupStatus.WAITLISTED,
                position__isnull=False,
                tier_id__in=room.values("tier_id"),
            )
            .order_by("position", "id")
            .first()
        )
        if candidate is None:
            break
        if not _take_seat(activity.pk, candidate.tier_id):
            continue
        if not Signup.objects.filter(pk=candidate.pk, status=SignupStatus.WAITLISTED).update(
            status=SignupStatus.CONFIRMED, confirmed_at=at
        ):
            _release_seat(activity.pk, candidate.tier_id)  # she cancelled at the same moment
            continue
        candidate.status, candidate.confirmed_at = SignupStatus.CONFIRMED, at
        promoted.append(candidate)
    if promoted:
        _tell_managers(activity, promoted, at=at)
        for signup in promoted:
            record(actor=actor, action="activity_signup_promoted", target=signup, at=at, activity=activity.pk)
    return promoted


def _tell_managers(activity: Activity, promoted: list[Signup], *, at: dt.datetime) -> None:
    """Her account manager learns she moved up from the waitlist (the desk's bell)."""
    day = timezone.localdate(at)
    customers = Customer.objects.filter(pk__in=[s.customer_id for s in promoted]).only("pk", "name")
    names = {c.pk: c.name for c in customers}
    for signup in promoted:
        assignment = manager_selectors.active_assignment(Customer(pk=signup.customer_id))
        if assignment is None:
            continue
        manager_services.notifications_send(
            user_ids=[assignment.manager.user_id],
            kind=f"activity:{activity.pk}:{signup.pk}",
            text=f"{names.get(signup.customer_id, '')}: a seat at “{activity.title}” (off the waitlist).",
            link="/dashboard/activities/",
            day=day,
        )


@transaction.atomic
def activity_promote(*, activity: Activity, at: dt.datetime, actor) -> list[Signup]:
    """Fill the free seats (e.g. after a larger capacity or quota) from the waitlist, in order."""
    activity = Activity.objects.get(pk=activity.pk)
    if activity.status != ActivityStatus.PUBLISHED or at >= activity.starts_at:
        return []
    return _promote(activity, at=at, actor=actor)


@transaction.atomic
def signups_attendance(*, activity: Activity, signup_ids: list[int], attended: bool, at: dt.datetime, actor) -> int:
    """After the day: the given seats attended (or did not come). Corrections allowed (attended ↔ did not come);
    waitlisted and cancelled sign-ups are left alone. Returns the sign-ups marked."""
    activity = Activity.objects.get(pk=activity.pk)
    if at < activity.starts_at:
        raise RuleViolation(
            "Attendance is recorded once the activity has taken place.",
            code="not_yet_held",
            fields={"starts_at": [activity.starts_at.isoformat()]},
        )
    status = SignupStatus.ATTENDED if attended else SignupStatus.NO_SHOW
    marked = Signup.objects.filter(activity=activity, pk__in=list(signup_ids), status__in=SEAT_STATES).update(
        status=status, attendance_at=at
    )
    record(
        actor=actor,
        action="activity_attendance",
        target=activity,
        at=at,
        status=status,
        signups=sorted(int(i) for i in signup_ids)[:500],
        marked=marked,
    )
    return marked
