"""The cockpit: the admin's home page for club staff. Members per tier and their trend, the last and next rating
run, churn against the targets, compliance and overdue contacts per branch, approvals waiting, the points the club
owes and what expires this year, next year's working-day calendar — each number a link to the list or report behind
it — and below it the admin's models, grouped, the technical ones last under "System". A supervisor's numbers are
her branches' (managers.selectors.branch_ids). A fixed number of queries, whatever the club's size."""

import datetime as dt

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import ui
from core.permissions import is_club_admin
from managers import selectors as manager_selectors
from points import selectors as points_selectors
from retention import selectors as retention_selectors
from service import survey_selectors
from tiers import selectors as tier_selectors

from . import approvals

# The models staff rarely open, shown last under "System": (app label, model name). Everything of the apps in
# SYSTEM_APPS goes there too.
SYSTEM_MODELS = {
    ("core", "idempotencyrecord"),
    ("core", "jobheartbeat"),
    ("core", "outboxevent"),
    ("core", "actionlog"),
    ("vipclub", "inboundevent"),
    ("points", "pointsjob"),
    ("tiers", "ratingchunk"),
}
SYSTEM_APPS = {"core", "vipclub", "axes", "authtoken", "partners"}
SYSTEM_LABEL = gettext_lazy("System")


def admin_url(name: str, **query) -> str:
    url = reverse(f"admin:{name}")
    return f"{url}?{urlencode(query)}" if query else url


def grouped_app_list(request) -> tuple[list[dict], dict | None]:
    """The admin's app list (what the user may see, in settings.ADMIN_APP_ORDER) without the technical models, and
    a "System" group of those (None when she may see none)."""
    apps = admin.site.get_app_list(request)
    system = []
    kept = []
    for app in apps:
        if app["app_label"] in SYSTEM_APPS:
            system += app["models"]
            continue
        models = [m for m in app["models"] if (app["app_label"], m["object_name"].lower()) not in SYSTEM_MODELS]
        system += [m for m in app["models"] if (app["app_label"], m["object_name"].lower()) in SYSTEM_MODELS]
        if models:
            kept.append({**app, "models": models})
    group = None
    if system:
        group = {"name": SYSTEM_LABEL, "app_label": "system", "models": sorted(system, key=lambda m: str(m["name"]))}
    return kept, group


def tier_figures(*, tiers, region_ids) -> dict:
    """Members per tier now (a link each to the customers of that tier) and the trend over the last 12 month-end
    snapshots (a stacked column chart)."""
    counts = tier_selectors.members_per_tier(region_ids=region_ids)
    rows = [
        {
            "tier": t,
            "label": ui.label(t),
            "members": counts.get(t.pk, 0),
            "url": admin_url("customers_customer_changelist", tier=t.code),
        }
        for t in tiers
    ]
    trend = retention_selectors.tier_trend(region_ids=region_ids)
    # lowest tier at the bottom of each column
    columns = [
        {
            "month": i,
            "key": f"{month:%Y-%m}",
            "segments": [
                (cells.get(t.pk, 0), ui.series_css(t.code, j), ui.label(t)) for j, t in reversed(list(enumerate(tiers)))
            ],
        }
        for i, (month, cells) in enumerate(trend)
    ]
    legend = [(ui.label(t), ui.series_css(t.code, j)) for j, t in enumerate(tiers)]
    chart = ui.column_chart(columns, legend=legend, width=560, height=200, right=20) if columns else None
    return {"rows": rows, "total": sum(r["members"] for r in rows), "trend": chart}


def run_figures(*, on: dt.date) -> dict:
    last = tier_selectors.latest_run()
    progress = None
    if last is not None and last.progress_total:
        progress = round(100 * last.progress_done / last.progress_total)
    return {
        "last": last,
        "progress": progress,
        "last_url": reverse("admin:tiers_ratingrun_change", args=[last.pk]) if last else None,
        "runs_url": admin_url("tiers_ratingrun_changelist"),
        "next": tier_selectors.next_run(on=on),
    }


def churn_figures(*, on: dt.date, region_ids, tiers) -> dict:
    names = {t.code: ui.label(t) for t in tiers}
    report = admin_url("retention_churn_report", year=on.year)
    rows = []
    for r in retention_selectors.churn_ytd(on=on, region_ids=region_ids):
        closures = {"closed_on__year": on.year}
        if r["tier"] is not None:
            closures["tier__id__exact"] = r["tier"].pk
        rows.append(
            {
                **r,
                "label": names.get(r["series"], _("all members")),
                "url": admin_url("retention_churnrecord_changelist", **closures),
            }
        )
    return {"rows": rows, "report_url": report, "breaches": sum(1 for r in rows if r["breach"])}


def compliance_figures(*, on: dt.date, region_ids) -> dict:
    start = on.replace(day=1)
    rows = manager_selectors.compliance_by_branch(start=start, end=on, region_ids=region_ids)
    for row in rows:
        row["overdue_url"] = admin_url(
            "managers_obligation_changelist", status__exact="overdue", manager__region__id__exact=row["region"].pk
        )
        row["due_url"] = admin_url(
            "managers_obligation_changelist",
            manager__region__id__exact=row["region"].pk,
            due_on__gte=start.isoformat(),
            due_on__lte=on.isoformat(),
        )
    return {
        "rows": rows,
        "start": start,
        "overdue": sum(r["overdue"] for r in rows),
        "report_url": reverse("admin-staff-compliance"),
    }


def cockpit_context(request, *, on: dt.date) -> dict:
    region_ids = manager_selectors.branch_ids(request.user)
    tiers = tier_selectors.tiers_by_rank()
    next_year = on.year + 1
    regions = None
    if region_ids is not None:
        regions = retention_selectors.report_regions(request.user)
    return {
        "on": on,
        "branches": regions,
        "club_admin": is_club_admin(request.user),
        "tiers": tier_figures(tiers=tiers, region_ids=region_ids),
        "runs": run_figures(on=on),
        "churn": churn_figures(on=on, region_ids=region_ids, tiers=tiers),
        "compliance": compliance_figures(on=on, region_ids=region_ids),
        "approvals": {
            "overrides": tier_selectors.pending_overrides_count(region_ids=region_ids),
            "adjustments": approvals.pending_adjustments(request).count(),
            "url": reverse("staff-approvals"),
        },
        "points": {
            **points_selectors.liability(on=on, region_ids=region_ids),
            "url": reverse("admin-staff-points"),
            "expiring_url": admin_url("points_pointslot_changelist", expires_on__year=on.year, remaining__gt=0),
        },
        "calendar": {
            **manager_selectors.calendar_state(year=next_year),
            "url": f"{reverse('admin-staff-calendar')}?{urlencode({'month': f'{next_year}-01'})}",
        },
        "reports_url": reverse("admin-staff-reports"),
        "satisfaction": {
            **survey_selectors.quarter_figures(year=on.year, quarter=(on.month - 1) // 3 + 1, region_ids=region_ids),
            "url": f"{reverse('admin:service_satisfaction_report')}?{urlencode({'year': on.year})}",
        },
    }


def cockpit_view(request):
    on = timezone.localdate()
    apps, system = grouped_app_list(request)
    context = {
        **admin.site.each_context(request),
        "title": _("Club cockpit"),
        **cockpit_context(request, on=on),
        "app_list": apps,
        "system_group": system,
    }
    return TemplateResponse(request, "admin/staff/cockpit.html", context)
