"""Reads of the retention app: cases in the user's scope, the dashboard's lists, the churn and tier reports."""

import datetime as dt
from dataclasses import asdict
from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncMonth

from core.errors import InvalidInput, NotFoundError
from core.filters import filtered
from customers.models import Customer, Region
from managers import selectors as manager_selectors
from managers.models import AccountManager, Assignment
from tiers.models import CustomerTier, Tier

from . import rules
from .models import (
    CaseStep,
    ChurnRecord,
    ChurnTarget,
    MemberCount,
    MonthSnapshot,
    RetentionCase,
    RetentionOffer,
    RiskScore,
    RiskWeight,
    SnapshotRetention,
)

ALL = "all"  # the all-members series of the reports


# --- cases -----------------------------------------------------------------------------------------------


def _owned_and_not_reassigned(managers) -> Q:
    """Cases these managers own whose customer has no active account manager now (closed, or out of the club): the
    owner keeps them. A customer reassigned to somebody else takes her case along (her new manager's, not the old
    one's: a manager sees her own customers only)."""
    anybody = Assignment.objects.filter(customer_id=OuterRef("customer_id"), ended_on__isnull=True)
    return Q(manager__in=managers) & ~Exists(anybody)


def scope_cases(qs: QuerySet, user) -> QuerySet:
    """The cases of the customers this user may address (managers.selectors.scope_rows: club admins and API clients
    all, a supervisor her branches'); a manager also those she owned of customers nobody serves now (closed)."""
    scope = manager_selectors.customer_scope(user)
    if scope.manager_id is None:
        return manager_selectors.scope_rows(qs, user)
    visible = manager_selectors.scope_customers(Customer.objects.all(), user).values("pk")
    return qs.filter(_owned_and_not_reassigned([scope.manager_id]) | Q(customer__in=visible))


def _with_history(qs: QuerySet) -> QuerySet:
    steps = CaseStep.objects.select_related("actor", "offer").order_by("at", "id")
    return qs.select_related("customer__region", "manager", "offer").prefetch_related(Prefetch("steps", steps))


def case_list(*, filters: dict, user) -> QuerySet:
    from .filters import CaseFilter

    qs = _with_history(scope_cases(RetentionCase.objects.all(), user)).order_by("-opened_at", "-id")
    return filtered(CaseFilter(filters, queryset=qs))


def case_get(*, case_id, user) -> RetentionCase:
    """The case when this user may see it; a 404 otherwise (never revealing that it exists)."""
    case = _with_history(scope_cases(RetentionCase.objects.all(), user)).filter(pk=case_id).first()
    if case is None:
        raise NotFoundError(f"No retention case {case_id}.", code="unknown_case")
    return case


def _open_cases(managers: list[AccountManager]) -> QuerySet:
    mine = Assignment.objects.filter(customer_id=OuterRef("customer_id"), manager__in=managers, ended_on__isnull=True)
    return (
        RetentionCase.objects.exclude(state__in=rules.TERMINAL)
        .filter(_owned_and_not_reassigned(managers) | Exists(mine))
        .select_related("customer", "offer", "manager")
    )


def open_cases_of(managers: list[AccountManager], *, limit: int = 50, offset: int = 0) -> list[RetentionCase]:
    """The open cases of these managers (of their customers, or owned while nobody serves the customer), oldest
    first: the dashboard's list (`offset`: from that one on, for a page)."""
    return list(_open_cases(managers).order_by("opened_at", "id")[offset : offset + limit])


def open_cases_count(managers: list[AccountManager]) -> int:
    return _open_cases(managers).count()


def open_case_of_managers(case_id: int, managers: list[AccountManager]) -> RetentionCase | None:
    return _open_cases(managers).filter(pk=case_id).first()


def customer_case(customer: Customer) -> RetentionCase | None:
    """Her open retention case, else her latest closed one, with its steps (the customer page; two queries)."""
    cases = _with_history(RetentionCase.objects.filter(customer=customer))
    return cases.order_by(F("closed_at").desc(nulls_first=True), "-opened_at", "-id").first()


# --- the risk list ---------------------------------------------------------------------------------------


def weights() -> dict[str, Decimal]:
    return dict(RiskWeight.objects.values_list("signal", "weight"))


def _risk_of(managers: list[AccountManager]) -> QuerySet:
    active = Assignment.objects.filter(customer_id=OuterRef("customer_id"), ended_on__isnull=True)
    return RiskScore.objects.filter(Exists(active.filter(manager__in=managers))).annotate(
        manager_name=Subquery(active.values("manager__name")[:1])
    )


def risk_count(managers: list[AccountManager]) -> int:
    return _risk_of(managers).count()


