"""Reads of club activities (DOMAIN §10): the activities a user may see (club-wide ones and those of her branches:
a manager's branch is her own region, a supervisor's the regions of her managers), the desk's list of a manager's
invited members with their sign-ups, and the report of sign-ups, attendance and cost per tier and branch
(aggregated in the database: a fixed number of queries)."""

import datetime as dt
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Prefetch, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from core.errors import NotFoundError
from customers.models import Region
from managers import selectors as manager_selectors
from managers.models import AccountManager
from tiers.models import Tier

from .models import SEAT_STATES, Activity, ActivityStatus, ActivityTierQuota, Signup, SignupStatus


def _visible_regions(user) -> tuple[int, ...] | None:
    """None: every branch; else the branches whose activities she sees (besides the club-wide ones)."""
    scope = manager_selectors.customer_scope(user)
    if scope.everyone:
        return None
    if scope.region_ids is not None:
        return scope.region_ids
    if scope.manager_id is not None:
        return tuple(AccountManager.objects.filter(pk=scope.manager_id).values_list("region_id", flat=True))
    return ()


def with_counts(qs: QuerySet) -> QuerySet:
    return qs.annotate(
        waitlisted=Count("signups", filter=Q(signups__status=SignupStatus.WAITLISTED)),
    ).prefetch_related(Prefetch("quotas", queryset=ActivityTierQuota.objects.select_related("tier")))


def activity_list(*, user, filters=None) -> QuerySet:
    """The published (and past) activities she may see, the next first; `open_at` (a datetime): only those whose
    sign-up window is open then; `region` (code): that branch's and the club-wide ones."""
    filters = filters or {}
    qs = Activity.objects.exclude(status=ActivityStatus.DRAFT).select_related("region")
    regions = _visible_regions(user)
    if regions is not None:
        qs = qs.filter(Q(region__isnull=True) | Q(region_id__in=regions))
    if filters.get("region"):
        qs = qs.filter(Q(region__isnull=True) | Q(region__code=filters["region"]))
    if filters.get("open_at"):
        at = filters["open_at"]
        qs = qs.filter(status=ActivityStatus.PUBLISHED, signup_opens_at__lte=at, signup_closes_at__gt=at)
    if filters.get("after"):
        qs = qs.filter(starts_at__gte=filters["after"])
    return with_counts(qs).order_by("starts_at", "id")


def activity_get(*, activity_id: int, user) -> Activity:
    """An activity she may see, or a 404 `unknown_activity` (a draft, another branch's, none)."""
    activity = activity_list(user=user).filter(pk=activity_id).first()
    if activity is None:
        raise NotFoundError(f"No activity {activity_id}.", code="unknown_activity")
    return activity


def signup_of(*, activity: Activity, customer) -> Signup | None:
    return Signup.objects.filter(activity=activity, customer=customer).first()


# --- the desk -------------------------------------------------------------------------------------------------------


def desk_activities(*, manager: AccountManager, at: dt.datetime, past_days: int = 14) -> list[Activity]:
    """The activities of her branch and club-wide that are open, coming, or held within `past_days` (attendance)."""
    qs = (
        Activity.objects.filter(status=ActivityStatus.PUBLISHED, starts_at__gte=at - dt.timedelta(days=past_days))
        .filter(Q(region__isnull=True) | Q(region_id=manager.region_id))
        .select_related("region")
    )
    return list(with_counts(qs).order_by("starts_at", "id")[:20])


def desk_members(*, activity: Activity, manager: AccountManager, limit: int = 200) -> list:
    """Her members the activity invites (an invited tier, its branch or club-wide) with their sign-up (or None),
    the signed-up first: two queries."""
    from customers.models import Customer

    tier_ids = [q.tier_id for q in activity.quotas.all()]
    customers = Customer.objects.filter(
        assignments__manager=manager,
        assignments__ended_on__isnull=True,
        tier_state__tier_id__in=tier_ids,
        status__in=("active", "suspended"),
    ).select_related("tier_state__tier")
    if activity.region_id is not None:
        customers = customers.filter(region_id=activity.region_id)
    rows = list(customers.order_by("name", "id")[:limit])
    signups = {s.customer_id: s for s in Signup.objects.filter(activity=activity, customer__in=[c.pk for c in rows])}
    for c in rows:
        c.signup = signups.get(c.pk)
    order = {SignupStatus.CONFIRMED: 0, SignupStatus.ATTENDED: 0, SignupStatus.NO_SHOW: 0, SignupStatus.WAITLISTED: 1}
    rows.sort(key=lambda c: order.get(c.signup.status, 2) if c.signup else 3)
    return rows


