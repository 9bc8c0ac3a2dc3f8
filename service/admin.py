"""The admin of complaints: the policy (editable, with history); complaints with their steps, received from the admin,
moved by actions (the list) or from their page (a move and a hand-over form); the complaints report with SVG charts
(core.ui) and CSV (core.exports). A supervisor sees her branches only (core.admin.BranchScopedAdmin)."""

from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import ui
from core.admin import (
    BranchScopedAdmin,
    GuardedHistoryAdmin,
    MaskedCustomerMixin,
    ReadOnlyInline,
    move_action,
    mover,
)
from core.errors import DomainError
from core.exports import csv_download
from managers import selectors as manager_selectors
from retention.reports import YearlyReport

from . import rules, selectors, services
from .forms import ComplaintHandoverForm, ComplaintMoveForm, ComplaintReceiveForm
from .models import Complaint, ComplaintCategory, ComplaintPolicy, ComplaintState, ComplaintStep

MOVE_TEXTS = {
    "invalid_transition": _("This complaint cannot move there now; allowed: %(allowed)s."),
    "complaint_not_open": _("Only an open complaint is handed over."),
    "same_owner": _("The complaint already belongs to that person."),
}


def _message(exc: DomainError) -> str:
    return ui.transition_message(exc, MOVE_TEXTS, ComplaintState)


@admin.register(ComplaintPolicy)
class ComplaintPolicyAdmin(GuardedHistoryAdmin):
    list_display = ["code", "acknowledge_hours", "reply_hours", "resolve_working_days", "repeat_days"]


class ComplaintStepInline(ReadOnlyInline):
    model = ComplaintStep
    fields = ["at", "action", "from_state", "to_state", "actor_label", "owner_label", "note"]
    readonly_fields = fields
    ordering = ["at", "id"]


