"""The admin of satisfaction: the surveys (data: question, trigger, the sample's share and repeat window), the yearly
targets, the surveys sent and the answers (read-only lists, a supervisor sees her branches'), and the satisfaction
report with an SVG chart (core.ui) and CSV (core.exports). Registered from service/admin.py."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core import ui
from core.admin import BranchScopedAdmin, MaskedCustomerMixin
from core.exports import csv_download
from retention.reports import YearlyReport

from . import survey_selectors, surveys
from .survey_models import SatisfactionTarget, Survey, SurveyResponse, SurveySend


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ["code", "question", "trigger", "active", "sample_percent", "repeat_days"]
    list_filter = ["active", "trigger"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SatisfactionTarget)
class SatisfactionTargetAdmin(admin.ModelAdmin):
    list_display = ["year", "mean_score", "satisfied_share"]

    def save_model(self, request, obj, form, change):
        """Through the service: audited (who, the values before and after)."""
        saved = surveys.satisfaction_target_set(
            year=obj.year,
            mean_score=obj.mean_score,
            satisfied_share=obj.satisfied_share,
            at=timezone.now(),
            actor=request.user,
        )
        obj.pk = saved.pk


class _ReadOnly:
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SurveySend)
class SurveySendAdmin(_ReadOnly, BranchScopedAdmin, MaskedCustomerMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "customer_col",
        "survey_code",
        "trigger",
        "reference",
        "region",
        "tier",
        "sent_at",
        "answered",
    ]
    list_filter = ["trigger", "answered", "region"]
    list_select_related = ["customer", "survey", "region", "tier"]
    search_fields = ["=customer__msisdn", "=reference"]
    date_hierarchy = "sent_at"

    @admin.display(description=_("Survey"), ordering="survey__code")
    def survey_code(self, obj):
        """The survey's code: its question (a sentence) made every list wider than the screen."""
        return obj.survey.code


@admin.register(SurveyResponse)
class SurveyResponseAdmin(_ReadOnly, BranchScopedAdmin, MaskedCustomerMixin, admin.ModelAdmin):
    list_display = ["id", "customer_col", "score", "channel", "answered_at", "entered_by", "comment"]
    list_filter = ["score", "channel"]
    list_select_related = ["customer", "entered_by"]
    search_fields = ["=customer__msisdn"]
    date_hierarchy = "answered_at"
    change_list_template = "admin/service/satisfaction_changelist.html"

    def get_urls(self):
        return [
            path("report/", self.admin_site.admin_view(self.report_view), name="service_satisfaction_report"),
            *super().get_urls(),
        ]

    def report_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        filters = YearlyReport.from_request(request)
        report = survey_selectors.satisfaction_report(year=filters.year, region_ids=filters.region_ids)
        if request.GET.get("format") == "csv":
            return satisfaction_csv(filters.csv_name("satisfaction"), report)
        context = filters.context(
            self,
            request,
            _("Satisfaction report"),
            report=report,
            chart=quarter_chart(report),
            tiers=[(ui.label(row["tier"]) if row["tier"] else _("not a member"), row) for row in report["tiers"]],
        )
        return TemplateResponse(request, "admin/service/satisfaction_report.html", context)


def quarter_chart(report: dict) -> dict:
    """The share of 4–5 answers per quarter, this year beside last year."""
    year = report["year"]
    rows = []
    for q in report["quarters"]:
        for label, figures, css in (
            (f"{year} Q{q['quarter']}", q, ui.series_css("this", 0)),
            (f"{year - 1} Q{q['quarter']}", q["last_year"], ui.series_css("last", 1)),
        ):
            share = figures["satisfied_share"]
            rows.append(
                {
                    "label": label,
                    "code": label.replace(" ", "-"),
                    "segments": [(share or 0, css, gettext("share of 4–5 answers (%)"))],
                }
            )
    legend = [(str(year), ui.series_css("this", 0)), (str(year - 1), ui.series_css("last", 1))]
    return ui.bar_chart(rows, legend=legend)


def _cell(value) -> str:
    return "" if value is None else str(value)


def satisfaction_csv(filename: str, report: dict) -> HttpResponse:
    response, writer = csv_download(filename)
    year, target = report["year"], report["target"]
    writer.writerow(["year", "answers", "mean", "satisfied_share", "target_mean", "target_share", "last_year_mean"])
    totals = report["totals"]
    writer.writerow(
        [
            year,
            totals["answers"],
            _cell(totals["mean"]),
            _cell(totals["satisfied_share"]),
            _cell(target.mean_score if target else None),
            _cell(target.satisfied_share if target else None),
            _cell(totals["last_year"]["mean"]),
        ]
    )
    writer.writerow([])
    writer.writerow(["quarter", "region", "region_name", "answers", "mean", "satisfied_share"])
    for row in report["rows"]:
        writer.writerow(
            [
                f"{year}-Q{row['quarter']}",
                row["region"].code,
                row["region"].name,
                row["answers"],
                _cell(row["mean"]),
                _cell(row["satisfied_share"]),
            ]
        )
    writer.writerow([])
    writer.writerow(["manager", "manager_name", "answers", "mean", "satisfied_share"])
    for row in report["managers"]:
        manager = row["manager"]
        writer.writerow(
            [
                manager.employee_no if manager else "",
                manager.name if manager else "",
                row["answers"],
                _cell(row["mean"]),
                _cell(row["satisfied_share"]),
            ]
        )
    writer.writerow([])
    writer.writerow(["tier", "answers", "mean", "satisfied_share", "last_year_mean"])
    for row in report["tiers"]:
        writer.writerow(
            [
                row["tier"].code if row["tier"] else "",
                row["answers"],
                _cell(row["mean"]),
                _cell(row["satisfied_share"]),
                _cell(row["last_year"]["mean"]),
            ]
        )
    return response
