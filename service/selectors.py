"""Reads of complaints (DOMAIN §9): scoped lists and pages (role and branch: managers.selectors.scope_rows), and the
KPIs and report per branch and month (aggregated in the database: a fixed number of queries)."""

import datetime as dt
import zoneinfo

from django.conf import settings
from django.db.models import Count, DateTimeField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import TruncDate, TruncMonth

from core.errors import NotFoundError
from core.filters import filtered
from customers.models import Region
from managers import selectors as manager_selectors
from tiers.models import CustomerTier, Tier

from . import rules
from .models import Complaint, ComplaintCategory, ComplaintPolicy

ZONE = zoneinfo.ZoneInfo(settings.TIME_ZONE)


def scope_complaints(qs: QuerySet, user) -> QuerySet:
    """The complaints this user may address: her customers' (managers.selectors.scope_rows: a supervisor her
    branches', a manager those of the members she serves), and those she owns."""
    scoped = manager_selectors.scope_rows(qs, user)
    if manager_selectors.sees_all_customers(user):
        return scoped
    return qs.filter(Q(pk__in=scoped.values("pk")) | Q(owner=user))


def _with_details(qs: QuerySet) -> QuerySet:
    return qs.select_related(
        "customer", "region", "tier", "owner", "received_by", "compensation_benefit"
    ).prefetch_related("steps")


def complaint_list(*, filters, user) -> QuerySet:
    from .filters import ComplaintFilter

    qs = _with_details(scope_complaints(Complaint.objects.all(), user)).order_by("-received_at", "-id")
    return filtered(ComplaintFilter(filters, queryset=qs))


def complaint_get(*, complaint_id, user) -> Complaint:
    """The complaint when this user may see it; a 404 otherwise (never revealing that it exists)."""
    complaint = _with_details(scope_complaints(Complaint.objects.all(), user)).filter(pk=complaint_id).first()
    if complaint is None:
        raise NotFoundError(f"No complaint {complaint_id}.", code="unknown_complaint")
    return complaint


def open_complaints_of(user, *, limit: int = 50) -> list[Complaint]:
    """The open complaints a person owns, the soonest reply deadline first."""
    return list(
        Complaint.objects.filter(owner=user, state__in=rules.OPEN)
        .select_related("customer")
        .order_by("reply_due_at", "id")[:limit]
    )


def open_complaints_for_desk(user, *, limit: int = 100) -> tuple[list[Complaint], int]:
    """The open complaints of the members this user may address (a manager: her members' and those she owns; a
    supervisor: her branches'), the soonest reply deadline first, and how many there are."""
    qs = scope_complaints(Complaint.objects.filter(state__in=rules.OPEN), user)
    rows = list(qs.select_related("customer", "owner").order_by("reply_due_at", "id")[:limit])
    return rows, (len(rows) if len(rows) < limit else qs.count())


def late_complaints_for_supervisor(user, *, at: dt.datetime, limit: int = 50) -> tuple[list[Complaint], int]:
    """A supervisor's team page: the open complaints of her branches that were escalated or are late now for a
    deadline (acknowledge, reply, resolve), the oldest receipt first, and how many there are."""
    today = at.astimezone(ZONE).date()
    late = (
        Q(escalated=True)
        | Q(state=rules.ESCALATED)
        | Q(acknowledged_at__isnull=True, ack_due_at__lt=at)
        | Q(replied_at__isnull=True, reply_due_at__lt=at)
        | Q(resolved_at__isnull=True, resolve_due_on__lt=today)
    )
    qs = scope_complaints(Complaint.objects.filter(state__in=rules.OPEN), user).filter(late)
    rows = list(qs.select_related("customer", "owner").order_by("received_at", "id")[:limit])
    return rows, (len(rows) if len(rows) < limit else qs.count())


def customer_complaints(customer, *, limit: int = 20) -> list[Complaint]:
    """A customer's complaints, the newest first (the desk's customer page)."""
    return list(
        Complaint.objects.filter(customer=customer)
        .select_related("owner", "compensation_benefit")
        .order_by("-received_at", "-id")[:limit]
    )


# --- KPIs and the report ----------------------------------------------------------------------------------


def _members_per_region(region_ids) -> dict[int, int]:
    """Members now per branch (the denominator of complaints per 1,000 members)."""
    qs = CustomerTier.objects.filter(tier__isnull=False)
    if region_ids is not None:
        qs = qs.filter(customer__region_id__in=region_ids)
    return dict(qs.values_list("customer__region_id").annotate(n=Count("pk")).order_by())


