"""The admin of the benefits app: the catalog and the tiers' entitlements (editable, with history), the
accounts and the ledger (read-only; a supervisor sees her branches' rows only), and the usage report with its chart.
The rows on the customer's page are in benefits/customer_page.py."""

import datetime as dt

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from core import ui
from core.admin import (
    BranchScopedAdmin,
    EstimatedCountPaginator,
    GuardedHistoryAdmin,
    ReadOnlyAdmin,
    customer_column,
    report_year,
    row_scope,
)
from core.exports import csv_download
from tiers.models import Tier

from . import rules, selectors
from .customer_page import show
from .models import Benefit, BenefitAccount, BenefitEntry, TierEntitlement

# --------------------------------------------------------------------------------------------------
# The catalog


class TierEntitlementInline(admin.TabularInline):
    model = TierEntitlement
    extra = 0
    fields = ["tier", "quantity", "money_cap", "hours", "per_month_limit", "unlimited", "percent"]
    ordering = ["-tier__rank"]


@admin.register(Benefit)
class BenefitAdmin(GuardedHistoryAdmin):
    list_display = ["code", "name_zh", "name_en", "unit", "period", "entitlements_col", "active", "position"]
    list_display_links = ["code"]
    list_editable = ["active", "position"]
    list_filter = ["unit", "period", "active"]
    search_fields = ["code", "name_zh", "name_en"]
    inlines = [TierEntitlementInline]
    change_list_template = "admin/benefits/benefit/change_list.html"
    fieldsets = [
        (None, {"fields": ["code", "name_zh", "name_en", "description", "active", "position"]}),
        (_("Quota"), {"fields": ["unit", "period", "validity_days"]}),
        (_("Rules"), {"fields": ["redeemable_while_suspended", "refuse_old_arrears", "for_key_person_floor"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("entitlements__tier")

    @admin.display(description=_("per tier"))
    def entitlements_col(self, obj):
        parts = []
        for e in sorted(obj.entitlements.all(), key=lambda e: -e.tier.rank):
            parts.append(f"{ui.label(e.tier)} {entitlement_text(obj, e)}")
        return " · ".join(parts) or "—"

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("usage/", self.admin_site.admin_view(self.usage_view), name=f"{prefix}_usage"),
            *super().get_urls(),
        ]

    def usage_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.localdate()
        year = report_year(request, today)
        benefits = list(Benefit.objects.exclude(unit=rules.FLAG))
        benefit = None
        if request.GET.get("benefit"):
            benefit = next((b for b in benefits if str(b.pk) == request.GET["benefit"]), None)
        if request.GET.get("format") == "csv":
            return usage_csv(year=year, benefit=benefit, entries=scoped_entries(request))
        report = usage_context(year=year, benefit=benefit, benefits=benefits, entries=scoped_entries(request))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Benefit usage"),
            "year": year,
            "years": list(range(today.year - 4, today.year + 1)),
            "benefits": [(b.pk, ui.label(b)) for b in benefits],
            "benefit": benefit,
            "csv_query": urlencode({**request.GET.dict(), "format": "csv"}),
            **report,
        }
        return TemplateResponse(request, "admin/benefits/usage.html", context)


def entitlement_text(benefit: Benefit, e: TierEntitlement) -> str:
    if benefit.unit == rules.FLAG:
        return f"{e.percent}%" if e.percent is not None else "✓"
    if benefit.unit == rules.MONEY:
        return f"¥{e.money_cap}"
    if benefit.unit == rules.HOURS:
        return f"{e.hours}h ×{e.per_month_limit}"
    return "∞" if e.unlimited else str(e.quantity)


@admin.register(TierEntitlement)
class TierEntitlementAdmin(GuardedHistoryAdmin):
    list_display = ["benefit", "tier", "quantity", "money_cap", "hours", "per_month_limit", "unlimited", "percent"]
    list_filter = ["tier", "benefit__unit", "benefit"]
    list_select_related = ["benefit", "tier"]
    search_fields = ["benefit__code", "benefit__name_zh", "benefit__name_en"]


# --------------------------------------------------------------------------------------------------
# Accounts and the ledger (read-only)


@admin.register(BenefitAccount)
class BenefitAccountAdmin(BranchScopedAdmin, ReadOnlyAdmin):
    list_display = ["masked_msisdn", "benefit", "period_key", "granted_col", "used_col", "remaining_col"]
    list_filter = ["benefit"]
    list_select_related = ["customer", "benefit"]
    search_fields = ["=customer__msisdn", "=period_key"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    masked_msisdn = customer_column(description=_("msisdn"), name=False)

    @admin.display(description=_("granted"))
    def granted_col(self, obj):
        return "∞" if obj.unlimited else show(obj.benefit.unit, obj.granted)

    @admin.display(description=_("used"))
    def used_col(self, obj):
        return show(obj.benefit.unit, obj.used)

    @admin.display(description=_("remaining"))
    def remaining_col(self, obj):
        return "∞" if obj.unlimited else show(obj.benefit.unit, obj.remaining)


@admin.register(BenefitEntry)
class BenefitEntryAdmin(BranchScopedAdmin, ReadOnlyAdmin):
    # the columns that fit 1366 px: the date links to the entry (its id is on its page)
    list_display_links = ["occurred_on"]
    list_display = [
        "occurred_on",
        "masked_msisdn",
        "benefit",
        "kind",
        "granted_col",
        "used_col",
        "remaining_col",
        "tier",
        "actor",
        "reference",
    ]
    list_filter = ["kind", "benefit"]
    list_select_related = ["customer", "benefit", "tier"]
    search_fields = ["=customer__msisdn", "=reference"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    masked_msisdn = customer_column(description=_("msisdn"), name=False)

    @admin.display(description=_("granted change"))
    def granted_col(self, obj):
        return show(obj.benefit.unit, obj.granted_delta) if obj.granted_delta else ""

    @admin.display(description=_("used change"))
    def used_col(self, obj):
        return show(obj.benefit.unit, obj.used_delta) if obj.used_delta else ""

    @admin.display(description=_("remaining after"))
    def remaining_col(self, obj):
        return show(obj.benefit.unit, obj.remaining_after)


# --------------------------------------------------------------------------------------------------
# The usage report: redemptions per benefit, tier and month, with a server-rendered SVG chart


def scoped_entries(request):
    """The ledger rows the report counts: a supervisor's branches' only (the admin's row scope)."""
    return row_scope(request).rows(BenefitEntry.objects.all(), customer="customer")


def usage_csv(*, year: int, benefit: Benefit | None, entries) -> HttpResponse:
    """The usage report as CSV: one row per month, benefit and tier (redemptions and units used)."""
    rows = selectors.usage_report(year=year, benefit_id=benefit.pk if benefit else None, entries=entries)
    codes = dict(Benefit.objects.values_list("pk", "code"))
    tiers = dict(Tier.objects.values_list("pk", "code"))
    response, writer = csv_download(f"benefit-usage-{year}.csv")
    writer.writerow(["month", "benefit", "tier", "redemptions", "used"])
    for r in rows:
        month = r["month"] if isinstance(r["month"], dt.date) else dt.date.fromisoformat(str(r["month"])[:10])
        writer.writerow(
            [
                f"{month:%Y-%m}",
                codes.get(r["benefit_id"], ""),
                tiers.get(r["tier_id"], ""),
                r["redemptions"],
                r["used"] or 0,
            ]
        )
    return response


def usage_context(*, year: int, benefit: Benefit | None, benefits: list[Benefit], entries=None) -> dict:
    rows = selectors.usage_report(year=year, benefit_id=benefit.pk if benefit else None, entries=entries)
    tiers = list(Tier.objects.order_by("-rank"))
    by_id = {b.pk: b for b in benefits}
    months = [dt.date(year, m, 1) for m in range(1, 13)]
    counts: dict[tuple, int] = {}
    table: dict[tuple, dict] = {}
    for r in rows:
        month = r["month"] if isinstance(r["month"], dt.date) else dt.date.fromisoformat(str(r["month"])[:10])
        month = month.replace(day=1)
        counts[(month, r["tier_id"])] = counts.get((month, r["tier_id"]), 0) + r["redemptions"]
        key = (month, r["benefit_id"])
        line = table.setdefault(key, {"month": month, "benefit": by_id.get(r["benefit_id"]), "tiers": {}, "total": 0})
        cell = line["tiers"].setdefault(r["tier_id"], {"redemptions": 0, "used": 0})
        cell["redemptions"] += r["redemptions"]
        cell["used"] += r["used"] or 0
        line["total"] += r["redemptions"]
    tier_ids = [t.pk for t in tiers] + [None]
    table_rows = []
    for (month, _benefit_id), line in sorted(table.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        unit = line["benefit"].unit if line["benefit"] else rules.COUNT
        cells = []
        for tid in tier_ids:
            cell = line["tiers"].get(tid)
            cells.append(
                f"{cell['redemptions']}" + (f" (¥{rules.fen_to_yuan(cell['used'])})" if unit == rules.MONEY else "")
                if cell
                else "—"
            )
        next_month = (month + dt.timedelta(days=32)).replace(day=1)
        drill = {
            "kind__exact": "redeem",
            "occurred_on__gte": month.isoformat(),
            "occurred_on__lt": next_month.isoformat(),
        }
        if line["benefit"]:
            drill["benefit__id__exact"] = line["benefit"].pk
        table_rows.append(
            {
                "url": f"{reverse('admin:benefits_benefitentry_changelist')}?{urlencode(drill)}",
                "month": f"{month:%Y-%m}",
                "benefit": ui.label(line["benefit"]) if line["benefit"] else "?",
                "cells": cells,
                "total": line["total"],
            }
        )
    columns = [
        {
            "month": i,
            "key": f"{month:%Y-%m}",
            "segments": [(counts.get((month, tid), 0), f"s{j}", "") for j, tid in enumerate(tier_ids)],
        }
        for i, month in enumerate(months)
    ]
    legend = [(ui.label(t), f"s{i}") for i, t in enumerate(tiers)] + [(_("no tier"), f"s{len(tiers)}")]
    return {
        "chart": ui.column_chart(
            columns, legend=legend, width=630, height=230, left=44, top=10, bottom=20, right=10, nice=False
        ),
        "tier_names": [ui.label(t) for t in tiers] + [_("no tier")],
        "rows": table_rows,
        "total": sum(r["total"] for r in table_rows),
    }
