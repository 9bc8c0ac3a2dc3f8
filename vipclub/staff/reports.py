"""The reports menu and the reports it adds: compliance per branch, the points liability and expiry forecast, the
tier migration matrix (from → to, of a run or a month). Each has a CSV export (core.exports) and every number links
to the rows behind it (an admin list, filtered). The churn, tier and benefit-usage reports live with their apps.
A supervisor's reports cover her branches."""

import datetime as dt

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import bounds, ui
from core.exports import csv_response
from customers.models import Region
from managers import selectors as manager_selectors
from points import selectors as points_selectors
from tiers import selectors as tier_selectors

from .cockpit import admin_url


def _require(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _page(request, template: str, title, **context) -> TemplateResponse:
    return TemplateResponse(
        request,
        template,
        {
            **admin.site.each_context(request),
            "title": title,
            "reports_url": reverse("admin-staff-reports"),
            "csv_query": _csv_query(request),
            **context,
        },
    )


def _csv_query(request) -> str:
    query = request.GET.copy()
    query["format"] = "csv"
    return query.urlencode()


def _month_param(request, default: dt.date | None) -> tuple[dt.date | None, str | None]:
    """(the `month` parameter YYYY-MM, the problem with it)."""
    raw = request.GET.get("month")
    if not raw:
        return default, None
    try:
        return bounds.parse_month(raw), None
    except bounds.BoundsError as exc:
        return default, str(exc)


# --- the menu ----------------------------------------------------------------------------------------------------

REPORTS = [
    (
        "churn",
        gettext_lazy("Churn"),
        gettext_lazy(
            "Closures and churn rates per month and tier, year to date against the targets; snapshot retention."
        ),
        "retention.view_churnrecord",
    ),
    (
        "tiers",
        gettext_lazy("Members per tier and branch"),
        gettext_lazy("Members per tier and branch now, or at a month-end snapshot."),
        "retention.view_churnrecord",
    ),
    (
        "migration",
        gettext_lazy("Tier migration matrix"),
        gettext_lazy("How many members moved from which tier to which, in a rating run or a month."),
        "tiers.view_tierchange",
    ),
    (
        "usage",
        gettext_lazy("Benefit usage"),
        gettext_lazy("Redemptions per benefit, tier and month."),
        "benefits.view_benefit",
    ),
    (
        "compliance",
        gettext_lazy("Contact compliance per branch"),
        gettext_lazy("Obligations due, done on time and overdue, per branch."),
        "managers.view_obligation",
    ),
    (
        "points",
        gettext_lazy("Points liability and expiry forecast"),
        gettext_lazy("The points the club owes per branch, and when they expire."),
        "points.view_pointslot",
    ),
    (
        "activities",
        gettext_lazy("Activities: sign-ups, attendance and cost"),
        gettext_lazy("Club activities' sign-ups, attendance and cost per tier and branch."),
        "service.view_activity",
    ),
    (
        "satisfaction",
        gettext_lazy("Member satisfaction"),
        gettext_lazy("Mean score and share of 4–5 answers per quarter, branch, manager and tier, against the target."),
        "service.view_surveyresponse",
    ),
]


def report_url(key: str) -> str:
    return {
        "churn": lambda: reverse("admin:retention_churn_report"),
        "tiers": lambda: reverse("admin:retention_tier_report"),
        "usage": lambda: reverse("admin:benefits_benefit_usage"),
        "migration": lambda: reverse("admin-staff-migration"),
        "compliance": lambda: reverse("admin-staff-compliance"),
        "points": lambda: reverse("admin-staff-points"),
        "activities": lambda: reverse("admin:service_activity_report"),
        "satisfaction": lambda: reverse("admin:service_satisfaction_report"),
    }[key]()


def reports_view(request):
    reports = [
        {"key": key, "title": title, "text": text, "url": report_url(key)}
        for key, title, text, perm in REPORTS
        if request.user.has_perm(perm)
    ]
    return _page(request, "admin/staff/reports.html", _("Reports"), reports=reports)


# --- compliance per branch -------------------------------------------------------------------------------------------


def compliance_view(request):
    _require(request, "managers.view_obligation")
    today = timezone.localdate()
    month, problem = _month_param(request, today.replace(day=1))
    start = month.replace(day=1)
    end = min((start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1), today)
    if end < start:  # a month still to come: nothing is due yet
        end = start - dt.timedelta(days=1)
    region_ids = manager_selectors.branch_ids(request.user)
    rows = manager_selectors.compliance_by_branch(start=start, end=end, region_ids=region_ids)
    if request.GET.get("format") == "csv":
        return csv_response(
            f"compliance-{start:%Y-%m}.csv",
            ["month", "region", "region_name", "due", "done_on_time", "compliance_percent", "overdue_now"],
            (
                [
                    f"{start:%Y-%m}",
                    r["region"].code,
                    r["region"].name,
                    r["due"],
                    r["on_time"],
                    _blank(r["percent"]),
                    r["overdue"],
                ]
                for r in rows
            ),
        )
    for r in rows:
        branch = {"manager__region__id__exact": r["region"].pk}
        r["due_url"] = admin_url(
            "managers_obligation_changelist", due_on__gte=start.isoformat(), due_on__lte=end.isoformat(), **branch
        )
        r["on_time_url"] = admin_url(
            "managers_obligation_changelist",
            status__exact="done",
            due_on__gte=start.isoformat(),
            due_on__lte=end.isoformat(),
            **branch,
        )
        r["overdue_url"] = admin_url("managers_obligation_changelist", status__exact="overdue", **branch)
    totals = {
        "due": sum(r["due"] for r in rows),
        "on_time": sum(r["on_time"] for r in rows),
        "overdue": sum(r["overdue"] for r in rows),
    }
    totals["percent"] = round(100 * totals["on_time"] / totals["due"], 1) if totals["due"] else None
    return _page(
        request,
        "admin/staff/compliance.html",
        _("Contact compliance per branch"),
        rows=rows,
        totals=totals,
        month=start,
        end=end,
        problem=problem,
    )


def _blank(value) -> str:
    return "" if value is None else str(value)


# --- points liability and expiry forecast ----------------------------------------------------------------------------


def points_view(request):
    _require(request, "points.view_pointslot")
    today = timezone.localdate()
    region_ids = manager_selectors.branch_ids(request.user)
    forecast = points_selectors.expiry_forecast(on=today, region_ids=region_ids)
    summary = points_selectors.liability(on=today, region_ids=region_ids)
    regions = Region.objects.order_by("province", "code")
    if region_ids is not None:
        regions = regions.filter(pk__in=list(region_ids))
    regions = list(regions)
    years = sorted({r["year"] for r in forecast}) or [today.year]
    cells = {(r["region_id"], r["year"]): r for r in forecast}
    if request.GET.get("format") == "csv":
        names = {r.pk: r for r in regions}
        return csv_response(
            f"points-liability-{today:%Y-%m-%d}.csv",
            ["region", "region_name", "expires_on", "points", "customers"],
            (
                [
                    names[r["region_id"]].code,
                    names[r["region_id"]].name,
                    f"{r['year']}-12-31",
                    r["points"],
                    r["customers"],
                ]
                for r in forecast
                if r["region_id"] in names
            ),
        )
    rows = []
    for region in regions:
        row_cells = [cells.get((region.pk, y), {"points": 0, "customers": 0}) for y in years]
        rows.append(
            {
                "region": region,
                "cells": row_cells,
                "total": sum(c["points"] for c in row_cells),
                "url": admin_url("customers_customer_changelist", region__id__exact=region.pk),
            }
        )
    columns = [
        {
            "year": y,
            "points": sum(cells.get((r.pk, y), {"points": 0})["points"] for r in regions),
            "url": admin_url("points_pointslot_changelist", expires_on__year=y, remaining__gt=0),
        }
        for y in years
    ]
    chart = ui.bar_chart(
        [
            {"label": str(c["year"]), "code": str(c["year"]), "segments": [(c["points"], "s0", str(c["year"]))]}
            for c in columns
        ]
    )
    return _page(
        request,
        "admin/staff/points.html",
        _("Points liability and expiry forecast"),
        summary=summary,
        rows=rows,
        columns=columns,
        chart=chart,
        today=today,
    )


# --- the tier migration matrix ---------------------------------------------------------------------------------------


def migration_view(request):
    _require(request, "tiers.view_tierchange")
    runs = tier_selectors.matrix_runs()
    run = None
    month, problem = _month_param(request, None)
    raw_run = request.GET.get("run")
    if raw_run:
        run = next((r for r in runs if str(r.pk) == raw_run), None)
        if run is None:
            problem = _("No rating run #%(run)s among the last ones.") % {"run": raw_run}
    if run is None and month is None and runs:
        run = runs[0]
    region_ids = manager_selectors.branch_ids(request.user)
    matrix = tier_selectors.migration_matrix(
        run_id=run.pk if run else None, month=None if run else month, region_ids=region_ids
    )
    sides = [*((t.pk, ui.label(t), t.code) for t in matrix["tiers"]), (None, _("not a member"), "none")]
    scope = {"run": run.pk} if run else {}
    if month is not None and run is None:
        end = (month + dt.timedelta(days=32)).replace(day=1)
        scope = {"effective_on__gte": month.isoformat(), "effective_on__lt": end.isoformat()}
    if request.GET.get("format") == "csv":
        label = f"run-{run.pk}" if run else (f"{month:%Y-%m}" if month else "all")
        return csv_response(
            f"tier-migration-{label}.csv",
            ["from_tier", "to_tier", "members"],
            (
                [f_code, t_code, matrix["counts"].get((f_id, t_id), 0)]
                for f_id, _f, f_code in sides
                for t_id, _t, t_code in sides
                if (f_id, t_id) != (None, None)
            ),
        )

    def drill(f_id, t_id) -> str:
        query = dict(scope)
        query["from_tier__isnull" if f_id is None else "from_tier__id__exact"] = "True" if f_id is None else f_id
        query["to_tier__isnull" if t_id is None else "to_tier__id__exact"] = "True" if t_id is None else t_id
        return admin_url("tiers_tierchange_changelist", **query)

    rows = []
    for f_id, f_label, f_code in sides:
        cells = []
        for t_id, _t, t_code in sides:
            n = matrix["counts"].get((f_id, t_id), 0)
            move = "same" if f_id == t_id else ("up" if _rank(matrix, t_id) > _rank(matrix, f_id) else "down")
            cells.append({"n": n, "url": drill(f_id, t_id) if n else "", "move": move, "code": t_code})
        rows.append({"label": f_label, "code": f_code, "cells": cells, "total": sum(c["n"] for c in cells)})
    return _page(
        request,
        "admin/staff/migration.html",
        _("Tier migration matrix"),
        rows=rows,
        sides=sides,
        matrix=matrix,
        runs=runs,
        run=run,
        month=month if run is None else None,
        problem=problem,
    )


def _rank(matrix: dict, tier_id) -> int:
    """A tier's rank for the up/down colouring (not a member: below every tier)."""
    return next((t.rank for t in matrix["tiers"] if t.pk == tier_id), -1)