# --- the report -----------------------------------------------------------------------------------------------------

MONEY = DecimalField(max_digits=14, decimal_places=2)


def activity_report(*, year: int, region_ids: list[int] | None) -> dict:
    """Activities starting in `year` (not cancelled): per branch and tier of the members, the sign-ups (seats
    taken), waitlisted, cancelled, attended, no-shows, the attendance rate and the cost (cost per head × seats
    taken, and × attendees); per activity the same totals. `region_ids` None: every branch."""
    start = dt.date(year, 1, 1)
    signups = Signup.objects.filter(
        activity__starts_at__date__gte=start,
        activity__starts_at__date__lt=dt.date(year + 1, 1, 1),
    ).exclude(activity__status=ActivityStatus.CANCELLED)
    if region_ids is not None:
        signups = signups.filter(region_id__in=region_ids)
    seat = Q(status__in=SEAT_STATES)
    cost = ExpressionWrapper(F("activity__cost_per_head"), output_field=MONEY)
    aggregates = {
        "seats": Count("id", filter=seat),
        "waitlisted": Count("id", filter=Q(status=SignupStatus.WAITLISTED)),
        "cancelled": Count("id", filter=Q(status=SignupStatus.CANCELLED)),
        "attended": Count("id", filter=Q(status=SignupStatus.ATTENDED)),
        "no_show": Count("id", filter=Q(status=SignupStatus.NO_SHOW)),
        "cost": Coalesce(Sum(cost, filter=seat), Value(Decimal("0.00")), output_field=MONEY),
        "attended_cost": Coalesce(
            Sum(cost, filter=Q(status=SignupStatus.ATTENDED)), Value(Decimal("0.00")), output_field=MONEY
        ),
    }
    grouped = list(signups.values("region_id", "tier_id").annotate(**aggregates).order_by("region_id", "tier_id"))
    per_activity = list(signups.values("activity_id").annotate(**aggregates).order_by("activity_id"))
    for r in (*grouped, *per_activity):  # SQLite sums decimals as numbers: back to yuan with two places
        r["cost"], r["attended_cost"] = _money(r["cost"]), _money(r["attended_cost"])
    regions = Region.objects.in_bulk({r["region_id"] for r in grouped})
    tiers = Tier.objects.in_bulk({r["tier_id"] for r in grouped})
    activities = Activity.objects.select_related("region").in_bulk({r["activity_id"] for r in per_activity})
    rows = []
    for r in grouped:
        rows.append({**r, "region": regions[r["region_id"]], "tier": tiers[r["tier_id"]], **_rates(r)})
    rows.sort(key=lambda r: (r["region"].code, -r["tier"].rank))
    by_activity = [{**r, "activity": activities[r["activity_id"]], **_rates(r)} for r in per_activity]
    by_activity.sort(key=lambda r: (r["activity"].starts_at, r["activity"].pk))
    keys = ("seats", "waitlisted", "cancelled", "attended", "no_show", "cost", "attended_cost")
    totals = {k: sum((r[k] for r in rows), Decimal("0.00") if "cost" in k else 0) for k in keys}
    totals.update(_rates(totals))
    by_tier: dict[int, dict] = {}
    for r in rows:
        t = by_tier.setdefault(r["tier"].pk, {"tier": r["tier"], **dict.fromkeys(keys, 0)})
        for k in keys:
            t[k] += r[k]
    tier_rows = sorted(by_tier.values(), key=lambda t: -t["tier"].rank)
    for t in tier_rows:
        t.update(_rates(t))
    return {"year": year, "rows": rows, "activities": by_activity, "tiers": tier_rows, "totals": totals}


def _money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def _rates(row: dict) -> dict:
    """Attendance rate: attended of the seats whose attendance is recorded (attended + did not come)."""
    recorded = row["attended"] + row["no_show"]
    return {"attendance_rate": round(100 * row["attended"] / recorded, 1) if recorded else None}
