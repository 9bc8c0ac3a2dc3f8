"""The admin of the retention app: the offers catalog, churn targets and risk weights (editable, with history);
retention cases with their steps and a "move" action; churn records, month-end snapshots and the risk list
(read-only); the churn and tier reports with server-side SVG charts (core.ui) and CSV export. A supervisor sees her
branches only (core.admin.BranchScopedAdmin)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from core import bounds, ui
from core.admin import (
    BranchScopedAdmin,
    EstimatedCountPaginator,
    GuardedHistoryAdmin,
    MaskedCustomerMixin,
    ReadOnlyAdmin,
    ReadOnlyInline,
)
from core.errors import DomainError
from core.exports import csv_response

from . import rules, selectors, services
from .forms import CasesMoveForm
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
)
from .reports import YearlyReport, report_branches
from .texts import move_message, reason_text

# --------------------------------------------------------------------------------------------------
# Data staff edit


@admin.register(RetentionOffer)
class RetentionOfferAdmin(GuardedHistoryAdmin):
    list_display = ["code", "name_zh", "name_en", "active", "position"]
    list_display_links = ["code"]
    list_editable = ["active", "position"]
    list_filter = ["active"]
    search_fields = ["code", "name_zh", "name_en"]


@admin.register(ChurnTarget)
class ChurnTargetAdmin(GuardedHistoryAdmin):
    list_display = ["tier_col", "max_rate"]
    list_editable = ["max_rate"]
    list_display_links = ["tier_col"]

    @admin.display(description=_("tier"))
    def tier_col(self, obj):
        return ui.label(obj.tier) if obj.tier else _("all members")


@admin.register(RiskWeight)
class RiskWeightAdmin(GuardedHistoryAdmin):
    list_display = ["signal", "weight", "parameter"]
    list_editable = ["weight", "parameter"]
    list_display_links = ["signal"]


# --------------------------------------------------------------------------------------------------
# Cases


class CaseStepInline(ReadOnlyInline):
    model = CaseStep
    fields = ["at", "action", "from_state", "to_state", "actor_label", "offer", "visit_on", "channel", "note"]
    readonly_fields = fields
    ordering = ["at", "id"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("offer")


@admin.register(RetentionCase)
class RetentionCaseAdmin(BranchScopedAdmin, MaskedCustomerMixin, admin.ModelAdmin):
    list_display = ["id", "customer_col", "manager", "state", "reason_category", "requests", "opened_at", "closed_at"]
    list_filter = ["state", "reason_category", "customer__region"]
    list_select_related = ["customer", "manager"]
    search_fields = ["=customer__msisdn", "^customer__name"]
    inlines = [CaseStepInline]
    actions = ["move_cases"]
    readonly_fields = [
        "customer",
        "manager",
        "state",
        "reason_category",
        "reason",
        "channel",
        "requests",
        "offer",
        "visit_on",
        "opened_at",
        "closed_at",
    ]
    fields = readonly_fields
    date_hierarchy = "opened_at"

    def has_add_permission(self, request):
        return False  # a case opens with a closure request (customer admin action, event, API)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Move the selected cases to another state…"), permissions=["change"])
    def move_cases(self, request, queryset):
        if "apply" in request.POST:
            form = CasesMoveForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                done = 0
                for case in queryset[:200]:
                    try:
                        services.case_transition(
                            case=case,
                            to=data["to"],
                            actor=request.user,
                            note=data["note"].strip(),
                            offer=data["offer"].code if data["offer"] else "",
                            visit_on=data["visit_on"],
                            at=timezone.now(),
                        )
                        done += 1
                    except DomainError as exc:
                        self.message_user(request, f"#{case.pk}: {move_message(exc)}", messages.WARNING)
                if done:
                    self.message_user(request, _("%(n)d cases moved.") % {"n": done}, messages.SUCCESS)
                return None
        else:
            form = CasesMoveForm()
        return render(
            request,
            "admin/retention/move_cases.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "cases": queryset[:200],
                "count": queryset.count(),
                "title": _("Move retention cases"),
                "opts": self.model._meta,
            },
        )


# --------------------------------------------------------------------------------------------------
# Churn, snapshots, the risk list (read-only) and the reports


def _blank(value) -> str:
    return "" if value is None else str(value)


def series_labels(tiers) -> list[tuple[str, str]]:
    return [(selectors.ALL, str(_("all members"))), *((t.code, ui.label(t)) for t in tiers)]


# The reports' charts (core.ui draws the coordinates; the templates the SVG)


def ytd_chart(rows: list[dict], series: list[tuple[str, str]]) -> dict:
    """Year-to-date churn rate per month for each series (code, label), its yearly target as a dashed line, and a
    marker on every month in breach. `rows` are the churn report's rows."""
    lines, targets = [], {}
    for code, label in series:
        mine = [r for r in rows if r["series"] == code]
        points = [
            (
                r["month"].month - 1,
                r["ytd_rate"],
                {"rate": r["ytd_rate"], "breach": r["breach"], "month": f"{r['month']:%Y-%m}"},
            )
            for r in mine
        ]
        lines.append({"code": code, "label": label, "points": points})
        target = next((r["target"] for r in mine if r["target"] is not None), None)
        if target is not None:
            targets.setdefault(target, []).append(label)
    return ui.line_chart(lines, targets=targets)