def risk_top(managers: list[AccountManager], *, limit: int = 10, offset: int = 0) -> list[RiskScore]:
    """The members of these managers with the highest risk, each with `manager_name` and `reasons` (signal, count
    or drop %, points), heaviest first (`offset`: from that one on, for a page)."""
    rows = list(
        _risk_of(managers).select_related("customer").order_by("-score", "customer_id")[offset : offset + limit]
    )
    signal_weights = weights()
    for row in rows:
        row.reasons = rules.risk_reasons(risk_facts(row), signal_weights)
        row.spend_drop = rules.spend_drop_percent(row.spend_recent, row.spend_before)
    return rows


def risk_facts(row: RiskScore) -> rules.RiskFacts:
    return rules.RiskFacts(
        spend_recent=row.spend_recent,
        spend_before=row.spend_before,
        falling_spend=row.falling_spend,
        suspensions=row.suspensions,
        arrears=row.arrears,
        closure_requests=row.closure_requests,
        overdue_contacts=row.overdue_contacts,
    )


# --- report scope ----------------------------------------------------------------------------------------


def report_regions(user) -> list[Region] | None:
    """The branches a user's reports cover: None for all (club admins, API clients); a supervisor's branches (the
    regions of the managers she supervises); none for anybody else (managers.selectors.branch_ids)."""
    region_ids = manager_selectors.branch_ids(user)
    if region_ids is None:
        return None
    return list(Region.objects.filter(pk__in=region_ids).order_by("code"))


def report_scope(user, region_code: str | None) -> tuple[list[int] | None, Region | None]:
    """(region ids to count, the region chosen) for a user and an optional `region` filter; an unknown region is a
    400 naming the field, one outside the user's branches a 404."""
    allowed = report_regions(user)
    if not region_code:
        return (None if allowed is None else [r.pk for r in allowed]), None
    region = Region.objects.filter(code=region_code).first()
    if region is None:
        raise InvalidInput(f"Unknown region {region_code!r}.", fields={"region": ["unknown region code"]})
    if allowed is not None and region.pk not in {r.pk for r in allowed}:
        raise NotFoundError(f"Region {region_code} is not one of your branches.", code="unknown_region")
    return [region.pk], region


def region_codes(region_ids: list[int] | None) -> list[str] | None:
    if region_ids is None:
        return None
    return sorted(Region.objects.filter(pk__in=region_ids).values_list("code", flat=True))


def _in_regions(qs: QuerySet, region_ids: list[int] | None, field: str = "region_id") -> QuerySet:
    return qs if region_ids is None else qs.filter(**{f"{field}__in": region_ids})


# --- the churn report ------------------------------------------------------------------------------------


def _month_index(month: dt.date, year: int) -> int:
    """0 for December of the previous year, 1..12 for this year's months."""
    return 0 if month.year < year else month.month


def report_tiers() -> list[Tier]:
    return list(Tier.objects.order_by("-rank"))


def churn_report(*, year: int, on: dt.date, region_ids: list[int] | None = None) -> list[dict]:
    """The churn KPIs of a year per month and series (all members, then each tier by rank): a fixed number of
    queries (snapshots, member counts, closures, targets), the formulas in `rules.year_kpis`. Months after
    `on`'s have no year-to-date rate yet."""
    through = 12 if year < on.year else (on.month if year == on.year else 0)
    months = [dt.date(year - 1, 12, 1), *(dt.date(year, m, 1) for m in range(1, 13))]
    taken = set(MonthSnapshot.objects.filter(month__in=months).values_list("month", flat=True))
    tiers = report_tiers()
    series = [ALL, *(t.code for t in tiers)]
    members: dict[str, list[int | None]] = {s: [0 if m in taken else None for m in months] for s in series}
    counts = _in_regions(MemberCount.objects.filter(snapshot__month__in=months), region_ids)
    for month, code, n in counts.values_list("snapshot__month", "tier__code").annotate(n=Sum("members")):
        i = _month_index(month, year)
        members.setdefault(code, [0 if m in taken else None for m in months])[i] += n
        members[ALL][i] += n
    closures = {s: {"voluntary": [0] * 12, "arrears": [0] * 12} for s in series}
    records = _in_regions(ChurnRecord.objects.filter(closed_on__year=year, tier__isnull=False), region_ids).annotate(
        month=TruncMonth("closed_on")
    )
    for month, code, kind, n in records.values_list("month", "tier__code", "kind").annotate(n=Count("pk")):
        i = month.month - 1
        for key in (code, ALL):
            closures.setdefault(key, {"voluntary": [0] * 12, "arrears": [0] * 12})[kind][i] += n
    targets = {code: rate for code, rate in ChurnTarget.objects.values_list("tier__code", "max_rate")}
    base = rules.ytd_base_index(members[ALL])
    names = {t.code: t for t in tiers}
    rows = []
    for code in series:
        kpis = rules.year_kpis(
            year=year,
            members=members[code],
            voluntary=closures[code]["voluntary"],
            arrears=closures[code]["arrears"],
            target=rules.target_for(None if code == ALL else code, targets),
            base=base,
            through=through,
        )
        for kpi in kpis:
            rows.append(
                {
                    "series": code,
                    "tier": names.get(code),
                    "ytd_base": months[base] if base is not None else None,
                    **asdict(kpi),
                }
            )
    rows.sort(key=lambda r: (r["month"], series.index(r["series"])))
    return rows


