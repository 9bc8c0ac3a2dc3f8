from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from core.errors import DomainError
from core.masking import mask_msisdn

from . import services
from .models import (
    AccountManager,
    Assignment,
    CalendarYear,
    ContactLog,
    ContactRule,
    MembershipCard,
    Notification,
    Obligation,
    ServicePlan,
    WorkingDayOverride,
    WorkLog,
)


class MaskedCustomerMixin:
    @admin.display(description=_("customer"))
    def customer_col(self, obj):
        return f"{obj.customer.name} {mask_msisdn(obj.customer.msisdn)}"


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccountManager)
class AccountManagerAdmin(SimpleHistoryAdmin):
    list_display = ["employee_no", "name", "region", "capacity", "active", "supervisor"]
    list_filter = ["active", "region"]
    search_fields = ["employee_no", "name", "user__username"]
    raw_id_fields = ["user", "supervisor"]
    list_select_related = ["region", "supervisor"]


class ReassignForm(forms.Form):
    manager = forms.ModelChoiceField(queryset=AccountManager.objects.filter(active=True), label=_("new manager"))


@admin.register(Assignment)
class AssignmentAdmin(MaskedCustomerMixin, SimpleHistoryAdmin):
    list_display = ["customer_col", "manager", "started_on", "ended_on", "reason", "end_reason"]
    list_filter = ["reason", "end_reason", ("ended_on", admin.EmptyFieldListFilter), "manager__region"]
    search_fields = ["=customer__msisdn", "manager__employee_no", "manager__name"]
    list_select_related = ["customer", "manager"]
    raw_id_fields = ["customer", "manager"]
    show_full_result_count = False
    actions = ["reassign"]

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Reassign the selected customers to another manager"))
    def reassign(self, request, queryset):
        from django.shortcuts import render

        if "apply" in request.POST:
            form = ReassignForm(request.POST)
            if form.is_valid():
                ids = list(queryset.filter(ended_on__isnull=True).values_list("customer_id", flat=True))
                try:
                    moved = services.customers_reassign(
                        customer_ids=ids,
                        manager=form.cleaned_data["manager"],
                        on=timezone.localdate(),
                        actor=request.user,
                    )
                except DomainError as exc:
                    self.message_user(request, exc.message, messages.ERROR)
                    return None
                self.message_user(request, _("%(n)d customers moved, with their open obligations.") % {"n": moved})
                return None
        else:
            form = ReassignForm()
        return render(
            request,
            "admin/managers/reassign.html",
            {**self.admin_site.each_context(request), "form": form, "assignments": queryset[:200],
             "count": queryset.count(), "title": _("Reassign customers"), "opts": self.model._meta},
        )  # fmt: skip


@admin.register(WorkingDayOverride)
class WorkingDayOverrideAdmin(SimpleHistoryAdmin):
    list_display = ["date", "is_working", "name"]
    list_filter = ["is_working"]
    date_hierarchy = "date"


@admin.register(CalendarYear)
class CalendarYearAdmin(SimpleHistoryAdmin):
    list_display = ["year", "loaded_by", "loaded_at"]
    exclude = ["loaded_by"]

    def save_model(self, request, obj, form, change):
        obj.loaded_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(ContactRule)
class ContactRuleAdmin(SimpleHistoryAdmin):
    list_display = ["tier", "kind", "cadence", "lead_days", "active"]
    list_filter = ["tier", "kind", "active"]


@admin.register(Obligation)
class ObligationAdmin(MaskedCustomerMixin, ReadOnlyAdmin):
    list_display = ["customer_col", "manager", "kind", "period", "due_on", "status", "done_at"]
    list_filter = ["status", "kind", "manager__region"]
    search_fields = ["=customer__msisdn", "manager__employee_no"]
    list_select_related = ["customer", "manager"]
    date_hierarchy = "due_on"
    show_full_result_count = False


@admin.register(ContactLog)
class ContactLogAdmin(MaskedCustomerMixin, ReadOnlyAdmin):
    list_display = ["customer_col", "manager", "channel", "outcome", "occurred_at", "source"]
    list_filter = ["channel", "outcome", "source"]
    search_fields = ["=customer__msisdn", "manager__employee_no"]
    list_select_related = ["customer", "manager"]
    show_full_result_count = False


@admin.register(MembershipCard)
class MembershipCardAdmin(MaskedCustomerMixin, admin.ModelAdmin):
    list_display = ["customer_col", "tier", "state", "delivery_mode", "reissue", "sent_on", "arrived_on", "received_on"]
    list_filter = ["state", "delivery_mode", "reissue", "tier"]
    search_fields = ["=customer__msisdn"]
    list_select_related = ["customer", "tier"]
    raw_id_fields = ["customer"]
    readonly_fields = ["state", "sent_on", "arrived_on", "mailed_on", "received_on"]


@admin.register(ServicePlan)
class ServicePlanAdmin(admin.ModelAdmin):
    list_display = ["manager", "scope", "period_start", "status", "reviewed_by", "reviewed_at"]
    list_filter = ["scope", "status"]
    list_select_related = ["manager", "reviewed_by"]


@admin.register(WorkLog)
class WorkLogAdmin(admin.ModelAdmin):
    list_display = ["manager", "date", "reviewed_by", "reviewed_at"]
    list_filter = ["manager__region"]
    date_hierarchy = "date"
    list_select_related = ["manager", "reviewed_by"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["user", "kind", "day", "created_at", "read_at"]
    list_filter = ["kind"]