def churned_chart(rows: list[dict], code: str = selectors.ALL) -> dict:
    """Closures per month of one series, voluntary and arrears stacked."""
    vol, arr = (_("voluntary"), "vol"), (_("arrears"), "arr")
    columns = [
        {
            "month": r["month"].month - 1,
            "key": f"{r['month']:%Y-%m}",
            "segments": [(r["voluntary"], vol[1], vol[0]), (r["arrears"], arr[1], arr[0])],
        }
        for r in rows
        if r["series"] == code
    ]
    return ui.column_chart(columns, legend=[vol, arr])


def tier_bars(report: dict, labels: list[str]) -> dict:
    """Members per branch as horizontal bars stacked by tier (the tier report)."""
    css = [ui.series_css(t.code, j) for j, t in enumerate(report["tiers"])]
    rows = [
        {
            "label": row["region"].name,
            "code": row["region"].code,
            "segments": [(n, css[j], labels[j]) for j, n in enumerate(row["cells"])],
        }
        for row in report["rows"]
    ]
    return ui.bar_chart(rows, legend=list(zip(labels, css, strict=True)))


@admin.register(ChurnRecord)
class ChurnRecordAdmin(BranchScopedAdmin, MaskedCustomerMixin, ReadOnlyAdmin):
    list_display = ["closed_on", "customer_col", "kind", "tier", "region", "manager", "reason_category", "case_link"]
    list_filter = ["kind", "tier", "region", "reason_category"]
    list_select_related = ["customer", "tier", "region", "manager"]
    search_fields = ["=customer__msisdn"]
    date_hierarchy = "closed_on"
    region_field = "region"  # the branch she left from
    change_list_template = "admin/retention/churnrecord/change_list.html"
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    @admin.display(description=_("retention case"))
    def case_link(self, obj):
        if not obj.case_id:
            return "—"
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:retention_retentioncase_change", args=[obj.case_id]), obj.case_id
        )

    def get_urls(self):
        return [
            path("report/", self.admin_site.admin_view(self.churn_report_view), name="retention_churn_report"),
            path("tiers/", self.admin_site.admin_view(self.tier_report_view), name="retention_tier_report"),
            *super().get_urls(),
        ]

    def churn_report_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        filters = YearlyReport.from_request(request)
        year, region_ids = filters.year, filters.region_ids
        rows = selectors.churn_report(year=year, on=timezone.localdate(), region_ids=region_ids)
        base_date, snapshot_rows = selectors.snapshot_retention_report(year=year, region_ids=region_ids)
        if request.GET.get("format") == "csv":
            header = [
                "month",
                "tier",
                "members",
                "members_previous",
                "average_members",
                "churned",
                "voluntary",
                "arrears",
                "rate",
                "ytd_churned",
                "ytd_rate",
                "target",
                "breach",
            ]
            return csv_response(
                filters.csv_name("churn"),
                header,
                (
                    [f"{r['month']:%Y-%m}", r["series"], *(_blank(r[k]) for k in header[2:-1]), r["breach"]]
                    for r in rows
                ),
            )
        tiers = selectors.report_tiers()
        series = series_labels(tiers)
        names = dict(series)
        months = []
        for r in rows:
            if not months or months[-1]["month"] != r["month"]:
                months.append({"month": r["month"], "rows": []})
            months[-1]["rows"].append({**r, "label": names[r["series"]]})
        retention_months = []
        for r in snapshot_rows:
            if not retention_months or retention_months[-1]["month"] != r["month"]:
                retention_months.append({"month": r["month"], "cells": []})
            retention_months[-1]["cells"].append(r)
        context = filters.context(
            self,
            request,
            _("Churn report"),
            months=months,
            series=series,
            ytd_base=rows[0]["ytd_base"] if rows else None,
            ytd=ytd_chart(rows, series),
            churned=churned_chart(rows),
            breaches=[r for r in rows if r["breach"]],
            snapshot_base=base_date,
            retention_months=retention_months,
        )
        return TemplateResponse(request, "admin/retention/churn_report.html", context)

    def tier_report_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        region_ids, region, regions = report_branches(request)
        snapshots = list(MonthSnapshot.objects.order_by("-month").values_list("month", flat=True)[:36])
        month = None
        if request.GET.get("month"):
            try:
                month = bounds.parse_month(request.GET["month"])
            except bounds.BoundsError:
                month = None
            if month not in snapshots:
                messages.warning(request, _("No snapshot of that month: the current members are shown."))
                month = None
        report = selectors.tier_report(region_ids=region_ids, month=month)
        labels = [ui.label(t) for t in report["tiers"]]
        if request.GET.get("format") == "csv":
            return csv_response(
                f"tiers-{month:%Y-%m}.csv" if month else "tiers.csv",
                ["region", "region_name", "tier", "members"],
                (
                    [row["region"].code, row["region"].name, t.code, n]
                    for row in report["rows"]
                    for t, n in zip(report["tiers"], row["cells"], strict=True)
                ),
            )
        customers = reverse("admin:customers_customer_changelist")
        for row in report["rows"]:  # now: each number links to the customers behind it (a snapshot's: no list)
            row["links"] = [
                {
                    "n": n,
                    "url": f"{customers}?{urlencode({'tier': t.code, 'region__id__exact': row['region'].pk})}"
                    if n and month is None
                    else "",
                }
                for t, n in zip(report["tiers"], row["cells"], strict=True)
            ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Members per tier and branch"),
            "report": report,
            "labels": labels,
            "chart": tier_bars(report, labels),
            "region": region,
            "regions": regions,
            "month": month,
            "snapshots": snapshots,
            "csv_query": request.GET.copy().urlencode(),
        }
        return TemplateResponse(request, "admin/retention/tier_report.html", context)