def complaint_report(*, year: int, at: dt.datetime, region_ids: list[int] | None = None) -> dict:
    """The complaints KPIs of `year` as of `at`, per month and branch: received, per 1,000 members (members now),
    acknowledged / replied / resolved on time among those whose deadline has passed or that met it, repeat
    complaints (another of the customer's within the policy's days before), escalated; and counts per category and
    per tier. Rates are percentages with one decimal, None when nothing was due."""
    policy = ComplaintPolicy.objects.filter(code="default").first() or ComplaintPolicy()
    start = dt.datetime(year, 1, 1, tzinfo=ZONE)
    end = dt.datetime(year + 1, 1, 1, tzinfo=ZONE)
    today = at.astimezone(ZONE).date()
    qs = Complaint.objects.filter(received_at__gte=start, received_at__lt=end)
    if region_ids is not None:
        qs = qs.filter(region_id__in=region_ids)
    earlier = Complaint.objects.filter(
        customer_id=OuterRef("customer_id"),
        received_at__lt=OuterRef("received_at"),
        received_at__gte=ExpressionWrapper(
            OuterRef("received_at") - Value(dt.timedelta(days=policy.repeat_days)), output_field=DateTimeField()
        ),
    )
    annotated = qs.annotate(
        month=TruncMonth("received_at", tzinfo=ZONE),
        resolved_on=TruncDate("resolved_at", tzinfo=ZONE),
        repeat=Exists(earlier),
    )
    ack_due = Q(acknowledged_at__isnull=False) | Q(ack_due_at__lt=at)
    reply_due = Q(replied_at__isnull=False) | Q(reply_due_at__lt=at)
    resolve_due = Q(resolved_at__isnull=False) | Q(resolve_due_on__lt=today)
    rows = list(
        annotated.values("month", "region_id")
        .annotate(
            received=Count("pk"),
            ack_due=Count("pk", filter=ack_due),
            ack_on_time=Count("pk", filter=Q(acknowledged_at__lte=F("ack_due_at"))),
            reply_due=Count("pk", filter=reply_due),
            reply_on_time=Count("pk", filter=Q(replied_at__lte=F("reply_due_at"))),
            resolve_due=Count("pk", filter=resolve_due),
            resolve_on_time=Count("pk", filter=Q(resolved_on__lte=F("resolve_due_on"))),
            repeat_count=Count("pk", filter=Q(repeat=True)),
            escalated_count=Count("pk", filter=Q(escalated=True)),
        )
        .order_by("month", "region_id")
    )
    regions = {r.pk: r for r in Region.objects.filter(pk__in={row["region_id"] for row in rows})}
    members = _members_per_region(region_ids)
    results = []
    for row in rows:
        month = row["month"].date() if isinstance(row["month"], dt.datetime) else row["month"]
        n_members = members.get(row["region_id"], 0)
        results.append(
            {
                "month": month,
                "region": regions[row["region_id"]],
                "received": row["received"],
                "members": n_members,
                "per_1000": round(1000 * row["received"] / n_members, 2) if n_members else None,
                "ack_due": row["ack_due"],
                "ack_on_time": row["ack_on_time"],
                "ack_rate": rules.share(row["ack_on_time"], row["ack_due"]),
                "reply_due": row["reply_due"],
                "reply_on_time": row["reply_on_time"],
                "reply_rate": rules.share(row["reply_on_time"], row["reply_due"]),
                "resolve_due": row["resolve_due"],
                "resolve_on_time": row["resolve_on_time"],
                "resolve_rate": rules.share(row["resolve_on_time"], row["resolve_due"]),
                "repeat": row["repeat_count"],
                "escalated": row["escalated_count"],
            }
        )
    by_category = dict(qs.values_list("category").annotate(n=Count("pk")).order_by())
    by_month_category: dict[tuple[int, str], int] = {}
    for month, category, n in (
        qs.annotate(month=TruncMonth("received_at", tzinfo=ZONE))
        .values_list("month", "category")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        by_month_category[(month.month, category)] = n
    by_tier = dict(qs.values_list("tier_id").annotate(n=Count("pk")).order_by())
    tiers = list(Tier.objects.order_by("-rank"))
    return {
        "year": year,
        "rows": results,
        "categories": [(c.value, c.label, by_category.get(c.value, 0)) for c in ComplaintCategory],
        "by_month_category": by_month_category,
        "tiers": [(t, by_tier.get(t.pk, 0)) for t in tiers] + [(None, by_tier.get(None, 0))],
        "totals": _totals(results),
    }


def _totals(rows: list[dict]) -> dict:
    keys = ["received", "ack_due", "ack_on_time", "reply_due", "reply_on_time", "resolve_due", "resolve_on_time"]
    total = {k: sum(r[k] for r in rows) for k in [*keys, "repeat", "escalated"]}
    total["ack_rate"] = rules.share(total["ack_on_time"], total["ack_due"])
    total["reply_rate"] = rules.share(total["reply_on_time"], total["reply_due"])
    total["resolve_rate"] = rules.share(total["resolve_on_time"], total["resolve_due"])
    return total


def monthly_rates(rows: list[dict]) -> dict[int, dict]:
    """On-time rates per month over the chosen branches: {month 1–12: {ack_rate, reply_rate, resolve_rate}}."""
    sums: dict[int, dict] = {}
    for r in rows:
        s = sums.setdefault(
            r["month"].month, dict.fromkeys(("ack", "reply", "resolve", "ackd", "replyd", "resolved"), 0)
        )
        s["ack"] += r["ack_on_time"]
        s["ackd"] += r["ack_due"]
        s["reply"] += r["reply_on_time"]
        s["replyd"] += r["reply_due"]
        s["resolve"] += r["resolve_on_time"]
        s["resolved"] += r["resolve_due"]
    return {
        m: {
            "ack_rate": rules.share(s["ack"], s["ackd"]),
            "reply_rate": rules.share(s["reply"], s["replyd"]),
            "resolve_rate": rules.share(s["resolve"], s["resolved"]),
        }
        for m, s in sums.items()
    }