@admin.register(Complaint)
class ComplaintAdmin(BranchScopedAdmin, MaskedCustomerMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "customer_col",
        "region",
        "category",
        "channel",
        "state",
        "owner",
        "received_at",
        "reply_due_at",
        "resolve_due_on",
        "escalated",
    ]
    list_filter = ["state", "category", "channel", "escalated", "region"]
    list_select_related = ["customer", "region", "owner"]
    search_fields = ["=customer__msisdn", "^customer__name", "=id"]
    date_hierarchy = "received_at"
    inlines = [ComplaintStepInline]
    actions = ["acknowledge", "reply", "escalate", "resolve", "close", "reopen"]
    readonly_fields = [
        "customer_col",
        "region",
        "tier",
        "channel",
        "category",
        "text",
        "received_at",
        "received_by",
        "owner",
        "state",
        "ack_due_at",
        "reply_due_at",
        "resolve_due_on",
        "acknowledged_at",
        "replied_at",
        "resolved_at",
        "closed_at",
        "escalated",
        "escalated_at",
        "lateness",
        "resolution",
        "compensation_points",
        "billing_refund",
    ]
    fields = readonly_fields
    change_form_template = "admin/service/complaint/change_form.html"
    change_list_template = "admin/service/complaint/change_list.html"

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path("receive/", self.admin_site.admin_view(self.receive_view), name="service_complaint_receive"),
            path("report/", self.admin_site.admin_view(self.report_view), name="service_complaint_report"),
            path("<int:complaint_id>/move/", self.admin_site.admin_view(self.move_view), name="service_complaint_move"),
            path(
                "<int:complaint_id>/handover/",
                self.admin_site.admin_view(self.handover_view),
                name="service_complaint_handover",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:service_complaint_receive"))

    # --- intake ---------------------------------------------------------------------------------------------

    def receive_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ComplaintReceiveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                customer = manager_selectors.scoped_customer(msisdn=data["msisdn"], user=request.user)
                complaint = services.complaint_receive(
                    customer=customer,
                    channel=data["channel"],
                    category=data["category"],
                    text=data["text"],
                    received_at=data["received_at"] or timezone.now(),
                    actor=request.user,
                )
            except DomainError as exc:
                form.add_error(None, _message(exc))
            except Http404:
                form.add_error("msisdn", _("No customer with this number in your branches."))
            else:
                self.message_user(request, _("Complaint #%(id)d received.") % {"id": complaint.pk}, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:service_complaint_change", args=[complaint.pk]))
        return render(
            request,
            "admin/service/complaint/receive.html",
            {
                **self.admin_site.each_context(request),
                "form": form,
                "opts": self.opts,
                "title": _("Receive a complaint"),
            },
        )

    # --- the change page: move and hand over ---------------------------------------------------------------

    def _scoped(self, request, complaint_id) -> Complaint:
        if not self.has_change_permission(request):
            raise PermissionDenied
        complaint = self.get_queryset(request).filter(pk=complaint_id).first()
        if complaint is None:
            raise Http404
        return complaint

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = dict(extra_context or {})
        complaint = self.get_queryset(request).filter(pk=object_id).first() if str(object_id).isdigit() else None
        if complaint is not None:
            allowed = rules.allowed_transitions(
                complaint.state,
                acknowledged=complaint.acknowledged_at is not None,
                replied=complaint.replied_at is not None,
            )
            move = ComplaintMoveForm()
            move.fields["to"].choices = [(s, ComplaintState(s).label) for s in allowed]
            extra.update(
                {
                    "move_form": move if allowed else None,
                    "handover_form": ComplaintHandoverForm() if complaint.is_open else None,
                    "complaint": complaint,
                }
            )
        return super().change_view(request, object_id, form_url, extra)

    def move_view(self, request, complaint_id: int):
        complaint = self._scoped(request, complaint_id)
        form = ComplaintMoveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            points = data["compensation_points"]
            try:
                services.complaint_transition(
                    complaint=complaint,
                    to=data["to"],
                    note=data["note"].strip(),
                    compensation={"points": points} if points else None,
                    at=timezone.now(),
                    actor=request.user,
                )
            except DomainError as exc:
                self.message_user(request, _message(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("Complaint #%(id)d: %(state)s.")
                    % {"id": complaint.pk, "state": ComplaintState(data["to"]).label},
                    messages.SUCCESS,
                )
        elif request.method == "POST":
            self.message_user(request, " ".join(" ".join(e) for e in form.errors.values()), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:service_complaint_change", args=[complaint.pk]))

    def handover_view(self, request, complaint_id: int):
        complaint = self._scoped(request, complaint_id)
        form = ComplaintHandoverForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.complaint_handover(
                    complaint=complaint,
                    owner=services.owner_by_username(form.cleaned_data["owner"].strip()),
                    note=form.cleaned_data["note"],
                    at=timezone.now(),
                    actor=request.user,
                )
            except DomainError as exc:
                self.message_user(request, _message(exc), messages.ERROR)
            else:
                self.message_user(request, _("Complaint #%(id)d handed over.") % {"id": complaint.pk}, messages.SUCCESS)
        elif request.method == "POST":
            self.message_user(request, " ".join(" ".join(e) for e in form.errors.values()), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:service_complaint_change", args=[complaint.pk]))

    # --- transitions as list actions ------------------------------------------------------------------------

    _move = mover(
        services.complaint_transition,
        "complaint",
        states=ComplaintState,
        done=_("%(n)d complaints moved to “%(state)s”."),
        refused=_message,
    )

    acknowledge = move_action(ComplaintState.ACKNOWLEDGED, _("Acknowledge the selected complaints"))
    reply = move_action(ComplaintState.REPLIED, _("Mark the selected complaints replied to"))
    escalate = move_action(ComplaintState.ESCALATED, _("Escalate the selected complaints to the supervisor"))
    resolve = move_action(ComplaintState.RESOLVED, _("Resolve the selected complaints (no compensation)"))
    close = move_action(ComplaintState.CLOSED, _("Close the selected complaints"))
    reopen = move_action(ComplaintState.REOPENED, _("Reopen the selected complaints (compensation reversed)"))

    # --- the report -----------------------------------------------------------------------------------------

    def report_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        now = timezone.now()
        filters = YearlyReport.from_request(request, today=timezone.localdate(now))
        report = selectors.complaint_report(year=filters.year, at=now, region_ids=filters.region_ids)
        if request.GET.get("format") == "csv":
            return _csv(filters.csv_name("complaints"), report)
        context = filters.context(
            self,
            request,
            _("Complaints report"),
            report=report,
            categories=[(code, str(label), n) for code, label, n in report["categories"]],
            tiers=[(ui.label(t) if t else _("not a member"), n) for t, n in report["tiers"]],
            volume=category_chart(report),
            rates=rates_chart(selectors.monthly_rates(report["rows"])),
        )
        return TemplateResponse(request, "admin/service/complaint_report.html", context)


def category_chart(report: dict) -> dict:
    """Complaints received per month, stacked by category."""
    columns = [
        {
            "month": m - 1,
            "key": f"{report['year']}-{m:02d}",
            "segments": [
                (report["by_month_category"].get((m, c.value), 0), ui.series_css(c.value, j), str(c.label))
                for j, c in enumerate(ComplaintCategory)
            ],
        }
        for m in range(1, 13)
    ]
    legend = [(str(c.label), ui.series_css(c.value, j)) for j, c in enumerate(ComplaintCategory)]
    return ui.column_chart(columns, legend=legend)


def rates_chart(rates: dict[int, dict]) -> dict:
    """On-time shares per month: acknowledged, replied, resolved."""
    series = [
        ("ack_rate", _("acknowledged")),
        ("reply_rate", _("replied to")),
        ("resolve_rate", _("resolved")),
    ]
    lines = [
        {
            "code": code,
            "label": str(label),
            "points": [
                (
                    m - 1,
                    Decimal(str(rates[m][code])) if m in rates and rates[m][code] is not None else None,
                    {"value": rates.get(m, {}).get(code)},
                )
                for m in range(1, 13)
            ],
        }
        for code, label in series
    ]
    return ui.line_chart(lines, targets={Decimal(100): [str(_("all on time"))]})


def _csv(filename: str, report: dict) -> HttpResponse:
    response, writer = csv_download(filename)
    keys = [
        "received",
        "members",
        "per_1000",
        "ack_due",
        "ack_on_time",
        "ack_rate",
        "reply_due",
        "reply_on_time",
        "reply_rate",
        "resolve_due",
        "resolve_on_time",
        "resolve_rate",
        "repeat",
        "escalated",
    ]
    writer.writerow(["month", "region", "region_name", *keys])
    for row in report["rows"]:
        writer.writerow(
            [
                f"{row['month']:%Y-%m}",
                row["region"].code,
                row["region"].name,
                *("" if row[k] is None else row[k] for k in keys),
            ]
        )
    writer.writerow([])
    writer.writerow(["category", "complaints"])
    for code, _label, n in report["categories"]:
        writer.writerow([code, n])
    return response


# The activities' admin (DOMAIN 10) registers itself with this import.
from .activities import admin as activities_admin  # noqa: E402, F401, I001
from . import survey_admin  # noqa: E402, F401  the satisfaction admin and its report
from . import gift_admin  # noqa: E402, F401  (the gifts' admin registers itself)