class MemberCountInline(ReadOnlyInline):
    model = MemberCount
    fields = ["tier", "region", "members"]
    readonly_fields = fields
    ordering = ["region", "-tier__rank"]

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("tier", "region")
        regions = selectors.report_regions(request.user)  # a supervisor: her branches only
        return qs if regions is None else qs.filter(region_id__in=[r.pk for r in regions])


@admin.register(MonthSnapshot)
class MonthSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["month_col", "members", "taken_at"]
    inlines = [MemberCountInline]

    @admin.display(description=_("month"), ordering="month")
    def month_col(self, obj):
        return f"{obj.month:%Y-%m}"


@admin.register(RiskScore)
class RiskScoreAdmin(BranchScopedAdmin, MaskedCustomerMixin, ReadOnlyAdmin):
    list_display = ["customer_col", "score", "reasons_col", "as_of"]
    list_select_related = ["customer"]
    search_fields = ["=customer__msisdn"]
    list_filter = ["falling_spend", "customer__region"]
    ordering = ["-score", "customer_id"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    @admin.display(description=_("reasons"))
    def reasons_col(self, obj):
        if not hasattr(self, "_weights"):
            self._weights = selectors.weights()
        reasons = rules.risk_reasons(selectors.risk_facts(obj), self._weights)
        return " · ".join(f"{reason_text(s, shown)} (+{points:.0f})" for s, shown, points in reasons) or "—"

    def changelist_view(self, request, extra_context=None):
        self._weights = selectors.weights()
        return super().changelist_view(request, extra_context)