def snapshot_retention_report(*, year: int, region_ids: list[int] | None = None, base_date: dt.date | None = None):
    """拍照保有率 for the month ends of a year: (base date, rows of month, series, base members, retained, share %).
    The base date is 1 January of the year unless another one was taken (e.g. the club's first month)."""
    stored = SnapshotRetention.objects.filter(month__year=year)
    if base_date is None:
        dates = sorted(set(stored.values_list("base_date", flat=True)))
        default = dt.date(year, 1, 1)
        base_date = default if default in dates or not dates else dates[0]
    tiers = report_tiers()
    series = [ALL, *(t.code for t in tiers)]
    cells: dict[tuple, list[int]] = {}
    qs = _in_regions(stored.filter(base_date=base_date), region_ids)
    for month, code, base, kept in (
        qs.values_list("month", "tier__code").annotate(b=Sum("base_members"), k=Sum("retained")).order_by("month")
    ):
        for key in ((month, code), (month, ALL)):
            cell = cells.setdefault(key, [0, 0])
            cell[0] += base
            cell[1] += kept
    names = {t.code: t for t in tiers}
    rows = []
    for month in sorted({m for m, _ in cells}):
        for code in series:
            base, kept = cells.get((month, code), (0, 0))
            rows.append(
                {
                    "month": month,
                    "series": code,
                    "tier": names.get(code),
                    "base_members": base,
                    "retained": kept,
                    "share": rules.percent(kept, base),
                }
            )
    return base_date, rows


# --- the tier report -------------------------------------------------------------------------------------


def tier_report(*, region_ids: list[int] | None = None, month: dt.date | None = None) -> dict:
    """Members per tier and branch: now (the current tiers), or at the end of a snapshotted month."""
    if month is None:
        qs = _in_regions(CustomerTier.objects.filter(tier__isnull=False), region_ids, "customer__region_id")
        pairs = qs.values_list("tier_id", "customer__region_id").annotate(n=Count("pk"))
    else:
        snapshot = MonthSnapshot.objects.filter(month=month).first()
        if snapshot is None:
            raise NotFoundError(f"No month-end snapshot of {month:%Y-%m}.", code="no_snapshot")
        pairs = _in_regions(MemberCount.objects.filter(snapshot=snapshot), region_ids).values_list(
            "tier_id", "region_id", "members"
        )
    counts = {(tier_id, region_id): n for tier_id, region_id, n in pairs}
    tiers = report_tiers()
    regions = list(_in_regions(Region.objects.all(), region_ids, "pk").order_by("province", "code"))
    rows = [
        {
            "region": region,
            "cells": [counts.get((t.pk, region.pk), 0) for t in tiers],
            "total": sum(counts.get((t.pk, region.pk), 0) for t in tiers),
        }
        for region in regions
    ]
    totals = [sum(r["cells"][i] for r in rows) for i in range(len(tiers))]
    return {"month": month, "tiers": tiers, "rows": rows, "totals": totals, "total": sum(totals)}


def active_offers() -> QuerySet:
    """The offers of the catalog a manager may make, in the catalog's order."""
    return RetentionOffer.objects.filter(active=True)


# --- the staff cockpit (vipclub.staff) -------------------------------------------------------------------------


def tier_trend(*, region_ids=None, months: int = 12) -> list[tuple[dt.date, dict[int, int]]]:
    """Members per tier at the last `months` month-end snapshots (oldest first) of these branches (None: all):
    [(month, {tier id: members})], two queries."""
    taken = sorted(MonthSnapshot.objects.order_by("-month").values_list("month", flat=True)[:months])
    cells: dict[dt.date, dict[int, int]] = {m: {} for m in taken}
    counts = _in_regions(MemberCount.objects.filter(snapshot__month__in=taken), region_ids)
    for month, tier_id, n in counts.values_list("snapshot__month", "tier_id").annotate(n=Sum("members")):
        cells[month][tier_id] = n
    return list(cells.items())


def churn_ytd(*, on: dt.date, region_ids=None) -> list[dict]:
    """Each series' latest year-to-date churn rate of `on`'s year with its target and breach flag (churn_report's
    rows of the latest month that has a rate)."""
    rows = [r for r in churn_report(year=on.year, on=on, region_ids=region_ids) if r["ytd_rate"] is not None]
    latest: dict[str, dict] = {}
    for r in rows:
        if r["series"] not in latest or r["month"] > latest[r["series"]]["month"]:
            latest[r["series"]] = r
    order = [ALL, *(t.code for t in report_tiers())]
    return [latest[s] for s in order if s in latest]
